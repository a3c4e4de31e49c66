"""The values every LLM backend speaks: a request, a reply and the usage they add up to.

A module of their own, so the backends (remote, local, the Ray pool) and the client that caches and accounts
for them import these without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
