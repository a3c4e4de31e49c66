"""synthesize: new training records made by an LLM, each mode with its template, schema and checks.

- qa: a question and answer grounded in a passage (pre-training text or a PubMedQA context); the answer's
  content words must come from the passage.
- self-instruct: new instructions from seed instructions; too similar to anything already there is rejected.
- mcq: a four-option question with an explanation that checks every option in turn; the answer letter must
  be one of the options and the explanation must address each option.
- dialogue: a patient-doctor consultation from a case description; turns must alternate, patient first.

Outputs are new records (`parent_id`, `origin: synthesize:<mode>`); their parents stay as they are.
"""

from __future__ import annotations

import random
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from ..io.formats import render_mcq
from ..llm.client import Request
from ..llm.prompts import language_name
from ..llm.step import LLMStep, LLMStepConfig
from ..llm.structured import ask_json
from ..record import make_record
from .base import Record, Reject, StepResult, answer_and_question, register

WORD = re.compile(r"\w+", re.U)


class QA(BaseModel):
    question: str = Field(min_length=5)
    answer: str = Field(min_length=2)


class Instruction(BaseModel):
    instruction: str = Field(min_length=5)
    response: str = Field(min_length=2)


class MCQReply(BaseModel):
    question: str = Field(min_length=5)
    options: dict[str, str]
    answer: str
    explanation: str = Field(min_length=5)

    @field_validator("options")
    @classmethod
    def four_labelled_options(cls, v: dict[str, str]) -> dict[str, str]:
        if sorted(v) != ["A", "B", "C", "D"] or any(not str(t).strip() for t in v.values()):
            raise ValueError("options must be A, B, C and D, none empty")
        if len({t.strip().lower() for t in v.values()}) < 4:
            raise ValueError("options must differ")
        return v


class Turn(BaseModel):
    role: Literal["patient", "doctor"]
    content: str = Field(min_length=1)


class Dialogue(BaseModel):
    turns: list[Turn] = Field(min_length=2)


SCHEMAS: dict[str, type[BaseModel]] = {"qa": QA, "self-instruct": Instruction, "mcq": MCQReply,
                                       "dialogue": Dialogue}
TEMPLATES = {"qa": "synth_qa", "self-instruct": "synth_self_instruct", "mcq": "synth_mcq",
             "dialogue": "synth_dialogue"}


def is_seed(record: Record) -> bool:
    """An instruction with messages: what self-instruct shows the model as an example."""
    return record["task"] == "instruction" and bool(record.get("messages"))


class SynthesizeConfig(LLMStepConfig):
    mode: Literal["qa", "self-instruct", "mcq", "dialogue"] = "qa"
    temperature: float = 0.7
    count: int = Field(20, ge=1, description="self-instruct: how many new instructions to ask for.")
    seeds_per_prompt: int = Field(3, ge=1)
    language: str = Field("en", description="self-instruct: language of the new instructions.")
    min_grounding: float = Field(0.6, ge=0, le=1, description="qa: share of the answer's content words found "
                                                             "in the passage.")
    max_similarity: float = Field(0.7, ge=0, le=1, description="self-instruct: highest word-set Jaccard with any "
                                                               "existing instruction.")


def passage_of(record: Record) -> str | None:
    if record.get("mcq") and record["mcq"].get("context"):
        return record["mcq"]["context"]
    if record.get("text"):
        return record["text"]
    answer, question = answer_and_question(record)
    return f"{question}\n{answer}".strip() or None


def content_words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if len(w) > 3 or not w.isascii()}


