"""The recipe model: the source of truth for what a recipe may say; schemas/recipe.schema.json is made from it.

Each step entry is a tagged union over the registered steps, so a step's options are validated by that
step's own config model and editors complete them from the schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from training.config import TrainConfig

from ..executors.config import ExecutorConfig
from ..io.reader import SourceSpec
from ..llm.config import Endpoint
from ..steps import STEPS, load_all


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepFields(Strict):
    """What every step entry may say besides its own options."""

    id: str | None = Field(None, description="Name for --force/--until; the step name by default (name-2, ... "
                                             "for repeats).")
    sources: list[str] = Field(default_factory=list, description="Apply only to these sources (others pass).")
    tags: list[str] = Field(default_factory=list, description="Apply only to sources with one of these tags.")


def _step_entries() -> Any:
    load_all()
    models = []
    for name, cls in sorted(STEPS.items()):
        models.append(create_model(
            f"Step_{name}", __base__=StepFields, __doc__=(cls.__doc__ or name).strip().splitlines()[0],
            step=(Literal[name], Field(description="The step to run.")),
            config=(cls.Config, Field(default_factory=cls.Config, description=f"Options of the {name} step.")),
        ))
    return Annotated[Union[tuple(models)], Field(discriminator="step")]  # noqa: UP007


StepEntry = _step_entries()


def in_scope(source: str, sources: list[str], tags: list[str], tags_of: dict[str, list[str]]) -> bool:
    """Whether a record of `source` is among these sources or carries one of these tags (all when both empty)."""
    if not sources and not tags:
        return True
    return source in sources or bool(set(tags_of.get(source, ())) & set(tags))


class Replay(Strict):
    stage: str = Field(description="An earlier stage whose training records are replayed.")
    fraction: float = Field(gt=0, lt=1, description="Share of this stage's training set that is replay.")


class Stage(Strict):
    """One training stage's mix: which records, in what proportions, how many, and the validation split."""

    sources: list[str] = Field(default_factory=list, description="Sources in this stage (all when empty).")
    tags: list[str] = Field(default_factory=list, description="Or: sources with one of these tags.")
    tasks: list[Literal["instruction", "dialogue", "mcq", "text", "preference"]] = Field(
        default_factory=list, description="Only these tasks (all but preference when empty).")
    preference: Literal["paired", "unpaired"] | None = Field(
        None, description="An alignment stage: it takes only preference records and exports TRL's columns, "
        "paired (prompt, chosen, rejected) or unpaired (prompt, completion, label; pairs are split in two). "
        "`tasks: [preference]` means paired.")
    langs: list[str] = Field(default_factory=list, description="Only these languages (all when empty).")
    min_scores: dict[str, float] = Field(
        default_factory=dict, description="Dotted path to a score and its minimum, e.g. meta.judge.overall: 4.")
    reviewed: Literal["any", "accepted"] = Field(
        "any", description="accepted: only records a reviewer accepted or edited (marked by the review step).")
    weights: dict[str, float] = Field(default_factory=dict, description="Weight per source (1 by default).")
    size: int | None = Field(None, ge=1, description="Target training records; all available when left out.")
    epochs: dict[str, float] = Field(
        default_factory=dict, description="Passes over a source's records, overriding its share of `size`.")
    max_upsample: float = Field(1.0, ge=1, description="Most times one record may appear in the stage.")
    temperature: float = Field(1.0, gt=0, description="Language balancing: share of a language ∝ n^(1/T).")
    replay: Replay | None = None
    validation: float = Field(0.0, ge=0, lt=1, description="Share held out, stratified by source and language; "
                                                           "by prompt in a preference stage.")

    @model_validator(mode="after")
    def _one_kind_of_record(self) -> Stage:
        """A stage trains on preferences or on other records, never both: the trainer's objective differs."""
        if "preference" in self.tasks and len(self.tasks) > 1:
            raise ValueError("a stage takes preference records or other records, not both (tasks: "
                             f"{', '.join(self.tasks)}); make a separate stage for the preference records")
        if self.preference is not None and self.tasks and self.tasks != ["preference"]:
            raise ValueError(f"`preference: {self.preference}` makes an alignment stage, which takes only "
                             f"preference records (tasks: {', '.join(self.tasks)})")
        return self

    def kind(self) -> str | None:
        """paired or unpaired for a stage of preference records; None for any other stage."""
        if self.preference is not None:
            return self.preference
        return "paired" if self.tasks == ["preference"] else None


class Export(Strict):
    formats: list[Literal["openai", "alpaca"]] = Field(
        default_factory=list, description="Also write JSONL for other trainers.")
    shard_size: int = Field(100_000, ge=1, description="Records per parquet shard.")
    charts: bool = True
    curated: bool = Field(True, description="Also write every kept record (before the mixture) as parquet.")


class LLMSection(Strict):
    """The recipe's `llm` section: named endpoints and the default one."""

    endpoints: dict[str, Endpoint] = Field(
        default_factory=lambda: {"local": Endpoint()}, description="Named endpoints that LLM steps refer to.")
    default: str = Field("local", description="The endpoint a step uses when it names none.")


class Recipe(Strict):
    """A whole dataset build: sources → steps → per-stage mixture → export (→ train)."""

    model_config = ConfigDict(extra="forbid", title="medcurate recipe")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str | None = None
    seed: int = 1
    work_dir: str | None = Field(None, description="Cached step outputs; ../work/<name> beside the recipe "
                                                   "by default. Relative paths are relative to the recipe file. "
                                                   "A URI (s3://bucket/prefix?region=...) puts it on object "
                                                   "storage that every node of a cluster reaches; credentials come "
                                                   "from the environment, never the URI.")
    state_dir: str | None = Field(None, description="Local folder for the SQLite stores (LLM request cache, review "
                                                    "queues): the work dir by default, or ../work/<name> when the "
                                                    "work dir is a URI.")
    output: str | None = Field(None, description="The exported datasets; ../out/<name> by default.")
    workers: int = Field(1, ge=1, description="Processes for per-record steps.")
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig,
                                     description="Where the steps run: here, or on a Ray cluster.")
    sources: list[SourceSpec] = Field(min_length=1, description="Paths may be globs; relative to the recipe.")
    steps: list[StepEntry] = Field(default_factory=list)  # type: ignore[valid-type]
    llm: LLMSection = Field(default_factory=LLMSection)
    mixture: dict[str, Stage] = Field(default_factory=dict, description="Training stages, in order.")
    export: Export = Field(default_factory=Export)
    train: TrainConfig | None = Field(None, description="Training stages for `medcurate train`, run after the "
                                                        "export by `medcurate run`.")

    def step_ids(self) -> list[str]:
        ids, seen = [], {}
        for entry in self.steps:
            base = entry.id or entry.step
            seen[base] = seen.get(base, 0) + 1
            ids.append(base if seen[base] == 1 or entry.id else f"{base}-{seen[base]}")
        return ids


def recipe_schema() -> dict[str, Any]:
    schema = Recipe.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
