"""Win rate: a judge compares the aligned model's reply with the stage-before model's, prompt by prompt.

Judges favour whichever answer they read first (position bias), so each prompt's pair is shown in an order
drawn from the seed, and the verdict is mapped back to the models. A tie counts half a win, as in
AlpacaEval and MT-Bench's pairwise mode; a verdict the judge could not give validly is counted apart and
left out of the rate, so a weak judge shows as many invalid verdicts, not as a false 50%.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from curation.llm.client import LLM, Request
from curation.llm.prompts import Prompts, language_name
from curation.llm.structured import ask_json

from .config import WinRateSpec
from .generate import continue_texts

Messages = list[dict[str, str]]
Verdict = Literal["new", "old", "tie"]
# (question, reply shown first, reply shown second, language) -> "first" / "second" / "tie", or None (invalid)
Judge = Callable[[list[tuple[str, str, str, str | None]]], list[str | None]]


class PairVerdict(BaseModel):
    better: Literal["A", "B", "tie"]
    reason: str = ""


@dataclass
class WinRate:
    wins: int = 0
    losses: int = 0
    ties: int = 0
    invalid: int = 0
    shown_first: int = 0  # how often the aligned model's reply was the one the judge read first
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def judged(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def rate(self) -> float | None:
        """Wins plus half the ties, over the valid verdicts; None when the judge gave none."""
        return (self.wins + 0.5 * self.ties) / self.judged if self.judged else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(rate=self.rate, judged=self.judged)
        return out


def last_user_turn(prompt: Messages) -> str:
    return next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")


def compare(prompts: Sequence[Messages], new: Sequence[str], old: Sequence[str], judge: Judge, seed: int,
            langs: Sequence[str | None] | None = None) -> WinRate:
    """The judge's verdicts on (new, old) reply pairs, each pair shown in a seeded random order."""
    rng = np.random.default_rng(seed)
    new_first = rng.random(len(prompts)) < 0.5
    langs = list(langs) if langs is not None else [None] * len(prompts)
    asks = [(last_user_turn(p), a if nf else b, b if nf else a, lang)
            for p, a, b, nf, lang in zip(prompts, new, old, new_first, langs)]
    verdicts = judge(asks) if asks else []
    result = WinRate(shown_first=int(new_first.sum()))
    for (question, _, _, _), a, b, nf, said in zip(asks, new, old, new_first, verdicts):
        who: Verdict | None
        if said == "tie" or (said is not None and a.strip() == b.strip()):
            who = "tie"  # the same reply twice is a tie whatever the judge says
        elif said in ("first", "second"):
            who = "new" if (said == "first") == bool(nf) else "old"
        else:
            who = None
        if who == "new":
            result.wins += 1
        elif who == "old":
            result.losses += 1
        elif who == "tie":
            result.ties += 1
        else:
            result.invalid += 1
        result.rows.append({"question": question, "new": a, "old": b, "new_shown_first": bool(nf), "verdict": who})
    return result


def llm_judge(spec: WinRateSpec, prompts: Prompts | None = None, cache_path: Path | None = None) -> Judge:
    """A judge on an OpenAI-compatible endpoint or the embedded model, through the project's LLM client (so
    retries, rate limits and the reply cache apply), with the `pairwise` template."""
    prompts = prompts or Prompts()

    def judge(asks: list[tuple[str, str, str, str | None]]) -> list[str | None]:
        requests = []
        for question, first, second, lang in asks:
            text, template_hash = prompts.render("pairwise", question=question, first=first, second=second,
                                                 language_name=language_name(lang))
            params = {"temperature": 0.0, "max_tokens": spec.judge_max_tokens, "seed": spec.seed}
            requests.append(Request([{"role": "user", "content": text}], params, template_hash))
        llm = LLM(spec.judge, cache_path=cache_path)
        try:
            results = ask_json(llm, requests, PairVerdict, prompts, spec.repairs)
        finally:
            llm.close()
        names = {"A": "first", "B": "second", "tie": "tie"}
        return [names[r.value.better] if r.value is not None else None for r in results]

    return judge


def sample_prompts(prompts: Sequence[Messages], k: int, seed: int) -> list[int]:
    """A seeded sample of distinct prompts (by their text), in their original order."""
    seen: dict[str, int] = {}
    for i, p in enumerate(prompts):
        seen.setdefault(repr(p), i)
    unique = sorted(seen.values())
    if len(unique) <= k:
        return unique
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(unique, size=k, replace=False))


def win_rate(model: Any, tokenizer: Any, prompts: Sequence[Messages], spec: WinRateSpec, *,
             before: Any | None = None, before_context: Callable[[], AbstractContextManager[Any]] | None = None,
             judge: Judge | None = None, langs: Sequence[str | None] | None = None,
             cache_path: Path | None = None) -> WinRate:
    """The aligned `model` and the stage-before model answer the same sampled validation prompts; the judge
    compares. The stage-before model is `before`, or `model` inside `before_context` (a peft model's
    `disable_adapter`), so it needs no second copy in memory."""
    if (before is None) == (before_context is None):
        raise ValueError("win_rate: give the stage-before model as `before` or as `before_context`, not both")
    picked = sample_prompts(prompts, spec.prompts, spec.seed)
    chosen = [list(prompts[i]) for i in picked]
    chosen_langs = [langs[i] for i in picked] if langs is not None else None
    new = continue_texts(model, tokenizer, chosen, spec.max_tokens, spec.batch_size, flatten=False)
    if before_context is not None:
        with before_context():
            old = continue_texts(model, tokenizer, chosen, spec.max_tokens, spec.batch_size, flatten=False)
    else:
        old = continue_texts(before, tokenizer, chosen, spec.max_tokens, spec.batch_size, flatten=False)
    return compare(chosen, new, old, judge or llm_judge(spec, cache_path=cache_path), spec.seed, chosen_langs)
