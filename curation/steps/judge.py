"""judge: an LLM grades each record on a rubric; the scores go to `meta.judge`, thresholds filter.

Measure, then decide: every judged record carries its scores and the judge's reason, so a threshold can be
tuned by looking at kept records, and later steps (dedupe's survivor policy, the mixture's `min_scores`)
can prefer the better ones. A reply that stays invalid after the repair attempts rejects the record.
With `grading: logprob` (the default `auto` on the embedded model) each criterion's score is the expected
score under the model's probabilities of "1".."5", which a small model gives where it cannot write JSON.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..llm.grading import CRITERIA as CRITERION_TEXT
from ..llm.grading import GradeItem, Grades, Grading, grade
from ..llm.prompts import language_name
from ..llm.step import LLMStep, LLMStepConfig
from .base import Record, Reject, StepResult, answer_and_question, register

CRITERIA = tuple(CRITERION_TEXT)
__all__ = ["CRITERIA", "Grades", "Judge", "JudgeConfig", "GradingOptions"]


class GradingOptions(BaseModel):
    """How a judge turns its model's reply into scores; shared by the judge and candidates steps."""

    grading: Grading = Field("auto", description="json: parse a generated JSON grade; logprob: expected score "
                                                 "from the probabilities of the tokens 1-5 (G-Eval); auto: "
                                                 "logprob where the backend returns probabilities, json otherwise.")
    score_prompt: str = Field("judge_score", description="Template of one criterion's score (logprob grading).")
    min_mass: float = Field(0.5, ge=0, le=1, description="Logprob grading: a grade whose probability on the "
                                                         "score tokens 1-5 is below this is invalid.")


class JudgeConfig(LLMStepConfig, GradingOptions):
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

    @classmethod
    def prompt_names(cls, config: JudgeConfig) -> list[str]:  # type: ignore[override]
        return [config.prompt or cls.default_prompt, "repair", config.score_prompt]

    def apply(self, records: list[Record]) -> StepResult:
        c = self.config
        chosen = records if c.limit is None else records[: c.limit]
        rest = list(records[len(chosen):])
        if rest:
            self.tally["skipped: past limit"] += len(rest)
        chosen, rejected = self.with_languages(chosen)  # the prompt names the language the answer must be in
        self.tally["sent"] += len(chosen)
        items = []
        for rec in chosen:
            answer, question = answer_and_question(rec)
            if not answer:
                answer, question = rec.get("text") or "", "(a passage of medical text, judged as written)"
            items.append(GradeItem(question, answer, language_name(rec["lang"])))
        grades = grade(self.llm, self.prompts, items, c.grading, json_template=c.prompt or "judge",
                       score_template=c.score_prompt, json_params=self.params(), repairs=c.repairs,
                       min_mass=c.min_mass, seed=c.seed)
        kept: list[Record] = []
        for rec, g in zip(chosen, grades):
            self.tally[f"graded by {g.method}"] += 1
            if g.scores is None and c.invalid == "keep":
                rec["meta"]["judge"] = {"unscored": g.error, "grading": g.method,
                                        **({"mass": g.mass} if g.mass else {})}
                kept.append(rec)
                continue
            if g.scores is None:
                detail = {"why": g.error, "reply": g.reply[:300], "attempts": g.attempts, "grading": g.method}
                if g.mass:
                    detail["mass"] = g.mass
                rejected.append((rec, Reject("judge reply invalid", detail)))
                continue
            scores = g.scores
            overall = round(sum(scores.values()) / len(scores), 2)
            rec["meta"]["judge"] = {**scores, "overall": overall, "reason": g.reason[:500],
                                    "model": self.endpoint.model, "grading": g.method,
                                    **({"mass": g.mass} if g.mass else {})}
            low = [k for k, v in c.min_scores.items() if scores.get(k, 5) < v]
            if low:
                rejected.append((rec, Reject(f"judge: low {low[0]}", {"scores": scores})))
            elif c.min_overall is not None and overall < c.min_overall:
                rejected.append((rec, Reject("judge: low overall score", {"overall": overall})))
            else:
                kept.append(rec)
        return StepResult(kept + rest, rejected)
