"""Shards: the row groups of a work-dir entry, each processed by one task and written as its own parts.

A task's files have names fixed by its shard number and each appears whole (`Location.write_table`), so a task
that a killed worker left half done is simply done again: no record is lost or written twice. Sorting the
part names gives the local executor's order: the records a step kept, shard by shard, then the records
outside the step's scope.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..ledger import Ledger, check_identities
from ..pipeline import process_records, reject_rows
from ..recipe.model import in_scope
from ..record import canonical, from_table, to_table, with_empty_fields
from ..rejects import reject_lines
from ..steps.base import PhasedStep, Record, RecordStep, Reject, Rejected, ShardedStep, Step, StepResult
from ..storage import Location
from ..workdir import Entry, Pending
from .stored import Stored

if TYPE_CHECKING:
    from ..plan import PlannedStep



@dataclass(frozen=True)
class Shard:
    index: int
    path: str  # a Location's uri: a plain string travels in a Ray Data row
    row_group: int
    rows: int

    def records(self, fields: frozenset[str] | None = None) -> list[Record]:
        """The shard's records; with `fields`, only those fields are read, the others left empty (meta {})."""
        if fields is None:
            return from_table(self.table())
        parquet = Location.of(self.path).parquet()
        columns = [name for name in parquet.schema_arrow.names if name in fields]
        return from_table(with_empty_fields(parquet.read_row_group(self.row_group, columns=columns)))

    def table(self, columns: list[str] | None = None) -> pa.Table:
        """The shard's rows as stored, or only these columns of them."""
        return Location.of(self.path).parquet().read_row_group(self.row_group, columns=columns)


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
        chosen, others = self.split_rows([r["source"] for r in records])
        return [records[i] for i in chosen], [records[i] for i in others]

    def split_rows(self, sources: list[str]) -> tuple[list[int], list[int]]:
        """The row numbers in the step's scope and those outside it, from the rows' sources."""
        chosen: list[int] = []
        others: list[int] = []
        for row, source in enumerate(sources):
            (chosen if in_scope(source, self.sources, self.tags, self.tags_of) else others).append(row)
        return chosen, others


def write_shard(out: Location, index: int, step_name: str, kept: list[Record] | pa.Table,
                others: list[Record] | pa.Table, rejected: Rejected) -> None:
    """The shard's parts (records, or rows as stored) and rejects; empty parts are not written."""
    for tag, rows in (("0", kept), ("1", others)):
        if len(rows):
            table = rows if isinstance(rows, pa.Table) else to_table(rows)
            (out / "records.parquet" / f"part-{tag}-{index:06d}.parquet").write_table(table, compression="zstd")
    if rejected:
        (out / "rejects.parts" / f"{index:06d}.jsonl").write_bytes(reject_lines(reject_rows(step_name, rejected)))


STATS_COLUMNS = ("index", "n_in", "kept", "others", "added", "reasons", "counts")


def stats_row(index: int, n_in: int, kept: int, others: int, rejected: Rejected, added: int = 0) -> dict[str, Any]:
    """One shard's counts as a row of flat columns (Ray Data carries rows as Arrow): reject reasons and their
    counts as two parallel lists."""
    reasons = sorted(Counter(r.reason for _, r in rejected).items())
    return {"index": index, "n_in": n_in, "kept": kept, "others": others, "added": added,
            "reasons": [k for k, _ in reasons], "counts": [v for _, v in reasons]}


