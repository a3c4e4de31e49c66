"""The local executor: steps run in this process (per-record steps over `workers` processes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..export import write_mixture
from ..io.reader import read_batches
from ..io.writers import ParquetWriter
from ..ledger import Ledger
from ..mixture import StageMix, mix_all, selected_rows
from ..pipeline import run_steps
from ..plan import PlannedSource, PlannedStep
from ..recipe.model import Stage
from ..record import from_table, to_table
from ..steps.base import Record, Step
from ..workdir import SHARD_ROWS, Entry, WorkDir
from .base import Progress, T
from .shards import Scope


def read_source(src: PlannedSource, work: WorkDir, progress: Progress | None = None) -> Entry:
    """A source into its entry, streamed: batches go to parquet as they are read, never all in memory."""
    pending = work.pending(src.entry)
    ledger = Ledger()
    try:
        tick = progress(f"read {src.spec.source_name()}", 0) if progress else None
        writer = ParquetWriter(pending.folder / "records.parquet", row_group_size=SHARD_ROWS)
        buffered: list[Record] = []
        for table in read_batches(src.spec, rejects=pending.rejects, ledger=ledger, on_progress=tick):
            buffered.extend(from_table(table))  # through the record model: meta keys sorted as every entry's
            if len(buffered) >= SHARD_ROWS:
                writer.write(to_table(buffered[:SHARD_ROWS]))
                buffered = buffered[SHARD_ROWS:]
        writer.write(to_table(buffered))
        writer.close()
        return pending.commit_written(writer.count, ledger, {"source": src.spec.source_name(), "digest": src.digest})
    except BaseException:
        pending.abandon()
        raise


def entry_records(inputs: list[Entry]) -> list[Record]:
    """The records of several entries, in order, read from the work dir."""
    return [r for e in inputs for r in e.records()]


def run_in_process(planned: PlannedStep, step: Step, records: list[Record], work: WorkDir,
                   tags_of: dict[str, list[str]],
                   workers: int, progress: Progress | None) -> tuple[list[Record], Entry]:
    chosen, others = Scope(planned.sources, planned.tags, tags_of).split(records)
    pending = work.pending(planned.entry)
    ledger = Ledger()
    try:
        # the ledger and rejects name the step as the recipe does
        kept = run_steps(chosen, [step], rejects=pending.rejects, ledger=ledger, workers=workers, progress=progress,
                         names=[planned.id])
        out = kept + others
        entry = pending.commit(out, ledger, {**planned.describe(), "summary": step.summary(),
                                             "passed_through": len(others)})
        return out, entry
    except BaseException:
        pending.abandon()
        raise


class LocalExecutor:
    """Keeps the last step's output in memory, so consecutive steps do not reread the work dir."""

    name = "local"

    def __init__(self) -> None:
        self._last: tuple[list[Entry], list[Record]] | None = None

    def read(self, sources: list[PlannedSource], work: WorkDir, progress: Progress | None) -> None:
        for src in sources:
            read_source(src, work, progress)

    def records(self, inputs: list[Entry]) -> list[Record]:
        if self._last is not None and [e.path.path for e in self._last[0]] == [e.path.path for e in inputs]:
            return self._last[1]
        return entry_records(inputs)

    def run_step(self, planned: PlannedStep, step: Step, inputs: list[Entry], work: WorkDir,
                 tags_of: dict[str, list[str]], workers: int, progress: Progress | None) -> Entry:
        out, entry = run_in_process(planned, step, self.records(inputs), work, tags_of, workers, progress)
        self._last = ([entry], out)
        return entry

    def write_mixture(self, inputs: list[Entry], stages: dict[str, Stage], seed: int, tags_of: dict[str, list[str]],
                      out: Path, shard_size: int) -> dict[str, StageMix]:
        records = self.records(inputs)
        mixes = mix_all(stages, selected_rows(stages, records, tags_of), seed=seed)
        write_mixture(mixes, records, out, shard_size)
        return {name: mix.without_rows() for name, mix in mixes.items()}

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)

    def close(self) -> None:
        self._last = None
