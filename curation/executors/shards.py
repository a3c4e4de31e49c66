"""Shards: the row groups of a work-dir entry, each processed by one task and written as its own parts.

A task's files have names fixed by its shard number and each appears whole (`Location.write_table`), so a task
that a killed worker left half done is simply done again: no record is lost or written twice. Sorting the
part names gives the local executor's order: the records a step kept, shard by shard, then the records
outside the step's scope.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..ledger import check_identities
from ..pipeline import process_records, reject_rows
from ..recipe.model import in_scope
from ..record import from_table, to_table
from ..rejects import reject_lines
from ..steps.base import PhasedStep, Record, RecordStep, Reject, ShardedStep, Step
from ..storage import Location
from ..workdir import Entry
from .stored import Stored

Rejected = list[tuple[Record, Reject]]


@dataclass(frozen=True)
class Shard:
    index: int
    path: str  # a Location's uri: a plain string travels in a Ray Data row
    row_group: int
    rows: int

    def records(self) -> list[Record]:
        return from_table(Location.of(self.path).parquet().read_row_group(self.row_group))


def shards_of(inputs: list[Entry]) -> list[Shard]:
    out: list[Shard] = []
    for entry in inputs:
        for part in entry.parts():
            meta = part.parquet().metadata
            for rg in range(meta.num_row_groups):
                out.append(Shard(len(out), part.uri, rg, meta.row_group(rg).num_rows))
    return out


def shards_in(batch: dict[str, Any]) -> list[Shard]:
    """The shards of a Ray Data batch of `asdict(shard)` rows."""
    return [Shard(int(i), str(p), int(rg), int(n))
            for i, p, rg, n in zip(batch["index"], batch["path"], batch["row_group"], batch["rows"])]


@dataclass(frozen=True)
class Scope:
    sources: list[str]
    tags: list[str]
    tags_of: dict[str, list[str]]

    def split(self, records: list[Record]) -> tuple[list[Record], list[Record]]:
        chosen: list[Record] = []
        others: list[Record] = []
        for r in records:
            (chosen if in_scope(r["source"], self.sources, self.tags, self.tags_of) else others).append(r)
        return chosen, others


def write_shard(out: Location, index: int, step_name: str, kept: list[Record], others: list[Record],
                rejected: Rejected) -> None:
    """The shard's parts and rejects; empty parts are not written."""
    for tag, records in (("0", kept), ("1", others)):
        if records:
            (out / "records.parquet" / f"part-{tag}-{index:06d}.parquet").write_table(to_table(records),
                                                                                       compression="zstd")
    if rejected:
        (out / "rejects.parts" / f"{index:06d}.jsonl").write_bytes(reject_lines(reject_rows(step_name, rejected)))


def stats_row(index: int, n_in: int, kept: int, others: int, rejected: Rejected, added: int = 0) -> dict[str, Any]:
    reasons = Counter(r.reason for _, r in rejected)
    return {"index": index, "n_in": n_in, "kept": kept, "others": others, "added": added,
            "reasons": [f"{k}\t{v}" for k, v in sorted(reasons.items())]}


class ShardWorker:
    """Applies a per-record step, a sharded global step with its shared state, or a phased step's decisions
    with its last reduce's state (`Stored`: fetched here, not by the driver) to one shard at a time. `name`:
    what the rejects and the ledger call the step (its id in the recipe)."""

    def __init__(self, step: Step, name: str, scope: Scope, out: Location, state: Any = None):
        self.step, self.name, self.scope, self.out = step, name, scope, out
        self.state = state.get() if isinstance(state, Stored) else state
        if isinstance(step, RecordStep):
            step.setup()

    def decide(self, shard: Shard, records: list[Record]) -> tuple[list[Record], Rejected]:
        if isinstance(self.step, PhasedStep):
            return self.step.decide(self.state, shard.index, records)
        if isinstance(self.step, ShardedStep):
            return self.step.apply_shard(self.state, records)
        assert isinstance(self.step, RecordStep)
        return process_records(self.step, records)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows: dict[str, list[Any]] = {"index": [], "n_in": [], "kept": [], "others": [], "added": [], "reasons": []}
        for shard in shards_in(batch):
            chosen, others = self.scope.split(shard.records())
            kept, rejected = self.decide(shard, chosen)
            added = check_identities(self.name, chosen, kept + [rec for rec, _ in rejected])
            write_shard(self.out, shard.index, self.name, kept, others, rejected)
            for k, v in stats_row(shard.index, len(chosen), len(kept), len(others), rejected, added).items():
                rows[k].append(v)
        return rows
