"""What a step is, and the registry that maps a recipe's step name to it.

A per-record step implements `process(record)`: it may edit the record (always through the record's own
fields and `meta`), stores what it measured in `meta`, and returns a reject reason or None. A global step
implements `apply(records)` over the whole dataset; a phased global step declares map phases over shards of
the records, reduces over the small tables they return, and decides per shard, so that every executor runs
the one implementation its own way (threads here, tasks on Ray). Batching, processes, rejects and the ledger
live once, in `curation.pipeline` and `curation.executors`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ..context import RunContext
from ..record import Record

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
        self.ctx = RunContext()

    @classmethod
    def from_dict(cls, options: dict[str, Any] | None) -> Step:
        return cls(cls.Config.model_validate(options or {}))

    def setup(self, ctx: RunContext) -> None:
        """The run's context, given once before the step sees records (where option paths are relative to, the
        stores, the LLM endpoints); a step that needs more than `self.ctx` derives it here."""
        self.ctx = ctx

    @classmethod
    def input_files(cls, config: Any, ctx: RunContext) -> list[Path]:
        """Files the step reads besides its records (benchmarks, glossaries, lexicons, templates): their content
        joins the cache key. By default the paths named by options marked FILES, relative to the recipe."""
        return [ctx.resolve(p) for p in config.named_files()]

    @classmethod
    def state_key(cls, config: Any, ctx: RunContext) -> str | None:
        """State outside the recipe that the step's output depends on (a review store's decisions); it joins
        the step's cache key. Most steps have none."""
        return None

    def summary(self) -> dict[str, Any]:
        """What the step wants in the manifest besides counts (LLM requests, tokens and cost)."""
        return {}


class RecordStep(Step, ABC):
    scope = "record"

    def load_resources(self) -> None:
        """Load what the step needs (models, lexicons) once per process, not once per record."""

    @abstractmethod
    def process(self, record: Record) -> str | Reject | None:
        """Measure into `record["meta"]`, edit if the step edits, and return a reject reason or None."""

    def process_batch(self, records: list[Record]) -> list[str | Reject | None] | None:
        """`process` over a whole chunk at once, for steps whose statistics vectorise (quality); None: no batch
        path, so the runner calls `process` per record. Must give exactly what `process` would."""
        return None


Rejected = list[tuple[Record, Reject]]


@dataclass
class StepResult:
    """What a global step returns. Every input record is in exactly one of `kept` and `rejected`; a record the
    step created is in one of them too, and is also listed in `added`, naming an input as its `parent_id`
    unless the step is a generator. The runner checks all of it on ids, so a step cannot lose, repeat or
    invent a record unnoticed."""

    kept: list[Record]
    rejected: Rejected
    added: list[Record] = field(default_factory=list)

    @classmethod
    def split(cls, records: list[Record], rejects: dict[int, Reject]) -> StepResult:
        """Records rejected by position (`rejects`), the rest kept, in input order."""
        return cls([r for i, r in enumerate(records) if i not in rejects],
                   [(r, rejects[i]) for i, r in enumerate(records) if i in rejects])

    def __iadd__(self, other: StepResult) -> StepResult:
        """Another part's result after this one (shards in order)."""
        self.kept += other.kept
        self.rejected += other.rejected
        self.added += other.added
        return self


class GlobalStep(Step, ABC):
    scope = "global"
    generator: ClassVar[bool] = False  # True: records it adds may have no parent among its inputs

    @abstractmethod
    def apply(self, records: list[Record]) -> StepResult:
        """Every input record kept or rejected, and the records the step added."""


class ShardedStep(GlobalStep, ABC):
    """A global step whose decision on a record needs only state built once from outside the records (a
    benchmark index): an executor builds the state once, hands it to every worker, and gives each worker a
    shard of the records."""

    @abstractmethod
    def prepare(self) -> Any:
        """The shared state, built once per run."""

    @abstractmethod
    def apply_shard(self, state: Any, records: list[Record]) -> StepResult:
        """As `apply`, for any part of the records: the decision on one record never depends on another."""

    def apply(self, records: list[Record]) -> StepResult:
        return self.apply_shard(self.prepare(), records)


