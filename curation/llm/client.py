"""The LLM engine: cached, budgeted and accounted chat completions, answered in the order they were asked.

`LLM.complete(requests)` looks every request up in the cache and hands the rest to its endpoint's backend
(a remote OpenAI-compatible endpoint, the embedded local model, or a Ray pool: see `types.Backend`), writes
each reply to the cache as it arrives, and counts requests, cache hits, retries, tokens and cost. A request
that still fails after its retries comes back with `error` set, so the calling step can reject its record
with the reason; nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import MedcurateError
from .backends import default_backends
from .cache import ReplyCache, request_key
from .config import Endpoint
from .limits import estimate_tokens
from .types import Backend, BackendFactory, Reply, Request, Usage

__all__ = ["LLM", "Budget", "BudgetExceeded", "Request", "Reply", "Usage", "default_backends", "estimate_tokens"]


class BudgetExceeded(MedcurateError):
    pass


@dataclass
class Budget:
    max_tokens: int | None = None
    max_cost: float | None = None

    def reached(self, usage: Usage) -> bool:
        spent = usage.prompt_tokens + usage.completion_tokens
        return bool((self.max_tokens and spent >= self.max_tokens) or (self.max_cost and usage.cost >= self.max_cost))


class LLM:
    """One endpoint, one cache, one usage account: what an LLM step holds while it runs.

    `backends` makes the backend for the endpoint (`default_backends` when None; a Ray executor passes its
    actor pool); it is made when a request first misses the cache, so a run answered from the cache loads no
    model and opens no connection."""

    def __init__(self, endpoint: Endpoint, cache_path: Path | None = None, budget: Budget | None = None,
                 dry_run: bool = False, backends: BackendFactory | None = None):
        self.endpoint = endpoint
        self.backends: BackendFactory = backends if backends is not None else default_backends
        self.cache = ReplyCache(cache_path)
        self.usage = Usage()
        self.budget = budget or Budget()
        self.dry_run = dry_run
        self.estimate = Usage()  # dry run: what the uncached requests would cost at most
        self._backend: Backend | None = None

    def key(self, req: Request) -> str:
        return request_key(self.endpoint.model, req.template_hash, req.messages, req.params)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self.backends(self.endpoint)
        return self._backend

    def complete(self, requests: list[Request]) -> list[Reply]:
        """Replies in the order of `requests`; raises BudgetExceeded (after caching what finished) at the budget."""
        replies: list[Reply | None] = [None] * len(requests)
        todo = []
        for i, req in enumerate(requests):
            hit = self.cache.get(self.key(req))
            if hit is not None:
                replies[i] = Reply(hit["text"], hit["prompt_tokens"], hit["completion_tokens"], cached=True,
                                   top_logprobs=hit.get("top_logprobs"))
                self.usage.cache_hits += 1
            else:
                todo.append(i)
        if todo and self.dry_run:
            for i in todo:
                replies[i] = self._estimate(requests[i])
            return replies  # type: ignore[return-value]
        if todo:
            if self.budget.reached(self.usage):
                raise BudgetExceeded(self._budget_message(len(todo)))

            def on_reply(j: int, reply: Reply) -> None:
                replies[todo[j]] = reply
                self._account(requests[todo[j]], reply)

            self.backend.complete([requests[i] for i in todo], on_reply, lambda: self.budget.reached(self.usage))
        unfinished = sum(r is None for r in replies)
        if unfinished:
            raise BudgetExceeded(self._budget_message(unfinished))
        return replies  # type: ignore[return-value]

    def _estimate(self, req: Request) -> Reply:
        """Dry run: count what the request would cost at most, and send nothing."""
        prompt = sum(estimate_tokens(m["content"]) for m in req.messages)
        completion = int(req.params.get("max_tokens", 256))
        self.estimate.requests += 1
        self.estimate.prompt_tokens += prompt
        self.estimate.completion_tokens += completion
        self.estimate.cost += self.endpoint.prices.cost(prompt, completion)
        return Reply(None, error="dry run")

    def _account(self, req: Request, reply: Reply) -> None:
        """Count a backend's reply and cache it when it is one."""
        self.usage.retries += reply.retries
        if reply.error is not None:
            self.usage.failed += 1
            return
        self.usage.requests += 1
        self.usage.prompt_tokens += reply.prompt_tokens
        self.usage.completion_tokens += reply.completion_tokens
        self.usage.cost += self.endpoint.prices.cost(reply.prompt_tokens, reply.completion_tokens)
        self.cache.put(self.key(req), {"text": reply.text, "prompt_tokens": reply.prompt_tokens,
                                       "completion_tokens": reply.completion_tokens,
                                       "top_logprobs": reply.top_logprobs})

    def _budget_message(self, left: int) -> str:
        return (f"LLM budget reached ({self.usage.prompt_tokens + self.usage.completion_tokens:,} tokens, "
                f"cost {self.usage.cost:.4f}) with {left:,} requests left; finished replies are cached, so raising "
                f"the budget and running again resumes where this stopped")

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        self.cache.close()
