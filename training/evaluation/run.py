"""One evaluation: every benchmark in every prompt style, scored by log-likelihood or by parsed replies."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation.errors import MedcurateError
from curation.llm.config import Endpoint
from curation.llm.prompts import Prompts
from curation.minhash import normalise

from .config import EvalSpec
from .extract import extract_answer, extract_answers
from .generate import ask_endpoint, continue_texts
from .items import Benchmark, Item, load_benchmark, pick_shots
from .loglik import LoglikScorer
from .results import summarize


@dataclass
class Target:
    """What is scored: a local model in memory, or an OpenAI-compatible endpoint."""

    name: str
    model: Any = None
    tokenizer: Any = None
    endpoint: Endpoint | None = None


def method_of(target: Target, spec: EvalSpec) -> str:
    if target.endpoint is not None:
        if spec.method == "loglik":
            raise MedcurateError("method loglik needs a local model: an endpoint's replies are parsed (generate)")
        return "generate"
    return "loglik" if spec.method == "auto" else spec.method


def _parse_reply(reply: str | None, item: Item) -> str | None:
    """A generated reply's prediction as sorted labels ('C' or 'ACE'), so correctness is an exact set match."""
    labels = frozenset(item.options)
    if not item.multi:
        return extract_answer(reply, labels)
    named = extract_answers(reply, labels)
    return "".join(sorted(named)) if named else None


def _verified(scores: dict[str, float], item: Item) -> str:
    """Verify style: one best option, or for a multiple-answer item every option judged correct (yes over no)."""
    if not item.multi:
        return max(scores, key=scores.__getitem__)
    chosen = sorted(k for k, v in scores.items() if v > 0)
    return "".join(chosen) or max(scores, key=scores.__getitem__)


def _top(scores: dict[str, float], item: Item) -> str:
    """Option likelihoods rank the options; a multiple-answer item takes as many as it has correct answers.

    Likelihoods alone cannot say how many options are right, so this is told the count (a note in the report
    says so); generate and verify decide the set themselves.
    """
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    return "".join(sorted(ranked[: len(item.answers)]))


class Scorer:
    """Turns (items, style) into per-item rows; the model is loaded once and kept."""

    def __init__(self, target: Target, spec: EvalSpec, prompts: Prompts, cache_path: Path | None):
        self.target, self.spec, self.prompts, self.cache_path = target, spec, prompts, cache_path
        self.method = method_of(target, spec)
        self.usage: dict[str, float] = {}
        if self.method == "loglik":
            self.loglik = LoglikScorer(target.model, target.tokenizer, spec.batch_size, spec.max_length)

    def render(self, style: str, item: Item, shots: list[Item], **values: Any) -> tuple[str, str]:
        values = {"reasoning": None, "option": None, **values}
        target = "letter" if self.method == "generate" else self.spec.target
        return self.prompts.render(f"eval_{style}", item=item, shots=shots, target=target, mode=self.method,
                                   **values)

    def wrap(self, prompt: str) -> str:
        if not self.spec.chat_template:
            return prompt
        return self.target.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                         add_generation_prompt=True)

    def cont(self, text: str) -> str:
        return text if self.spec.chat_template else " " + text

    def _value(self, scored: Any, continuation: str) -> float:
        if self.spec.normalize == "tokens":
            return scored.logprob / scored.tokens
        if self.spec.normalize == "bytes":
            return scored.logprob / len(continuation.encode())
        return scored.logprob

    def option_scores(self, contexts: list[str], items: list[Item]) -> list[dict[str, float]]:
        pairs, where = [], []
        for context, item in zip(contexts, items):
            for label, text in item.options.items():
                pairs.append((self.wrap(context), self.cont(text if self.spec.target == "text" else label)))
                where.append(label)
        scored = self.loglik.score(pairs)
        out, k = [], 0
        for item in items:
            row = {}
            for _ in item.options:
                row[where[k]] = self._value(scored[k], pairs[k][1])
                k += 1
            out.append(row)
        return out

    def run(self, items: list[Item], style: str, shots: list[Item]) -> list[dict[str, Any]]:
        extra: list[dict[str, Any]] = [{} for _ in items]
        if self.method == "generate":
            prompts = [self.render(style, it, shots) for it in items]
            replies = self._generate([p for p, _ in prompts], prompts[0][1] if prompts else "")
            scores: list[dict[str, float] | None] = [None] * len(items)
            preds = [_parse_reply(r, it) for r, it in zip(replies, items)]
            extra = [{"reply": r} for r in replies]
        elif style == "verify":
            scores = self._verify(items, shots)
            preds = [_verified(s, it) for s, it in zip(scores, items)]  # type: ignore[arg-type]
        else:
            if style == "cot":
                first = [self.wrap(self.render(style, it, shots)[0]) for it in items]
                reasoning = continue_texts(self.target.model, self.target.tokenizer, first, self.spec.max_tokens,
                                           self.spec.batch_size)
                contexts = [self.render(style, it, shots, reasoning=r)[0] for it, r in zip(items, reasoning)]
                extra = [{"reasoning": r} for r in reasoning]
            else:
                contexts = [self.render(style, it, shots)[0] for it in items]
            scores = self.option_scores(contexts, items)  # type: ignore[assignment]
            preds = [_top(s, it) for s, it in zip(scores, items)]  # type: ignore[arg-type]
        rows = []
        for item, pred, score, more in zip(items, preds, scores, extra):
            rows.append({"benchmark": item.benchmark, "style": style, "id": item.id, "locator": item.locator,
                         "lang": item.lang, "source": item.source, "answer": item.answer, "prediction": pred,
                         "multi": item.multi, "correct": pred == item.answer, "parsed": pred is not None,
                         "scores": score, **more})
        return rows

    def _verify(self, items: list[Item], shots: list[Item]) -> list[dict[str, float]]:
        pairs = []
        for it in items:
            for label in it.options:
                context = self.wrap(self.render("verify", it, shots, option=label)[0])
                pairs += [(context, self.cont("yes")), (context, self.cont("no"))]
        scored = self.loglik.score(pairs)
        out, k = [], 0
        for it in items:
            row = {}
            for label in it.options:
                row[label] = scored[k].logprob - scored[k + 1].logprob
                k += 2
            out.append(row)
        return out

    def _generate(self, prompts: list[str], template_hash: str) -> list[str | None]:
        if self.target.endpoint is not None:
            replies, usage = ask_endpoint(self.target.endpoint, prompts, self.spec.max_tokens, template_hash,
                                             self.cache_path)
            for k, v in usage.items():
                self.usage[k] = self.usage.get(k, 0) + v
            return replies
        return continue_texts(self.target.model, self.target.tokenizer, prompts, self.spec.max_tokens,
                              self.spec.batch_size, chat=True)


