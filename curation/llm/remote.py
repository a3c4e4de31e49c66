"""The remote backend: any OpenAI-compatible endpoint, through the `openai` package.

Retries are ours, not the package's, so they can read the server's headers: a 429's `Retry-After` (or an
`x-ratelimit-reset-*`) pauses every request, other failures back off exponentially with jitter. A `Sender`
sends one request with its retries; `RemoteBackend` keeps `endpoint.concurrency` of them in flight. The Ray
pool's actors use `Sender` too, with the pool's shared limiter given to it.

`openai` is imported where a request is made, not with this module: it takes most of a second, and every CLI
command and every worker process imports the step registry (this module included) whether or not an LLM
step runs.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from .config import Endpoint
from .limits import AdaptiveLimit, Pacer, RateLimiter, parse_duration, request_tokens
from .types import Reply, Request

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


def first_top_logprobs(choice: Any, req: Request) -> dict[str, float] | None:
    """The first generated token's alternatives ({token: logprob}) when the request asked for logprobs; None
    when it did not or the server sent none (so the caller can tell a server without logprobs from a grade)."""
    if not req.params.get("logprobs"):
        return None
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    top: dict[str, float] = {}
    for alt in content[0].top_logprobs or []:
        top[alt.token] = max(alt.logprob, top.get(alt.token, float("-inf")))
    return top or None


class Sender:
    """Sends requests to one endpoint with retries, paced by `rate` (this sender's own limiter when None)."""

    def __init__(self, endpoint: Endpoint, rate: Pacer | None = None):
        import openai

        self.endpoint = endpoint
        self.client = openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key(), max_retries=0,
                                         timeout=endpoint.timeout)
        self.limit = AdaptiveLimit(endpoint.concurrency, endpoint.adaptive)
        self.rate: Pacer = rate if rate is not None else RateLimiter(endpoint.rpm, endpoint.tpm)

    async def _once(self, req: Request) -> Reply:
        raw = await self.client.chat.completions.with_raw_response.create(
            model=self.endpoint.model, messages=req.messages, **req.params)
        self._note_headers(raw.headers)
        completion = raw.parse()
        if isinstance(completion, str) or not getattr(completion, "choices", None):
            raise ValueError("malformed reply (no choices)")
        choice = completion.choices[0]
        usage = completion.usage
        return Reply(choice.message.content or "", usage.prompt_tokens if usage else 0,
                     usage.completion_tokens if usage else 0, top_logprobs=first_top_logprobs(choice, req))

    def _note_headers(self, headers: Any) -> None:
        """Pause everyone when the server says the window is used up."""
        for kind in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{kind}")
            if remaining is not None and remaining.strip() == "0":
                wait = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
                if wait:
                    self.rate.pause(wait)

    def _delay(self, attempt: int, headers: Any | None) -> float:
        hinted = None
        if headers is not None:
            hinted = parse_duration(headers.get("retry-after")) or parse_duration(
                headers.get("x-ratelimit-reset-requests")) or parse_duration(headers.get("x-ratelimit-reset-tokens"))
        if hinted is not None:
            return min(hinted, self.endpoint.max_backoff)
        base = min(self.endpoint.backoff * 2 ** attempt, self.endpoint.max_backoff)
        return base * (0.5 + random.random())  # full jitter around the exponential step

    async def send(self, req: Request) -> Reply:
        """The reply, or one with `error` set once the retries are spent; `retries` says how many were made."""
        import openai

        last = "unknown error"
        for attempt in range(self.endpoint.max_retries + 1):
            await self.rate.wait(request_tokens(req))
            await self.limit.acquire()
            throttled, headers = False, None
            try:
                reply = await self._once(req)
                reply.retries = attempt
                return reply
            except openai.APIStatusError as e:
                throttled = e.status_code == 429
                headers = e.response.headers
                last = f"HTTP {e.status_code}"
                if e.status_code not in RETRYABLE_STATUS:
                    return Reply(None, error=f"request refused ({last})", retries=attempt)
                if throttled and (wait := self._delay(attempt, headers)):
                    self.rate.pause(wait)
            except openai.APITimeoutError:
                last = "timeout"
            except openai.APIConnectionError:
                last = "connection error"
            except (ValueError, openai.APIResponseValidationError) as e:
                last = f"malformed reply ({type(e).__name__})"
            finally:
                await self.limit.release(throttled)
            if attempt < self.endpoint.max_retries:
                await asyncio.sleep(self._delay(attempt, headers))
        return Reply(None, error=f"failed after {self.endpoint.max_retries + 1} attempts ({last})",
                     retries=self.endpoint.max_retries)

    async def close(self) -> None:
        await self.client.close()


class RemoteBackend:
    """`endpoint.concurrency` workers take the requests in order; each call runs on an event loop of its own,
    with a fresh client and limiter (an asyncio client cannot outlive its loop)."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint

    def complete(self, requests: list[Request], on_reply: Callable[[int, Reply], None],
                 stop: Callable[[], bool]) -> None:
        asyncio.run(self._complete(requests, on_reply, stop))

    async def _complete(self, requests: list[Request], on_reply: Callable[[int, Reply], None],
                        stop: Callable[[], bool]) -> None:
        sender = Sender(self.endpoint)
        queue = list(reversed(range(len(requests))))

        async def worker() -> None:
            while queue and not stop():
                i = queue.pop()
                on_reply(i, await sender.send(requests[i]))

        try:
            await asyncio.gather(*(worker() for _ in range(self.endpoint.concurrency)))
        finally:
            await sender.close()

    def close(self) -> None:
        """Nothing to release: each call closes its own client."""
