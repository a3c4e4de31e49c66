"""The LLM engine: cached, paced, retried chat completions, answered in the order they were asked.

`LLM.complete(requests)` looks every request up in the cache, sends the rest to the backend (a remote
OpenAI-compatible endpoint, or the embedded local model), writes each reply to the cache as it arrives,
and counts requests, cache hits, tokens and cost. A request that still fails after its retries comes back
with `error` set, so the calling step can reject its record with the reason; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai

from ..errors import MedcurateError
from .cache import ReplyCache, request_key
from .config import Endpoint
from .limits import AdaptiveLimit, RateLimiter, parse_duration
from .types import Reply, Request, Usage

if TYPE_CHECKING:
    from .shared import LLMPool


class BudgetExceeded(MedcurateError):
    pass


@dataclass
class Budget:
    max_tokens: int | None = None
    max_cost: float | None = None

    def reached(self, usage: Usage) -> bool:
        spent = usage.prompt_tokens + usage.completion_tokens
        return bool((self.max_tokens and spent >= self.max_tokens) or (self.max_cost and usage.cost >= self.max_cost))


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate for pacing and dry runs: ~4 characters per token, one per CJK character."""
    cjk = sum(1 for ch in text if "\u3040" <= ch <= "\u9fff")
    return max(1, cjk + (len(text) - cjk) // 4)


def request_tokens(req: Request) -> int:
    return sum(estimate_tokens(m["content"]) for m in req.messages) + int(req.params.get("max_tokens", 256))


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


RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


class RemoteBackend:
    """Any OpenAI-compatible endpoint via the `openai` package; retries are ours, so they can read the headers."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self.client = openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key(), max_retries=0,
                                         timeout=endpoint.timeout)
        self.limit = AdaptiveLimit(endpoint.concurrency, endpoint.adaptive)
        self.rate = RateLimiter(endpoint.rpm, endpoint.tpm)

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

    async def complete(self, req: Request, usage: Usage) -> Reply:
        last = "unknown error"
        for attempt in range(self.endpoint.max_retries + 1):
            await self.rate.wait(request_tokens(req))
            await self.limit.acquire()
            throttled, headers = False, None
            try:
                return await self._once(req)
            except openai.APIStatusError as e:
                throttled = e.status_code == 429
                headers = e.response.headers
                last = f"HTTP {e.status_code}"
                if e.status_code not in RETRYABLE_STATUS:
                    return Reply(None, error=f"request refused ({last})")
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
                usage.retries += 1
                await asyncio.sleep(self._delay(attempt, headers))
        return Reply(None, error=f"failed after {self.endpoint.max_retries + 1} attempts ({last})")

    async def close(self) -> None:
        await self.client.close()


class LLM:
    """One endpoint, one cache, one usage account: what an LLM step holds while it runs."""

    def __init__(self, endpoint: Endpoint, cache_path: Path | None = None, budget: Budget | None = None,
                 dry_run: bool = False, pool: LLMPool | None = None):
        self.endpoint = endpoint
        self.pool = pool  # a Ray actor pool sends remote requests when the recipe runs on Ray
        self.cache = ReplyCache(cache_path)
        self.usage = Usage()
        self.budget = budget or Budget()
        self.dry_run = dry_run
        self.estimate = Usage()  # dry run: what the uncached requests would cost at most
        self._local = None

    def key(self, req: Request) -> str:
        return request_key(self.endpoint.model, req.template_hash, req.messages, req.params)

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
                prompt = sum(estimate_tokens(m["content"]) for m in requests[i].messages)
                completion = int(requests[i].params.get("max_tokens", 256))
                self.estimate.requests += 1
                self.estimate.prompt_tokens += prompt
                self.estimate.completion_tokens += completion
                self.estimate.cost += self.endpoint.prices.cost(prompt, completion)
                replies[i] = Reply(None, error="dry run")
            return replies  # type: ignore[return-value]
        if todo:
            if self.budget.reached(self.usage):
                raise BudgetExceeded(self._budget_message(len(todo)))
            if self.endpoint.base_url and self.pool is not None:
                self.pool.complete(self, requests, todo, replies)
            elif self.endpoint.base_url:
                asyncio.run(self._remote(requests, todo, replies))
            else:
                self._local_batches(requests, todo, replies)
        unfinished = sum(r is None for r in replies)
        if unfinished:
            raise BudgetExceeded(self._budget_message(unfinished))
        return replies  # type: ignore[return-value]

    def _budget_message(self, left: int) -> str:
        return (f"LLM budget reached ({self.usage.prompt_tokens + self.usage.completion_tokens:,} tokens, "
                f"cost {self.usage.cost:.4f}) with {left:,} requests left; finished replies are cached, so raising "
                f"the budget and running again resumes where this stopped")

    def record_reply(self, i: int, req: Request, reply: Reply, replies: list[Reply | None]) -> None:
        replies[i] = reply
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

    async def _remote(self, requests: list[Request], todo: list[int], replies: list[Reply | None]) -> None:
        backend = RemoteBackend(self.endpoint)
        queue = list(reversed(todo))

        async def worker() -> None:
            while queue and not self.budget.reached(self.usage):
                i = queue.pop()
                reply = await backend.complete(requests[i], self.usage)
                self.record_reply(i, requests[i], reply, replies)

        try:
            await asyncio.gather(*(worker() for _ in range(self.endpoint.concurrency)))
        finally:
            await backend.close()

    def _local_batches(self, requests: list[Request], todo: list[int], replies: list[Reply | None]) -> None:
        from .local import LocalModel

        if self._local is None:
            self._local = LocalModel.load(self.endpoint.local_model)
        size = self.endpoint.batch_size
        for start in range(0, len(todo), size):
            if self.budget.reached(self.usage):
                return
            batch = todo[start: start + size]
            for i, reply in zip(batch, self._local.generate([requests[i] for i in batch])):
                self.record_reply(i, requests[i], reply, replies)

    def close(self) -> None:
        self.cache.close()
