"""LLM requests on a Ray cluster: a pool of async actors that share one rate limit.

`LLMPool` is a BackendFactory: an LLM given one sends its remote endpoint's requests through the actors,
while its cache and accounts stay in the driver, so a request is answered from the cache or sent once,
however many actors there are. The actors get small batches, and each batch's replies are passed on as it
returns. Every actor's requests wait on one limiter actor, so requests and tokens per minute hold for the
whole pool; each actor keeps its share of the endpoint's concurrency. A local endpoint's model runs in the
driver, as without Ray.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from ..errors import MedcurateError
from .backends import default_backends
from .config import Endpoint
from .limits import RateLimiter
from .remote import Sender
from .types import Backend, Reply, Request


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
    """The pool's limiter actor, seen by a Sender as its limiter."""

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
        self.sender: Sender | None = None

    async def complete(self, requests: list[Request]) -> list[Reply]:
        if self.sender is None:  # made here, on the actor's event loop, which its client is bound to
            self.sender = Sender(self.endpoint, rate=RemoteRate(self.rate))
        return list(await asyncio.gather(*(self.sender.send(r) for r in requests)))


class PoolBackend:
    """The pool's actors as one Backend: each takes a batch, and a new one when it answers, until the requests
    are sent or `stop()` says the budget is spent."""

    def __init__(self, actors: list[Any], batch: int):
        self.actors, self.batch = actors, batch

    def complete(self, requests: list[Request], on_reply: Callable[[int, Reply], None],
                 stop: Callable[[], bool]) -> None:
        import ray

        queue = list(range(len(requests)))
        running: dict[Any, tuple[Any, list[int]]] = {}

        def submit(actor: Any) -> None:
            batch = queue[:self.batch]
            del queue[:self.batch]
            running[actor.complete.remote([requests[i] for i in batch])] = (actor, batch)

        for actor in self.actors:
            if queue:
                submit(actor)
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            actor, batch = running.pop(done[0])
            for i, reply in zip(batch, ray.get(done[0])):
                on_reply(i, reply)
            if queue and not stop():
                submit(actor)

    def close(self) -> None:
        """Nothing to release: the actors are the pool's, kept for the step's next LLM."""


class LLMPool:
    """Made by the Ray executor for an LLM step and given to its LLM as the BackendFactory; the actors start
    on the first remote endpoint asked for, and serve that endpoint until `close()`."""

    def __init__(self, actors: int):
        self.size = actors
        self.endpoint: Endpoint | None = None
        self.rate: Any = None
        self.actors: list[Any] = []

    def __call__(self, endpoint: Endpoint) -> Backend:
        if not endpoint.base_url:
            return default_backends(endpoint)
        if not self.actors:
            self.start(endpoint)
        elif endpoint != self.endpoint:
            raise MedcurateError(f"an LLM pool serves one endpoint: it was started for {self.endpoint.base_url} "
                                 f"({self.endpoint.model}), and was asked for {endpoint.base_url} ({endpoint.model})")
        return PoolBackend(self.actors, max(1, math.ceil(endpoint.concurrency / self.size)))

    def start(self, endpoint: Endpoint) -> None:
        import ray

        share = max(1, math.ceil(endpoint.concurrency / self.size))
        mine = endpoint.model_copy(update={"concurrency": share})
        self.endpoint = endpoint
        self.rate = ray.remote(num_cpus=0)(SharedRate).remote(endpoint.rpm, endpoint.tpm)
        worker = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)(LLMWorker)
        self.actors = [worker.remote(mine, self.rate) for _ in range(self.size)]

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
        self.actors, self.rate, self.endpoint = [], None, None
