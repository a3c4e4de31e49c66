"""Log-likelihood of continuations given a context, batched: the standard multiple-choice scoring.

Pairs are tokenised as lm-evaluation-harness does (context and context+continuation encoded separately, a
trailing space moved into the continuation), so scores are comparable with its numbers. When every option
of a context is one token, the context is run once and all options are read off its last position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class Scored:
    logprob: float  # sum over the continuation's tokens
    tokens: int
    greedy: bool  # every continuation token was the model's top choice


class LoglikScorer:
    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 8, max_length: int | None = None):
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        limit = getattr(model.config, "max_position_embeddings", None) or 2048
        self.max_length = min(max_length or limit, limit)
        self.device = next(model.parameters()).device

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        whole, ctx = self.encode(context + continuation), self.encode(context)
        return ctx, whole[len(ctx):]

    def score(self, pairs: list[tuple[str, str]]) -> list[Scored]:
        """One result per (context, continuation) pair, in order."""
        encoded = [self.encode_pair(c, x) for c, x in pairs]
        # one sequence per context whose continuations are all a single token; else one per pair
        by_context: dict[tuple[int, ...], list[int]] = {}
        for i, (ctx, _) in enumerate(encoded):
            by_context.setdefault(tuple(ctx), []).append(i)
        jobs: list[tuple[list[int], list[tuple[int, list[int]]]]] = []  # (tokens, [(pair, continuation)])
        for ctx, idx in by_context.items():
            if all(len(encoded[i][1]) == 1 for i in idx):
                jobs.append((list(ctx), [(i, encoded[i][1]) for i in idx]))
            else:
                jobs += [((list(ctx) + encoded[i][1])[:-1], [(i, encoded[i][1])]) for i in idx]
        out: list[Scored | None] = [None] * len(pairs)
        jobs.sort(key=lambda j: -len(j[0]))  # similar lengths share a batch: little padding
        for start in range(0, len(jobs), self.batch_size):
            self._run(jobs[start: start + self.batch_size], out)
        return out  # type: ignore[return-value]

    @torch.no_grad()
    def _run(self, jobs: list[tuple[list[int], list[tuple[int, list[int]]]]], out: list[Scored | None]) -> None:
        # left padding puts every row's last positions at the end, so the LM head runs only on the last
        # `keep` positions (the ones that predict continuations), not on every prompt token
        seqs = [tokens[-self.max_length:] for tokens, _ in jobs]  # over-long: the start is dropped
        width = max(len(s) for s in seqs)
        keep = max(len(cont) for _, targets in jobs for _, cont in targets)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        positions = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, s in enumerate(seqs):
            ids[row, width - len(s):] = torch.tensor(s)
            mask[row, width - len(s):] = 1
            positions[row, width - len(s):] = torch.arange(len(s))
        logits = self._logits(ids.to(self.device), mask.to(self.device), positions.to(self.device), keep)
        for row, (_, targets) in enumerate(jobs):
            for pair, cont in targets:
                n = len(cont)
                # the logits that predict the continuation: this row's last n positions (for a single-token
                # option read off its context, the context's last position)
                rows = logits[row, keep - n:].float().log_softmax(-1)
                want = torch.tensor(cont, device=rows.device)
                logprob = rows.gather(1, want[:, None]).sum().item()
                out[pair] = Scored(logprob, n, bool((rows.argmax(-1) == want).all()))

    def _logits(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, keep: int) -> torch.Tensor:
        try:
            return self.model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep).logits
        except TypeError:  # a model without logits_to_keep: every position, then the last ones
            return self.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -keep:]
