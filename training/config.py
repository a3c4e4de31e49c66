"""The trainer's config: a base model and stages, each with its data, objective, method and schedule.

It is the `train` section of a recipe (the data is then the recipe's export) or a file of its own.

Layering: `training` sits on curation's library modules (errors, record, workdir, llm, minhash, io, the langid
step) and never on its application layer (recipe, run, plan, pipeline, executors, cli). The recipe model
imports this module, so the recipe's JSON Schema covers training, and "run, then train" lives on the curation
side (`curation.recipe.train_after`). tests/test_layers.py holds both packages to this.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .evaluation.config import EvalSpec


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RandomModel(Strict):
    """A randomly initialised Llama-architecture model, for tests and throughput measurements."""

    hidden_size: int = 64
    layers: int = 2
    heads: int = 4
    intermediate_size: int = 128
    max_position_embeddings: int = 2048


class ModelSpec(Strict):
    path: str | None = Field(None, description="A Hugging Face model folder or a .gguf file; SmolLM2-135M-Instruct "
                                               "(the embedded default) when left out.")
    random: RandomModel | None = Field(None, description="Instead of weights: a random model of this size, with "
                                                         "the tokenizer of `path` (or the default).")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bf16 where the GPU supports it, float32 on CPU.")
    attn_implementation: Literal["auto", "segments", "sdpa", "eager", "flash_attention_2"] = Field(
        "auto", description="auto: flash_attention_2 (varlen) on a GPU with flash-attn installed, else segments "
                            "(one causal sdpa call per packed example); sdpa and eager use a block-diagonal mask.")


class LoraSpec(Strict):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | str = Field("all-linear", description="Module names, or all-linear.")


PREFERENCE = ("dpo", "ipo", "kto", "orpo", "simpo")
REFERENCE_FREE = ("orpo", "simpo")


class StageSpec(Strict):
    name: str = Field(description="The exported dataset config (the mixture's stage) this stage trains on.")
    objective: Literal["sft", "cpt", "dpo", "ipo", "kto", "orpo", "simpo"] = Field(
        "sft", description="sft: chat template, loss on assistant turns; cpt: causal LM on text; dpo (sigmoid), ipo, "
                           "kto, orpo, simpo: preference objectives on the stage's pairs (kto: labelled completions).")
    method: Literal["full", "lora", "dora", "qlora", "prompt", "prefix"] = "lora"
    adapter_policy: Literal["continue", "merge_then_new", "full"] = Field(
        "merge_then_new", description="How this stage starts from the previous one's adapter.")
    lora: LoraSpec = Field(default_factory=LoraSpec)
    virtual_tokens: int = Field(20, ge=1, description="prompt / prefix tuning: number of virtual tokens.")
    learning_rate: float = Field(2e-4, gt=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, description="Overrides epochs when positive.")
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    scheduler: str = "cosine"
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(1024, ge=16)
    packing: bool = True
    overlong: Literal["truncate", "drop"] = Field("truncate", description="Examples longer than max_length.")
    eval: bool = Field(True, description="Evaluation loss on the stage's validation split, when it has one.")
    beta: float | None = Field(None, gt=0, description="dpo, ipo, kto, simpo: the preference temperature (TRL's "
                                                       "beta); 0.1 when left out (simpo: 2.0).")
    gamma: float | None = Field(None, ge=0, description="simpo: the target reward margin (TRL's simpo_gamma); 0.5 "
                                                        "when left out.")
    orpo_lambda: float | None = Field(None, gt=0, alias="lambda", description="orpo: the weight of the odds-ratio "
                                                                              "term (TRL's beta); 0.1 when left out.")
    desirable_weight: float | None = Field(None, gt=0, description="kto: weight of desirable completions' losses; 1.0 "
                                                                   "when left out.")
    undesirable_weight: float | None = Field(None, gt=0, description="kto: weight of undesirable completions' losses; "
                                                                     "1.0 when left out.")
    sft_weight: float | None = Field(None, ge=0, description="dpo, ipo, simpo: weight of an NLL term on the chosen "
                                                             "reply (TRL's rpo_alpha), which counters the fall in "
                                                             "chosen likelihood; none when left out.")
    reference: str | None = Field(None, description="dpo, ipo, kto: the reference policy. Only the model the stage "
                                                    "starts from is accepted: `start` (the default), `base` on the "
                                                    "first stage, or the previous stage's name.")

    @property
    def preference(self) -> bool:
        return self.objective in PREFERENCE

    def setting(self, name: str) -> float:
        """A preference setting, or its default for this objective (TRL's defaults, SimPO's paper for its beta)."""
        value = getattr(self, name)
        if value is not None:
            return value
        return {"beta": 2.0 if self.objective == "simpo" else 0.1, "gamma": 0.5, "orpo_lambda": 0.1,
                "desirable_weight": 1.0, "undesirable_weight": 1.0, "sft_weight": 0.0}[name]

    @model_validator(mode="after")
    def policy_matches_method(self) -> StageSpec:
        if self.method == "full" and self.adapter_policy != "full":
            self.adapter_policy = "full"
        return self


class TrainConfig(Strict):
    """A base model and the stages trained on it in order, each on one exported dataset config."""

    model: ModelSpec = Field(default_factory=ModelSpec)
    data: str | None = Field(None, description="The exported dataset folder; the recipe's output by default.")
    output: str | None = Field(None, description="Where adapters, checkpoints and merged weights go.")
    stages: list[StageSpec] = Field(min_length=1)
    seed: int = 1
    gradient_checkpointing: bool = False
    save_steps: int = Field(50, ge=1, description="Checkpoint every N optimizer steps.")
    logging_steps: int = Field(5, ge=1)
    merge: bool = Field(True, description="Write merged weights after the last stage.")
    eval: EvalSpec | None = Field(None, description="Benchmarks scored on the base model and after every stage; "
                                                    "the model card shows what each stage added.")
