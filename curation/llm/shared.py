"""LLM requests on a Ray cluster: a pool of async actors that share one rate limit.

The driver answers what it can from the run's request cache and hands only the rest to the actors, in
small batches, writing each batch's replies to the cache as it returns; a request is sent once however
many actors there are. Every actor's requests wait on one limiter actor, so requests and tokens per minute
hold for the whole pool. Each actor keeps its share of the endpoint's concurrency.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING, Any

from .client import RemoteBackend
from .config import Endpoint
from .limits import RateLimiter
from .types import Reply, Request, Usage

if TYPE_CHECKING:
    from .client import LLM


class SharedRate:
    """The one limiter of a pool (an async Ray actor): a grant per request, paced as RateLimiter paces."""

    def __init__(self, rpm: int | None, tpm: int | None):
        self.rate = RateLimiter(rpm, tpm)
        self.grants: list[float] = []

    async def wait(self, tokens: int) -> None:
        await self.rate.wait(tokens)
        self.grants.append(time.time())

    def pause(self, seconds: float) -> None:
        self.rate.pause(seconds)

    def granted(self) -> list[float]:
        return list(self.grants)


class RemoteRate:
    """What RemoteBackend sees as its rate limiter: the pool's limiter actor."""

    def __init__(self, handle: Any):
        self.handle = handle

    async def wait(self, tokens: int) -> None:
        await self.handle.wait.remote(tokens)

    def pause(self, seconds: float) -> None:
        self.handle.pause.remote(seconds)


class LLMWorker:
    """An async actor sending requests to one endpoint; the API key is read from its environment."""

    def __init__(self, endpoint: Endpoint, rate: Any):
        self.endpoint, self.rate = endpoint, rate
        self.backend: RemoteBackend | None = None

    async def complete(self, requests: list[Request]) -> tuple[list[Reply], int]:
        if self.backend is None:
            self.backend = RemoteBackend(self.endpoint)
            self.backend.rate = RemoteRate(self.rate)  # type: ignore[assignment]
        usage = Usage()
        replies = await asyncio.gather(*(self.backend.complete(r, usage) for r in requests))
        return list(replies), usage.retries


class LLMPool:
    """Created by the Ray executor for an LLM step; started on the step's first remote request."""

    def __init__(self, actors: int):
        self.size = actors
        self.rate: Any = None
        self.actors: list[Any] = []

    def start(self, endpoint: Endpoint) -> None:
        import ray

        share = max(1, math.ceil(endpoint.concurrency / self.size))
        mine = endpoint.model_copy(update={"concurrency": share})
        self.rate = ray.remote(num_cpus=0)(SharedRate).remote(endpoint.rpm, endpoint.tpm)
        worker = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)(LLMWorker)
        self.actors = [worker.remote(mine, self.rate) for _ in range(self.size)]

    def complete(self, llm: LLM, requests: list[Request], todo: list[int], replies: list[Reply | None]) -> None:
        """Replies for `todo`, accounted (and cached) by `llm` batch by batch; stops early at the budget."""
        import ray

        if not self.actors:
            self.start(llm.endpoint)
        size = max(1, math.ceil(llm.endpoint.concurrency / self.size))
        queue = list(todo)
        running: dict[Any, tuple[Any, list[int]]] = {}

        def submit(actor: Any) -> None:
            batch = queue[:size]
            del queue[:size]
            running[actor.complete.remote([requests[i] for i in batch])] = (actor, batch)

        for actor in self.actors:
            if queue:
                submit(actor)
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            actor, batch = running.pop(done[0])
            answers, retries = ray.get(done[0])
            llm.usage.retries += retries
            for i, reply in zip(batch, answers):
                llm.record_reply(i, requests[i], reply, replies)
            if queue and not llm.budget.reached(llm.usage):
                submit(actor)

    def granted(self) -> list[float]:
        """When the limiter let each request go (wall-clock seconds), for checks and reports."""
        import ray

        return ray.get(self.rate.granted.remote()) if self.rate is not None else []

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
        if self.rate is not None:
            ray.kill(self.rate)
        self.actors, self.rate = [], None
