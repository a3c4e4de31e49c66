"""Shards on this machine: a function over work-dir shards, here or in worker processes, one shard in memory
per worker at a time.

The worker processes start once per run and serve every step and phase: starting them (a fresh interpreter
that imports the project) costs seconds, once per phase otherwise. What every shard of a phase needs (the
step, a phase's state: a dedupe's verdicts, a benchmark index) is pickled once to a file; a task carries only
that file's path and its shard's address, and a worker loads the file when it meets a path it has not loaded
yet, keeping the one it loaded last in its own module state. Only each shard's small result comes back, so
the parent's memory does not grow with the data.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..pipeline import worker_context
from .shards import Shard

R = TypeVar("R")
Task = Callable[[Any, Shard], R]

# In a worker process only: the shared object it loaded last, by its file's path (see the module's docstring).
_loaded: dict[str, Any] = {}


def _run(fn: Task, path: str, shard: Shard) -> Any:
    if path not in _loaded:
        _loaded.clear()
        with open(path, "rb") as fh:
            _loaded[path] = pickle.load(fh)
    return fn(_loaded[path], shard)


class ShardPool:
    """`workers` processes from a forkserver (a fork would copy the thread pools of polars and torch mid-use),
    started on first use and kept until `close`; with one worker, or one shard, the work runs here."""

    def __init__(self, workers: int):
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self.folder: Path | None = None
        self.phases = 0

    def map(self, fn: Task[R], shared: Any, shards: list[Shard],
            tick: Callable[[int], None] | None = None) -> list[R]:
        """`fn(shared, shard)` for every shard, results in shard order."""
        if self.workers <= 1 or len(shards) <= 1:
            return [self._ticked(fn(shared, shard), tick) for shard in shards]
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=worker_context())
            self.folder = Path(tempfile.mkdtemp(prefix="medcurate-shared-"))
        assert self.folder is not None
        self.phases += 1
        path = self.folder / f"{self.phases}.pickle"
        path.write_bytes(pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL))
        try:
            futures = [self.pool.submit(_run, fn, str(path), shard) for shard in shards]
            return [self._ticked(future.result(), tick) for future in futures]
        finally:
            path.unlink()

    @staticmethod
    def _ticked(result: R, tick: Callable[[int], None] | None) -> R:
        if tick:
            tick(1)
        return result

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