@dataclass(frozen=True)
class Map:
    """A map phase: `step.<method>(state, shard, records)` for every shard, returning a small table (any
    picklable value: an Arrow table, numpy arrays, a list of tuples). Shards run concurrently (threads here,
    processes on Ray), so the method must not change the step or the state.

    `shares` names the one attribute of the state the map is given instead of the whole state: a reduce can
    keep large tables for the next reduce (which gets the whole state) without every worker loading them."""

    method: str
    shares: str | None = None

    def view(self, state: Any) -> Any:
        """What of the state this phase's map is given."""
        return getattr(state, self.shares) if self.shares else state


@dataclass(frozen=True)
class Reduce:
    """A reduce phase: `step.<method>(state, tables)` once, over [(shard, table), ...] of the map phase just
    before it in shard order ([] when none), returning the next state."""

    method: str


Phase = Map | Reduce


class PhasedStep(GlobalStep, ABC):
    """A global step as phases, as datatrove splits MinHash into signatures, buckets, clusters and filter:
    map phases over shards, reduce phases over what they return, then `decide` per shard and `finish` once.

    An executor gives every phase the shards of the records in the step's scope, in input order, with their
    shard numbers; a step keys what it keeps per record by (shard, position in the shard), so its decisions do
    not depend on how the records were cut into shards."""

    @abstractmethod
    def phases(self) -> list[Phase]:
        """The map and reduce phases in order; the state starts as None."""

    @abstractmethod
    def decide(self, state: Any, shard: int, records: list[Record]) -> StepResult:
        """The kept, rejected (and added) records of one shard, from the last reduce's state."""

    def finish(self, state: Any) -> None:
        """Once, after every shard was decided, where the recipe runs (a report lands beside it)."""

    def shard_rows(self) -> int:
        """Records per shard where the executor cuts them itself (in this process)."""
        return 20_000

    def rejects_at(self, state: Any, shard: int) -> dict[int, Reject] | None:
        """The shard's rejects by position among its records in scope, for a step whose `decide` only drops
        records (the rest kept unchanged, none added): an executor then copies the kept rows as stored and reads
        only the rejected ones. None: the executor calls `decide`."""
        return None

    def map_fields(self) -> frozenset[str] | None:
        """The record fields the map phases read, None for all. An executor reading shards from storage parses
        only these: a record's meta, which grows with every step, is most of the work of reading a shard."""
        return None

    def threads(self) -> int:
        """Threads for the map phases when the step is applied on its own."""
        return 1

    def apply(self, records: list[Record]) -> StepResult:
        return run_phases(self, records, self.threads())


def drive_phases(step: PhasedStep, run_map: Callable[[str, Any], list[tuple[int, Any]]]) -> Any:
    """The step's phases in order, its state starting as None: `run_map(method, state)` gives a map phase's
    [(shard, table), ...] however the executor runs it, and each reduce folds the tables just before it."""
    state: Any = None
    tables: list[tuple[int, Any]] = []
    for phase in step.phases():
        if isinstance(phase, Map):
            tables = run_map(phase.method, phase.view(state))
        else:
            state, tables = getattr(step, phase.method)(state, tables), []
    return state


def run_phases(step: PhasedStep, records: list[Record], workers: int = 1) -> StepResult:
    """A phased step over records held in this process: map phases over shards on `workers` threads (polars,
    numpy and the compiled kernels release the GIL, and threads share the records instead of pickling them),
    reduces in order, decisions shard by shard, then `finish`."""
    size = step.shard_rows()
    shards = [records[i: i + size] for i in range(0, len(records), size)]
    pool = ThreadPoolExecutor(workers) if workers > 1 and len(shards) > 1 else None

    def run_map(method: str, state: Any) -> list[tuple[int, Any]]:
        jobs = range(len(shards))
        run = pool.map if pool is not None else map
        return list(zip(jobs, run(getattr(step, method), [state] * len(shards), jobs, shards)))

    try:
        state = drive_phases(step, run_map)
    finally:
        if pool is not None:
            pool.shutdown()
    result = StepResult([], [])
    for k, shard in enumerate(shards):
        result += step.decide(state, k, shard)
    step.finish(state)
    return result


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
        out = [(m["role"], m["content"]) for m in record["messages"]]
    else:
        out = [("text", record.get("text") or "")]
    pref = record.get("preference")
    if pref:  # a preference record's replies are its content too: two pairs on one prompt are not duplicates
        out += [("assistant", pref[k]) for k in ("chosen", "rejected", "completion") if pref.get(k)]
    return out


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
