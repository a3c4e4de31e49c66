"""What an evaluation asks: which benchmarks, in which prompt style, scored how."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from curation.llm.config import Endpoint

Style = Literal["direct", "cot", "verify"]


class WinRateSpec(BaseModel):
    """After an alignment stage: does a judge prefer the aligned model's replies to the stage-before model's?"""

    model_config = ConfigDict(extra="forbid")
    judge: Endpoint = Field(default_factory=Endpoint, description="The judge; the embedded local model when its "
                                                                  "base_url is left out.")
    prompts: int = Field(16, ge=1, description="At most this many validation prompts (a seeded sample).")
    max_tokens: int = Field(128, ge=1, description="Most tokens of each model's reply.")
    judge_max_tokens: int = Field(80, ge=1, description="Most tokens of the judge's verdict.")
    repairs: int = Field(1, ge=0, description="Follow-ups asking the judge for a valid verdict.")
    batch_size: int = Field(8, ge=1, description="Prompts generated together.")
    seed: int = Field(1, description="Seeds the prompt sample and which reply the judge sees first.")


class EvalSpec(BaseModel):
    """Also the `eval` field of a recipe's `train` section: each stage is then scored after it finishes."""

    model_config = ConfigDict(extra="forbid")
    benchmarks: list[str] = Field(min_length=1, description="Benchmark files, any multiple-choice or PubMedQA "
                                                            "format the readers accept.")
    styles: list[Style] = Field(["direct"], min_length=1, description="direct: answer at once; cot: reason "
                                "step by step first; verify: check each option in turn, then answer.")
    method: Literal["auto", "loglik", "generate"] = Field(
        "auto", description="loglik: log-likelihood of each option (local models); generate: a reply whose "
        "answer letter is parsed (endpoints always). auto: loglik for local models.")
    target: Literal["letter", "text"] = Field(
        "letter", description="loglik: score the option's letter (' B') or its text (' no', as for PubMedQA).")
    normalize: Literal["none", "tokens", "bytes"] = Field(
        "none", description="loglik: divide an option's log-likelihood by its length in tokens or bytes.")
    chat_template: bool = Field(False, description="loglik: wrap the prompt in the tokenizer's chat template.")
    shots: int = Field(0, ge=0, description="Worked examples put before each question, from `dev`.")
    dev: str | None = Field(None, description="The file k-shot examples come from (never the benchmark itself).")
    limit: int | None = Field(None, ge=1, description="Score a seeded sample of this many items per benchmark.")
    seed: int = Field(1, description="Seeds the item sample, the shots and the bootstrap.")
    bootstrap: int = Field(1000, ge=100, description="Resamples for the 95% confidence interval.")
    batch_size: int = Field(8, ge=1, description="Sequences per forward pass (loglik) or prompts per batch.")
    max_tokens: int = Field(256, ge=1, description="Most tokens a reply (or a chain of thought) may take.")
    max_length: int | None = Field(None, ge=16, description="Longer prompts lose their start (default: the "
                                                            "model's context).")
    win_rate: WinRateSpec | None = Field(
        default_factory=WinRateSpec, description="After an alignment stage (dpo, ipo, kto, orpo, simpo): the judge's "
        "win rate of its replies over the stage-before model's on the validation prompts; null turns it off.")
