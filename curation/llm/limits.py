"""Pacing for remote endpoints: requests and tokens per minute, and a concurrency limit that can adapt.

The adaptive limit is additive-increase / multiplicative-decrease, as in TCP: a 429 halves the number of
requests in flight, and each run of successes as long as the limit adds one back, up to the configured
concurrency. Server hints (`Retry-After`, `x-ratelimit-*`) pause every request, not only the one told.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from typing import Protocol

from .types import Request

DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | None) -> float | None:
    """Seconds from '1.5', '20ms', '6m0s' (the forms of Retry-After and x-ratelimit-reset-*)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = DURATION.findall(value)
    return sum(float(n) * UNIT[u] for n, u in parts) if parts else None


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate for pacing and dry runs: ~4 characters per token, one per CJK character."""
    cjk = sum(1 for ch in text if "\u3040" <= ch <= "\u9fff")
    return max(1, cjk + (len(text) - cjk) // 4)


def request_tokens(req: Request) -> int:
    """What a request may spend at most: its prompt's estimate plus the reply's token limit."""
    return sum(estimate_tokens(m["content"]) for m in req.messages) + int(req.params.get("max_tokens", 256))


class AdaptiveLimit:
    """A semaphore whose size can shrink and grow while requests are in flight."""

    def __init__(self, limit: int, adaptive: bool):
        self.max = limit
        self.limit = limit
        self.adaptive = adaptive
        self.in_flight = 0
        self.successes = 0
        self.cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self.cond:
            await self.cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    async def release(self, throttled: bool = False) -> None:
        async with self.cond:
            self.in_flight -= 1
            if self.adaptive:
                if throttled:
                    self.limit = max(1, self.limit // 2)
                    self.successes = 0
                else:
                    self.successes += 1
                    if self.successes >= self.limit and self.limit < self.max:
                        self.limit += 1
                        self.successes = 0
            self.cond.notify_all()


class Pacer(Protocol):
    """What a sender waits on before each request: a RateLimiter here, or a Ray pool's shared one."""

    async def wait(self, tokens: int) -> None: ...

    def pause(self, seconds: float) -> None: ...


class RateLimiter:
    """Requests per minute (evenly spaced starts) and tokens per minute (a sliding one-minute window)."""

    def __init__(self, rpm: int | None, tpm: int | None):
        self.interval = 60.0 / rpm if rpm else 0.0
        self.tpm = tpm
        self.next_start = 0.0
        self.pause_until = 0.0
        self.tokens: deque[tuple[float, int]] = deque()
        self.lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self.pause_until = max(self.pause_until, time.monotonic() + seconds)

    async def wait(self, tokens: int) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                delay = max(self.pause_until - now, self.next_start - now, 0.0)
                if self.tpm:
                    while self.tokens and self.tokens[0][0] <= now - 60:
                        self.tokens.popleft()
                    used = sum(n for _, n in self.tokens)
                    if used and used + tokens > self.tpm:
                        delay = max(delay, self.tokens[0][0] + 60 - now)
                if delay <= 0:
                    break
                await asyncio.sleep(delay)
            self.next_start = time.monotonic() + self.interval
            if self.tpm:
                self.tokens.append((time.monotonic(), tokens))
