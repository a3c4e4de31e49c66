"""The Ray executor: per-record and sharded steps as Ray Data `map_batches` over work-dir shards; a phased
global step as one task per shard for each map phase, one task for each reduce, its decisions as Ray Data
`map_batches` and its `finish` in a task on this node; LLM requests through a pool of async actors sharing
one rate limit.

The driver handles paths, counts and object refs, never the records of a step that runs sharded or phased, of
the mixture or of the export, nor the tables and states between phases, so its memory does not grow with the
data. The work dir must be reachable from every
node: one machine, a shared filesystem, or object storage (`work_dir: s3://...`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..context import RunContext
from ..errors import MedcurateError
from ..mixture import StageMix
from ..plan import PlannedSource, PlannedStep
from ..recipe.model import Stage
from ..steps.base import Map, PhasedStep, Record, RecordStep, ShardedStep, Step
from ..workdir import Entry, Pending, WorkDir
from .base import Progress, T
from .local import entry_records, read_source, run_in_process
from .shards import Scope, Shard, ShardWorker, commit_shards, map_phase, shards_of
from .stored import Stored

if TYPE_CHECKING:
    from .config import ExecutorConfig


class RayExecutor:
    name = "ray"

    def __init__(self, config: ExecutorConfig):
        try:
            import ray
        except ImportError:
            raise MedcurateError("executor 'ray' needs Ray: pip install 'medcurate[ray]'") from None

        self.ray = ray
        self.config = config
        self.owns = not ray.is_initialized()
        if self.owns:
            where = {"address": config.address} if config.address else {"num_cpus": config.num_cpus}
            try:
                ray.init(**where, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise MedcurateError(f"executor ray: cannot start or join Ray at {config.address or 'this machine'}: "
                                     f"{e}") from None
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # a line per dataset would bury the run's own
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # shards come back in order: the output is the local one
        context.enable_progress_bars = False
        self.workers = config.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # the output folder is local to this node: the tasks that write it run here
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)

    def read(self, sources: list[PlannedSource], work: WorkDir, progress: Progress | None, workers: int = 1) -> None:
        """Each source file is read by its own task (in one process: the cluster's parallelism is the tasks)."""
        task = self.ray.remote(read_source)
        self.ray.get([task.remote(src, work) for src in sources])

    def records(self, inputs: list[Entry]) -> list[Record]:
        return entry_records(inputs)

    def write_mixture(self, inputs: list[Entry], stages: dict[str, Stage], seed: int, tags_of: dict[str, list[str]],
                      out: Path, shard_size: int) -> dict[str, StageMix]:
        from .ray_mixture import write_mixture

        return write_mixture(self, inputs, stages, seed, tags_of, out, shard_size)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn` in a task on this node (it writes the output folder), so its memory is not the driver's."""
        return self.ray.get(self.ray.remote(fn).options(scheduling_strategy=self.here).remote(*args))

    def run_step(self, planned: PlannedStep, step: Step, ctx: RunContext, inputs: list[Entry], work: WorkDir,
                 tags_of: dict[str, list[str]], progress: Progress | None) -> Entry:
        scope = Scope(planned.sources, planned.tags, tags_of)
        pool = None
        if getattr(step, "uses_llm", False):  # its remote requests go through a pool of actors sharing one limit
            from ..llm.shared import LLMPool

            pool = LLMPool(self.config.llm_actors)
        step.setup(replace(ctx, executor=self.name, workers=self.workers, llm_backends=pool or ctx.llm_backends))
        try:
            if isinstance(step, (RecordStep, ShardedStep, PhasedStep)):
                return self.run_sharded(planned, step, inputs, work, scope, progress)
            # other global steps (LLM steps, review) see their records here, as locally
            return run_in_process(planned, step, self.records(inputs), work, tags_of, 1, progress)[1]
        finally:
            if pool is not None:
                pool.close()

    def run_sharded(self, planned: PlannedStep, step: RecordStep | ShardedStep | PhasedStep, inputs: list[Entry],
                    work: WorkDir, scope: Scope, progress: Progress | None) -> Entry:
        """A step whose records never come to the driver: shards to actors, phases to tasks."""
        with work.pending(planned.entry) as pending:
            shards = shards_of(inputs)
            state: Any = step.prepare() if isinstance(step, ShardedStep) else None
            if isinstance(step, PhasedStep):
                state = self.run_phases(step, shards, scope, progress, planned.id)
            stats = self.map_shards(pending, shards, ShardWorker,
                                    (step, planned.id, scope, pending.folder, state), progress, planned.id)
            if isinstance(step, PhasedStep):
                self.ray.get(self.ray.remote(finish_phase).options(scheduling_strategy=self.here)
                             .remote(step, state.refs[0]))
            return commit_shards(pending, planned, step, stats)

    def run_phases(self, step: PhasedStep, shards: list[Shard], scope: Scope, progress: Progress | None,
                   label: str) -> Stored:
        """The step's map and reduce phases: a task per shard for a map, whose tables stay in the object store
        until one task on this node (where the recipe's files are) reduces them; the last state, by reference."""
        ray = self.ray
        step_ref = ray.put(step)
        state = ray.put(None)
        tables: list[tuple[int, Any]] = []
        for phase in step.phases():
            total = len(shards) if isinstance(phase, Map) else 1
            tick = progress(f"{label}: {phase.method}", total) if progress else None
            if isinstance(phase, Map):
                task = ray.remote(map_phase).options(num_cpus=1)
                shared = (ray.remote(shared_view).options(scheduling_strategy=self.here).remote(phase, state)
                          if phase.shares else state)
                tables = [(s.index, task.remote(step_ref, phase.method, shared, s, scope)) for s in shards]
                pending = [ref for _, ref in tables]
                while pending:  # the driver waits for refs, never fetches a table
                    done, pending = ray.wait(pending, num_returns=1, fetch_local=False)
                    if tick:
                        tick(len(done))
                continue
            task = ray.remote(reduce_phase).options(num_cpus=1, num_returns=2, scheduling_strategy=self.here)
            state, done = task.remote(step_ref, phase.method, state, [k for k, _ in tables],
                                      *[ref for _, ref in tables])
            ray.get(done)  # a failed map or reduce raises here, with its own error
            tables = []
            if tick:
                tick(1)
        return Stored((state,))

    def map_shards(self, pending: Pending, shards: list[Shard], worker: type, args: tuple[Any, ...],
                   progress: Progress | None, label: str) -> list[dict[str, Any]]:
        """One actor pool over the shards; what comes back to the driver is each shard's counts."""
        (pending.folder / "records.parquet").mkdir()
        if not shards:
            return []
        ray = self.ray
        tick = progress(label, len(shards)) if progress else None
        ds = ray.data.from_items([asdict(s) for s in shards], override_num_blocks=len(shards))
        ds = ds.map_batches(worker, fn_constructor_args=args, batch_size=1, num_cpus=1,
                            compute=ray.data.ActorPoolStrategy(size=min(self.workers, len(shards))))
        rows = []
        for row in ds.iter_rows():
            rows.append(dict(row))
            if tick:
                tick(1)
        return sorted(rows, key=lambda r: r["index"])

    def close(self) -> None:
        if self.owns:
            self.ray.shutdown()


def shared_view(phase: Map, state: Any) -> Any:
    """(In a task.) The part of a reduce's state a map phase is given, so its tasks load only that."""
    return phase.view(state)


def reduce_phase(step: PhasedStep, method: str, state: Any, shards: list[int], *tables: Any) -> tuple[Any, bool]:
    """(In a task.) A reduce over the map phase's tables, in shard order; the state, and a flag the driver
    fetches instead of the state to learn that it is ready."""
    return getattr(step, method)(state, list(zip(shards, tables))), True


def finish_phase(step: PhasedStep, state: Any) -> None:
    """(In a task on this node: a report is written beside the recipe.)"""
    step.finish(state)
