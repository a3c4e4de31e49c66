"""The local executor: steps on this machine, shard by shard from the work dir, over `workers` processes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..context import RunContext
from ..io.parallel import read_parallel
from ..io.writers import ParquetWriter
from ..ledger import Ledger
from ..mixture import StageMix
from ..pipeline import run_steps
from ..plan import PlannedSource, PlannedStep
from ..recipe.model import Stage
from ..record import cut_tables, empty_table
from ..steps.base import PhasedStep, Record, RecordStep, ShardedStep, Step, drive_phases
from ..workdir import SHARD_ROWS, Entry, WorkDir
from .base import Progress, T
from .local_mixture import write_mixture
from .shard_pool import ShardPool
from .shards import Scope, ShardWorker, commit_shards, run_worker, shards_of
from .shards import run_map as shard_map


def read_source(src: PlannedSource, work: WorkDir, progress: Progress | None = None, workers: int = 1) -> Entry:
    """A source into its entry, streamed: batches go to parquet as they are read (a JSONL file over `workers`
    processes), never all in memory, cut into shards of SHARD_ROWS rows in Arrow whatever the batches' sizes,
    so the entry's bytes do not depend on the workers (the reader's tables are canonical already: meta keys
    sorted as every entry's)."""
    ledger = Ledger()
    with work.pending(src.entry) as pending:
        tick = progress(f"read {src.spec.source_name()}", 0) if progress else None
        writer = ParquetWriter(pending.folder / "records.parquet", row_group_size=SHARD_ROWS)
        for table in cut_tables(read_parallel(src.spec, workers=workers, rejects=pending.rejects, ledger=ledger,
                                              on_progress=tick), SHARD_ROWS):
            writer.write(table)
        if writer.count % SHARD_ROWS == 0:  # rows filling whole shards, or none, end with an empty row group
            writer.write(empty_table())
        writer.close()
        return pending.commit_written(writer.count, ledger, {"source": src.spec.source_name(), "digest": src.digest})


def entry_records(inputs: list[Entry]) -> list[Record]:
    """The records of several entries, in order, read from the work dir."""
    return [r for e in inputs for r in e.records()]


def run_in_process(planned: PlannedStep, step: Step, records: list[Record], work: WorkDir,
                   tags_of: dict[str, list[str]],
                   workers: int, progress: Progress | None) -> tuple[list[Record], Entry]:
    chosen, others = Scope(planned.sources, planned.tags, tags_of).split(records)
    ledger = Ledger()
    with work.pending(planned.entry) as pending:
        # the ledger and rejects name the step as the recipe does
        kept = run_steps(chosen, [step], rejects=pending.rejects, ledger=ledger, workers=workers, progress=progress,
                         names=[planned.id])
        out = kept + others
        entry = pending.commit(out, ledger, {**planned.describe(), "summary": step.summary(),
                                             "passed_through": len(others)})
        return out, entry


def run_sharded(planned: PlannedStep, step: RecordStep | ShardedStep | PhasedStep, inputs: list[Entry],
                work: WorkDir, scope: Scope, pool: ShardPool, progress: Progress | None) -> Entry:
    """A step shard by shard from the work dir (here, or in the pool's processes): a phased step's map phases,
    its reduces here, then its decisions; each shard's output written as it is decided."""
    with work.pending(planned.entry) as pending:
        shards = shards_of(inputs)
        (pending.folder / "records.parquet").mkdir()
        state: Any = step.prepare() if isinstance(step, ShardedStep) else None
        if isinstance(step, PhasedStep):
            def run_map(method: str, state: Any) -> list[tuple[int, Any]]:
                tick = progress(f"{planned.id}: {method}", len(shards)) if progress else None
                tables = pool.map(shard_map, (step, method, state, scope), shards, tick)
                # a reduce follows, here: idle workers would hold their memory through it (hundreds of MB
                # each), so they stop, and the next map starts them again (seconds, once per phase)
                pool.close()
                return [(shard.index, table) for shard, table in zip(shards, tables)]

            state = drive_phases(step, run_map)
        tick = progress(planned.id, len(shards)) if progress else None
        stats = pool.map(run_worker, ShardWorker(step, planned.id, scope, pending.folder, state), shards, tick)
        if isinstance(step, PhasedStep):
            step.finish(state)
        return commit_shards(pending, planned, step, stats)


class LocalExecutor:
    """Every step that can runs shard by shard from the work dir, so the records never all sit in one list;
    global steps that need their records together (LLM steps, review, pairs) get them in this process."""

    name = "local"

    def __init__(self) -> None:
        self.pool: ShardPool | None = None  # worker processes, started by the first step that needs them

    def read(self, sources: list[PlannedSource], work: WorkDir, progress: Progress | None, workers: int = 1) -> None:
        for src in sources:
            read_source(src, work, progress, workers)

    def run_step(self, planned: PlannedStep, step: Step, ctx: RunContext, inputs: list[Entry], work: WorkDir,
                 tags_of: dict[str, list[str]], progress: Progress | None) -> Entry:
        step.setup(ctx)
        if isinstance(step, (RecordStep, ShardedStep, PhasedStep)):
            if self.pool is None or self.pool.workers != ctx.workers:
                self.close()
                self.pool = ShardPool(ctx.workers)
            scope = Scope(planned.sources, planned.tags, tags_of)
            return run_sharded(planned, step, inputs, work, scope, self.pool, progress)
        return run_in_process(planned, step, entry_records(inputs), work, tags_of, ctx.workers, progress)[1]

    def write_mixture(self, inputs: list[Entry], stages: dict[str, Stage], seed: int, tags_of: dict[str, list[str]],
                      out: Path, shard_size: int) -> dict[str, StageMix]:
        return write_mixture(inputs, stages, seed, tags_of, out, shard_size)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