def resolve(path: str, base_dir: Path | None) -> str:
    p = Path(path)
    return str(base_dir / p) if base_dir is not None and not p.is_absolute() else path


def decontamination_notes(benchmarks: list[str], decontaminated: list[str] | None) -> list[str]:
    """Honesty: a score on a benchmark the training data was never checked against may be inflated."""
    if decontaminated is None:
        return []
    checked = {Path(p).resolve() for p in decontaminated}
    return [f"warning: {b} is not in the recipe's decontamination list: the training data was not checked "
            f"against it, so its score may be inflated" for b in benchmarks if Path(b).resolve() not in checked]


def evaluate(target: Target, spec: EvalSpec, *, base_dir: Path | None = None, cache_path: Path | None = None,
             decontaminated: list[str] | None = None, prompts: Prompts | None = None,
             say: Callable[[str], None] = print) -> dict[str, Any]:
    """Scores, intervals and notes for every benchmark and style; `decontaminated` lists the recipe's
    decontamination benchmarks, when there is a recipe."""
    scorer = Scorer(target, spec, prompts or Prompts(), cache_path)
    paths = [resolve(b, base_dir) for b in spec.benchmarks]
    notes = decontamination_notes(paths, decontaminated)
    for n in notes:
        say(n)
    benches: list[Benchmark] = [load_benchmark(p, spec.limit, spec.seed) for p in paths]
    shots: list[Item] = []
    if spec.shots:
        if not spec.dev:
            raise MedcurateError("eval: shots > 0 needs a dev file to take the examples from")
        exclude = {normalise(it.question) for b in benches for it in b.items}
        shots = pick_shots(resolve(spec.dev, base_dir), spec.shots, spec.seed, exclude)
        notes.append(f"{spec.shots} shots from {spec.dev}, drawn with seed {spec.seed}")
    rows: list[dict[str, Any]] = []
    rates: dict[tuple[str, str], float] = {}
    for bench in benches:
        if bench.duplicates:
            notes.append(f"{bench.name}: {bench.duplicates} repeated questions counted once "
                         f"({bench.read} items in the file)")
        if bench.sampled_from:
            notes.append(f"{bench.name}: {len(bench.items)} of {bench.sampled_from} items, sampled with seed "
                         f"{spec.seed}")
        n_multi = sum(it.multi for it in bench.items)
        if n_multi:
            note = (f"{bench.name}: {n_multi} multiple-answer items scored by exact set match and reported apart "
                    "(by_kind)")
            if scorer.method == "loglik" and set(spec.styles) - {"verify"}:
                note += "; under loglik direct/cot they take the top options, as many as are correct"
            notes.append(note)
        for style in spec.styles:
            start = time.perf_counter()
            got = scorer.run(bench.items, style, shots)
            rates[(bench.name, style)] = len(got) / max(time.perf_counter() - start, 1e-9)
            rows += got
            right = sum(r["correct"] for r in got)
            say(f"{bench.name} ({style}): {right}/{len(got)} correct")
    summary = summarize(rows, spec.bootstrap, spec.seed)
    for entry in summary:
        entry["items_per_s"] = rates[(entry["benchmark"], entry["style"])]
    return {"model": target.name, "method": scorer.method, "spec": spec.model_dump(), "summary": summary,
            "notes": notes, "usage": scorer.usage, "items": rows}