class ShardWorker:
    """Applies a per-record step, a sharded global step with its shared state, or a phased step's decisions
    with its last reduce's state (`Stored`: fetched here, not by the driver) to one shard at a time. `name`:
    what the rejects and the ledger call the step (its id in the recipe)."""

    def __init__(self, step: Step, name: str, scope: Scope, out: Location, state: Any = None):
        self.step, self.name, self.scope, self.out = step, name, scope, out
        self.state = state.get() if isinstance(state, Stored) else state
        if isinstance(step, RecordStep):
            step.load_resources()

    def decide(self, shard: Shard, records: list[Record]) -> StepResult:
        if isinstance(self.step, PhasedStep):
            return self.step.decide(self.state, shard.index, records)
        if isinstance(self.step, ShardedStep):
            return self.step.apply_shard(self.state, records)
        assert isinstance(self.step, RecordStep)
        return StepResult(*process_records(self.step, records))

    def run(self, shard: Shard) -> dict[str, Any]:
        """One shard decided, checked on ids and written; its counts."""
        if isinstance(self.step, PhasedStep):
            rejects = self.step.rejects_at(self.state, shard.index)
            if rejects is not None:
                return self.run_by_position(shard, rejects)
        chosen, others = self.scope.split(shard.records())
        result = self.decide(shard, chosen)
        check_identities(self.name, chosen, result.kept + [rec for rec, _ in result.rejected], result.added,
                         getattr(self.step, "generator", False))
        write_shard(self.out, shard.index, self.name, result.kept, others, result.rejected)
        return stats_row(shard.index, len(chosen), len(result.kept), len(others), result.rejected,
                         len(result.added))

    def run_by_position(self, shard: Shard, rejects: dict[int, Reject]) -> dict[str, Any]:
        """A shard whose step only drops records at known positions: the kept rows and those out of scope are
        written as stored, and only the rejected rows become records (for the rejects file)."""
        table = canonical(shard.table())
        chosen, others = self.scope.split_rows(table.column("source").to_pylist())
        if any(not 0 <= i < len(chosen) for i in rejects):
            raise ValueError(f"{self.name}: shard {shard.index} has {len(chosen)} records in scope, but rejects "
                             f"name positions {sorted(i for i in rejects if not 0 <= i < len(chosen))}")
        dropped = sorted(rejects)
        kept = [row for i, row in enumerate(chosen) if i not in rejects]

        def rows(numbers: list[int]) -> pa.Table:
            return table.take(pa.array(numbers, pa.int64()))

        rejected = list(zip(from_table(rows([chosen[i] for i in dropped])), (rejects[i] for i in dropped)))
        write_shard(self.out, shard.index, self.name, rows(kept), rows(others), rejected)
        return stats_row(shard.index, len(chosen), len(kept), len(others), rejected)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        """A Ray Data batch of shards."""
        rows: dict[str, list[Any]] = {k: [] for k in STATS_COLUMNS}
        for shard in shards_in(batch):
            for k, v in self.run(shard).items():
                rows[k].append(v)
        return rows


def run_worker(worker: ShardWorker, shard: Shard) -> dict[str, Any]:
    return worker.run(shard)


def map_phase(step: PhasedStep, method: str, state: Any, shard: Shard, scope: Scope) -> Any:
    """One shard's table of a map phase, over the shard's records in the step's scope."""
    chosen, _ = scope.split(shard.records(step.map_fields()))
    return getattr(step, method)(state, shard.index, chosen)


def run_map(phase: tuple[PhasedStep, str, Any, Scope], shard: Shard) -> Any:
    step, method, state, scope = phase
    return map_phase(step, method, state, shard, scope)


def commit_shards(pending: Pending, planned: PlannedStep, step: Step, stats: list[dict[str, Any]]) -> Entry:
    """Counts into the ledger, shard rejects into the entry's rejects file (in shard order), then commit."""
    n_in = kept = others = added = 0
    reasons: Counter[str] = Counter()
    for row in stats:  # each shard's identities were checked where it ran (ShardWorker)
        n_in, kept, others = n_in + row["n_in"], kept + row["kept"], others + row["others"]
        added += row["added"]
        reasons.update(dict(zip(row["reasons"], row["counts"])))
    parts = pending.folder / "rejects.parts"
    for path in parts.list("*.jsonl"):
        pending.rejects.append_file(path)
    parts.remove()
    for leftover in (pending.folder / "records.parquet").list("*.tmp-*"):  # from workers killed mid-write
        leftover.remove()
    ledger = Ledger()
    ledger.account(planned.id, records_in=n_in, kept=kept, added=added, reasons=reasons)
    return pending.commit_written(kept + others, ledger, {**planned.describe(), "summary": step.summary(),
                                                          "passed_through": others})
