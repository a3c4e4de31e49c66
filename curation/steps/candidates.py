"""candidates: sample several replies to each prompt and have the judge score every one (RLAIF).

Each record's prompt (its conversation before the last reply) is answered `n` times with seeded sampling
(seed, seed + 1, ...), so a re-run asks the same requests and hits the cache. Every reply is graded with the
judge step's grading (accuracy, helpfulness, safety, language; 1-5; from JSON or from the probabilities of
the score tokens), and the replies with their scores go to `meta.candidates`, where the pairs step builds
chosen/rejected pairs from them. Records keep their own reply: candidates are measured, not chosen, here.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..llm.client import Request
from ..llm.grading import GradeItem, grade
from ..llm.prompts import language_name
from ..llm.step import LLMStep, LLMStepConfig
from ..preference import prompt_of
from .base import Record, StepResult, register
from .judge import GradingOptions


class CandidatesConfig(LLMStepConfig, GradingOptions):
    n: int = Field(2, ge=2, le=16, description="Replies sampled per prompt.")
    temperature: float = Field(0.8, gt=0, le=2, description="Sampling temperature (above 0, or the replies "
                                                            "would all be the same).")
    max_tokens: int = Field(256, ge=1, description="Most tokens per sampled reply.")
    judge_prompt: str = Field("judge", description="The judge's template, graded on each reply.")
    judge_max_tokens: int = Field(200, ge=1, description="Most tokens per judge reply.")
    include_original: bool = Field(False, description="Score the record's own reply too, as one more candidate.")


@register("candidates")
class Candidates(LLMStep):
    """Sample n replies per prompt (seeded) and score each with the judge: `meta.candidates` for the pairs step."""

    Config = CandidatesConfig
    default_prompt = "judge"
    config: CandidatesConfig

    @classmethod
    def prompt_names(cls, config: CandidatesConfig) -> list[str]:  # type: ignore[override]
        return [config.judge_prompt, "repair", config.score_prompt]

    def apply(self, records: list[Record]) -> StepResult:
        c = self.config
        with_prompt = [r for r in records if r.get("task") != "preference" and prompt_of(r)]
        passing = [r for r in records if not (r.get("task") != "preference" and prompt_of(r))]
        if passing:
            self.tally["skipped: no prompt (text or preference records)"] += len(passing)
        chosen = with_prompt if c.limit is None else with_prompt[: c.limit]
        rest = with_prompt[len(chosen):]
        if rest:
            self.tally["skipped: past limit"] += len(rest)
        chosen, rejected = self.with_languages(chosen)  # the judge names the language the reply must be in
        self.tally["sent"] += len(chosen)
        prompts = [prompt_of(r) or [] for r in chosen]
        replies = self.sample(prompts)
        texts = [[(reply, None) for reply in per] for per in replies]
        if c.include_original:
            for rec, per in zip(chosen, texts):
                original = (rec.get("messages") or [{}])[-1]
                if original.get("role") == "assistant":
                    per.append((original["content"], "original"))
        scores = self.grade(chosen, prompts, texts)
        for rec, per, graded in zip(chosen, texts, scores):
            cands = []
            for k, ((text, marker), g) in enumerate(zip(per, graded)):
                entry: dict[str, Any] = {"text": text, "seed": c.seed + k if marker != "original" else None, **g}
                if marker == "original":
                    entry["original"] = True
                cands.append(entry)
            rec["meta"]["candidates"] = cands
            self.tally["scored candidates"] += sum(1 for e in cands if e.get("score") is not None)
        gone = {id(r) for r, _ in rejected}
        return StepResult([r for r in records if id(r) not in gone], rejected)  # in input order

    def sample(self, prompts: list[list[dict[str, str]]]) -> list[list[str | None]]:
        """n replies per prompt: request k of every prompt is sampled with seed + k, so the k-th replies form
        one batch on the embedded model and every request has its own cache key."""
        c = self.config
        requests = [Request(p, self.params(seed=c.seed + k), "candidates") for p in prompts for k in range(c.n)]
        got = self.llm.complete(requests)
        out: list[list[str | None]] = []
        for i in range(len(prompts)):
            per = got[i * c.n: (i + 1) * c.n]
            out.append([r.text.strip() if r.error is None and r.text and r.text.strip() else None for r in per])
        return out

    def grade(self, records: list[Record], prompts: list[list[dict[str, str]]],
              texts: list[list[tuple[str | None, str | None]]]) -> list[list[dict[str, Any]]]:
        """The judge's scores of every non-empty reply ({score: None, error} for the others)."""
        c = self.config
        items, where = [], []
        graded: list[list[dict[str, Any]]] = [[{"score": None, "error": "empty reply or failed request"}
                                               for _ in per] for per in texts]
        for i, (rec, prompt, per) in enumerate(zip(records, prompts, texts)):
            question = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
            for k, (text, _) in enumerate(per):
                if text:
                    items.append(GradeItem(question, text, language_name(rec["lang"])))
                    where.append((i, k))
        grades = grade(self.llm, self.prompts, items, c.grading, json_template=c.judge_prompt,
                       score_template=c.score_prompt, repairs=c.repairs, min_mass=c.min_mass, seed=c.seed,
                       json_params=self.params(max_tokens=c.judge_max_tokens, temperature=0.0))
        for (i, k), g in zip(where, grades):
            self.tally[f"graded by {g.method}"] += 1
            extra: dict[str, Any] = {"grading": g.method, **({"mass": g.mass} if g.mass else {})}
            if g.scores is None:
                graded[i][k] = {"score": None, "error": g.error, **extra}
                self.tally["invalid grades"] += 1
                continue
            graded[i][k] = {"score": round(sum(g.scores.values()) / len(g.scores), 2), "scores": g.scores,
                            "reason": g.reason[:300], **extra}
        return graded
