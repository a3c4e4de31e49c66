"""The values every LLM backend speaks (a request, a reply and the usage they add up to) and the backend
protocol itself.

A module of their own, so the backends (remote, local, the Ray pool) and the client that caches and accounts
for them import these without importing each other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .config import Endpoint


@dataclass
class Request:
    messages: list[dict[str, str]]
    params: dict[str, Any]
    template_hash: str = ""


@dataclass
class Reply:
    text: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    error: str | None = None
    top_logprobs: dict[str, float] | None = None  # first token's most likely alternatives, when asked for
    retries: int = 0  # attempts the backend made before this reply (not cached: a cache hit needed none)


@dataclass
class Usage:
    requests: int = 0
    cache_hits: int = 0
    failed: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "cache_hits": self.cache_hits, "failed": self.failed,
                "retries": self.retries, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cost": round(self.cost, 6)}


class Backend(Protocol):
    """Something that answers requests: a remote endpoint, the embedded model, a pool of Ray actors.

    It knows nothing of caches, budgets or accounting: it hands each reply to `on_reply(i, reply)` (i indexes
    `requests`) as soon as it has it, so the caller can cache and count it at once, and asks `stop()` before
    sending more, so a budget stops it after the replies in flight."""

    def complete(self, requests: list[Request], on_reply: Callable[[int, Reply], None],
                 stop: Callable[[], bool]) -> None: ...

    def close(self) -> None: ...


BackendFactory = Callable[[Endpoint], Backend]  # what an LLM asks for the backend of its endpoint
