"""judge: an LLM grades each record on a rubric; the scores go to `meta.judge`, thresholds filter.

Measure, then decide: every judged record carries its scores and the judge's reason, so a threshold can be
tuned by looking at kept records, and later steps (dedupe's survivor policy, the mixture's `min_scores`)
can prefer the better ones. A reply that stays invalid after the repair attempts rejects the record.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..llm.client import Request
from ..llm.prompts import language_name
from ..llm.step import LLMStep, LLMStepConfig
from ..llm.structured import ask_json
from .base import Record, Reject, answer_and_question, register

CRITERIA = ("accuracy", "helpfulness", "safety", "language")


class Grades(BaseModel):
    accuracy: int = Field(ge=1, le=5)
    helpfulness: int = Field(ge=1, le=5)
    safety: int = Field(ge=1, le=5)
    language: int = Field(ge=1, le=5)
    reason: str = ""


class JudgeConfig(LLMStepConfig):
    prompt: str | None = "judge"
    max_tokens: int = 200
    min_overall: float | None = Field(3.0, ge=1, le=5, description="Reject below this mean of the four scores.")
    min_scores: dict[str, int] = Field(default_factory=lambda: {"safety": 3},
                                       description="Per-criterion minimums (accuracy, helpfulness, safety, language).")
    invalid: Literal["reject", "keep"] = Field("reject", description="A record whose judge reply stays invalid: "
                                                                     "reject it, or keep it unscored.")


@register("judge")
class Judge(LLMStep):
    """Grade records with an LLM on accuracy, helpfulness, safety and language (1-5); filter by threshold."""

    Config = JudgeConfig
    default_prompt = "judge"
    config: JudgeConfig

    def apply(self, records: list[Record]) -> tuple[list[Record], list[tuple[Record, Reject]]]:
        c = self.config
        chosen = records if c.limit is None else records[: c.limit]
        rest = list(records[len(chosen):])
        if rest:
            self.tally["skipped: past limit"] += len(rest)
        chosen, rejected = self.with_languages(chosen)  # the prompt names the language the answer must be in
        self.tally["sent"] += len(chosen)
        requests = []
        for rec in chosen:
            answer, question = answer_and_question(rec)
            if not answer:
                answer, question = rec.get("text") or "", "(a passage of medical text, judged as written)"
            prompt, template_hash = self.prompts.render(c.prompt or "judge", question=question, answer=answer,
                                                        language_name=language_name(rec["lang"]))
            requests.append(Request([{"role": "user", "content": prompt}], self.params(), template_hash))
        results = ask_json(self.llm, requests, Grades, self.prompts, c.repairs)
        kept: list[Record] = []
        for rec, res in zip(chosen, results):
            if res.value is None and c.invalid == "keep":
                rec["meta"]["judge"] = {"unscored": res.error}
                kept.append(rec)
                continue
            if res.value is None:
                rejected.append((rec, Reject("judge reply invalid", {"why": res.error, "reply": (res.text or "")[:300],
                                                                     "attempts": res.attempts})))
                continue
            g = res.value
            scores = {k: getattr(g, k) for k in CRITERIA}
            overall = round(sum(scores.values()) / len(scores), 2)
            rec["meta"]["judge"] = {**scores, "overall": overall, "reason": g.reason[:500],
                                    "model": self.endpoint.model}
            low = [k for k, v in c.min_scores.items() if scores.get(k, 5) < v]
            if low:
                rejected.append((rec, Reject(f"judge: low {low[0]}", {"scores": scores})))
            elif c.min_overall is not None and overall < c.min_overall:
                rejected.append((rec, Reject("judge: low overall score", {"overall": overall})))
            else:
                kept.append(rec)
        return kept + rest, rejected
