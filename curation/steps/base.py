"""What a step is, and the registry that maps a recipe's step name to it.

A per-record step implements `process(record)`: it may edit the record (always through the record's own
fields and `meta`), stores what it measured in `meta`, and returns a reject reason or None. A global step
implements `apply(records)` over the whole dataset. Batching, processes, rejects and the ledger live once,
in `curation.pipeline`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

Record = dict[str, Any]


FILES = {"x-medcurate-files": True}  # json_schema_extra of an option that names files (a path or a list of them)


class StepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def named_files(self) -> list[str]:
        """Every path the options marked with FILES name, as written; the plan digests them into the cache key,
        so editing a benchmark, glossary or lexicon reruns the step."""
        paths: list[str] = []
        for name, info in type(self).model_fields.items():
            extra = info.json_schema_extra
            if not isinstance(extra, dict) or not extra.get("x-medcurate-files"):
                continue
            value = getattr(self, name)
            paths.extend([value] if isinstance(value, str) else list(value or []))
        return paths


class Reject(Exception):
    """Raised (or returned as a reason) by a step that drops a record; `detail` goes to the rejects file."""

    def __init__(self, reason: str, detail: dict[str, Any] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class Step:
    name: ClassVar[str]
    Config: ClassVar[type[StepConfig]] = StepConfig
    scope: ClassVar[str] = "record"  # "record": independent per record, may run over processes; "global"

    def __init__(self, config: StepConfig | None = None):
        self.config = config if config is not None else self.Config()

    @classmethod
    def from_dict(cls, options: dict[str, Any] | None) -> Step:
        return cls(cls.Config.model_validate(options or {}))

    def bind(self, **context: Any) -> None:
        """Run context a step may need (the recipe's LLM endpoints, the work dir for caches); most ignore it."""

    @classmethod
    def input_files(cls, config: Any, base_dir: Path) -> list[Path]:
        """Files the step reads besides its records (benchmarks, glossaries, lexicons, templates): their content
        joins the cache key. By default the paths named by options marked FILES, relative to the recipe."""
        return [base_dir / p for p in config.named_files()]

    @classmethod
    def state_key(cls, config: Any, work_dir: Path, base_dir: Path) -> str | None:
        """State outside the recipe that the step's output depends on (a review store's decisions); it joins
        the step's cache key. Most steps have none."""
        return None

    def summary(self) -> dict[str, Any]:
        """What the step wants in the manifest besides counts (LLM requests, tokens and cost)."""
        return {}


class RecordStep(Step, ABC):
    scope = "record"

    def setup(self) -> None:
        """Load what the step needs (models, lexicons) once per process, not once per record."""

    @abstractmethod
    def process(self, record: Record) -> str | Reject | None:
        """Measure into `record["meta"]`, edit if the step edits, and return a reject reason or None."""


class GlobalStep(Step, ABC):
    scope = "global"

    @abstractmethod
    def apply(self, records: list[Record]) -> tuple[list[Record], list[tuple[Record, Reject]]]:
        """Kept records and (record, reject) pairs; every input record is in exactly one of them."""


class ShardedStep(GlobalStep, ABC):
    """A global step whose decision on a record needs only state built once from outside the records (a
    benchmark index): an executor builds the state once, hands it to every worker, and gives each worker a
    shard of the records."""

    @abstractmethod
    def prepare(self) -> Any:
        """The shared state, built once per run."""

    @abstractmethod
    def apply_shard(self, state: Any, records: list[Record]) -> tuple[list[Record], list[tuple[Record, Reject]]]:
        """As `apply`, for any part of the records: the decision on one record never depends on another."""

    def apply(self, records):
        return self.apply_shard(self.prepare(), records)


STEPS: dict[str, type[Step]] = {}


def register(name: str):
    """Put a step in the registry under the name recipes and the CLI use."""

    def deco(cls: type[Step]) -> type[Step]:
        cls.name = name
        STEPS[name] = cls
        return cls

    return deco


def get_step(name: str) -> type[Step]:
    from . import load_all

    load_all()
    if name not in STEPS:
        raise KeyError(f"unknown step '{name}' (known: {', '.join(sorted(STEPS))})")
    return STEPS[name]


def texts_of(record: Record) -> list[tuple[str, str]]:
    """(role, text) for every piece of text a record holds; `text` records have role 'text'."""
    if record.get("messages"):
        return [(m["role"], m["content"]) for m in record["messages"]]
    return [("text", record.get("text") or "")]


def answer_and_question(record: Record) -> tuple[str, str]:
    """The last assistant turn and the user turn before it (for instruction-style checks)."""
    msgs = record.get("messages") or []
    answer = question = ""
    for i in range(len(msgs) - 1, -1, -1):
        if msgs[i]["role"] == "assistant":
            answer = msgs[i]["content"]
            for j in range(i - 1, -1, -1):
                if msgs[j]["role"] == "user":
                    question = msgs[j]["content"]
                    break
            break
    return answer, question