def grounding(answer: str, passage: str) -> float:
    words = content_words(answer)
    if not words:
        return 0.0
    return len(words & content_words(passage)) / len(words)


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@register("synthesize")
class Synthesize(LLMStep):
    """Synthesize QA pairs, new instructions, multiple-choice questions or dialogues with an LLM."""

    Config = SynthesizeConfig

    @classmethod
    def prompt_names(cls, config: SynthesizeConfig) -> list[str]:
        return [config.prompt or TEMPLATES[config.mode], "repair"]
    config: SynthesizeConfig

    def _prompt(self, **values: Any) -> Request:
        c = self.config
        text, template_hash = self.prompts.render(c.prompt or TEMPLATES[c.mode], **values)
        return Request([{"role": "user", "content": text}], self.params(), template_hash)

    def apply(self, records: list[Record]) -> StepResult:
        c = self.config
        if c.mode == "self-instruct":  # seeds must be in the language asked for
            _, rejected = self.with_languages([r for r in records if is_seed(r)])
            parents, requests = self._self_instruct_requests(records)
        else:  # the prompt asks for the passage's language
            parents = [r for r in records if passage_of(r)]
            if c.limit is not None and len(parents) > c.limit:
                self.tally["skipped: past limit"] += len(parents) - c.limit
                parents = parents[: c.limit]
            parents, rejected = self.with_languages(parents)
            requests = [self._prompt(passage=passage_of(r), language_name=language_name(r["lang"])) for r in parents]
        self.tally["sent"] += len(requests)
        undecided = {id(r) for r, _ in rejected}
        records = [r for r in records if id(r) not in undecided]
        results = ask_json(self.llm, requests, SCHEMAS[c.mode], self.prompts, c.repairs)
        existing = [content_words(answer_and_question(r)[1]) for r in records if r.get("messages")]
        made: list[Record] = []
        added: list[Record] = []
        for parent, res in zip(parents, results):
            lang = c.language if c.mode == "self-instruct" else parent.get("lang")
            origin = f"synthesize:{c.mode}"
            if res.value is None:
                stub = make_record(parent["source"], "instruction", lang=lang, parent_id=parent["id"], origin=origin,
                                   text=res.text or "", meta={"synthesize": {"mode": c.mode}})
                rejected.append((stub, Reject("synthesize reply invalid", {"why": res.error,
                                                                          "attempts": res.attempts})))
                added.append(stub)
                continue
            record, reason = self._build(parent, res.value, lang, origin, existing)
            added.append(record)
            if reason:
                rejected.append((record, Reject(reason.split(" (")[0], {"why": reason})))
            else:
                made.append(record)
                if c.mode == "self-instruct":
                    existing.append(content_words(record["messages"][0]["content"]))
        return StepResult(list(records) + made, rejected, added)

    def _self_instruct_requests(self, records: list[Record]) -> tuple[list[Record], list[Request]]:
        c = self.config
        seeds = [r for r in records if is_seed(r) and r.get("lang") == c.language]
        if not seeds:
            return [], []
        rng = random.Random(c.seed)
        parents, requests = [], []
        for i in range(c.count):
            picked = rng.sample(seeds, min(c.seeds_per_prompt, len(seeds)))
            parents.append(picked[0])
            request = self._prompt(seeds=[answer_and_question(s)[1] for s in picked],
                                   language_name=language_name(c.language))
            request.params = {**request.params, "seed": c.seed + i}  # distinct requests, distinct cache entries
            requests.append(request)
        return parents, requests

    def _build(self, parent: Record, value: BaseModel, lang: str | None, origin: str,
               existing: list[set[str]]) -> tuple[Record, str | None]:
        c = self.config
        meta: dict[str, Any] = {"synthesize": {"mode": c.mode}, **{k: v for k, v in parent.get("meta", {}).items()
                                                                    if k == "license"}}
        common = {"lang": lang, "parent_id": parent["id"], "origin": origin, "meta": meta}
        if isinstance(value, QA):
            msgs = [{"role": "user", "content": value.question}, {"role": "assistant", "content": value.answer}]
            rec = make_record(parent["source"], "instruction", messages=msgs, **common)
            score = grounding(value.answer, passage_of(parent) or "")
            meta["synthesize"]["grounding"] = round(score, 3)
            return rec, None if score >= c.min_grounding else f"answer not grounded in the passage ({score:.2f})"
        if isinstance(value, Instruction):
            msgs = [{"role": "user", "content": value.instruction}, {"role": "assistant", "content": value.response}]
            rec = make_record(parent["source"], "instruction", messages=msgs, **common)
            words = content_words(value.instruction)
            nearest = max((jaccard(words, e) for e in existing), default=0.0)
            meta["synthesize"]["max_similarity"] = round(nearest, 3)
            return rec, None if nearest < c.max_similarity else f"not novel ({nearest:.2f})"
        if isinstance(value, MCQReply):
            mcq = {"question": value.question, "options": value.options, "answer": value.answer.strip().upper()[:1],
                   "explanation": value.explanation}
            valid_answer = mcq["answer"] in value.options
            if valid_answer:
                rec = make_record(parent["source"], "mcq", mcq=mcq, messages=render_mcq(mcq), **common)
            else:
                rec = make_record(parent["source"], "mcq", text=value.model_dump_json(), **common)
                return rec, f"answer letter not among the options ({value.answer!r})"
            unchecked = [k for k in value.options if not re.search(rf"(?<![A-Za-z]){k}(?![a-z])", value.explanation)]
            return rec, None if not unchecked else f"explanation does not check every option ({', '.join(unchecked)})"
        assert isinstance(value, Dialogue)
        turns = value.turns
        roles = [t.role for t in turns]
        msgs = [{"role": "user" if t.role == "patient" else "assistant", "content": t.content} for t in turns]
        ok = roles[0] == "patient" and all(a != b for a, b in zip(roles, roles[1:])) and roles[-1] == "doctor"
        rec = make_record(parent["source"], "dialogue", messages=msgs, **common)
        return rec, None if ok else "turns do not alternate patient/doctor"
