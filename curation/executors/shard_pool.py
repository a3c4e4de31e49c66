"""Shards on this machine: a function over work-dir shards, here or in worker processes, one shard in memory
per worker at a time.

What every shard needs (the step, a phase's state) reaches each worker once, when the pool starts, and is
held for the pool's life in the worker's own module state: sent with every shard instead, a step's state (a
dedupe's verdicts, a benchmark index) would be pickled once per shard and cost more than the shard. Only the
shard's address goes out and only its small result comes back, so the parent's memory does not grow with
the data.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from ..pipeline import worker_context
from .shards import Shard

R = TypeVar("R")
Task = Callable[[Any, Shard], R]

# In a worker process only: what its pool's initializer received (see the module's docstring).
_shared: list[Any] = []


def _start(shared: Any) -> None:
    _shared[:] = [shared]


def _run(fn: Task, shard: Shard) -> Any:
    return fn(_shared[0], shard)


def map_shards(fn: Task[R], shared: Any, shards: list[Shard], workers: int,
               tick: Callable[[int], None] | None = None) -> list[R]:
    """`fn(shared, shard)` for every shard, results in shard order. With one worker (or one shard) it runs in
    this process; otherwise in `workers` processes from a forkserver (a fork would copy the thread pools of
    polars and torch mid-use), each given `shared` once."""
    if workers <= 1 or len(shards) <= 1:
        out = []
        for shard in shards:
            out.append(fn(shared, shard))
            if tick:
                tick(1)
        return out
    with ProcessPoolExecutor(min(workers, len(shards)), mp_context=worker_context(), initializer=_start,
                             initargs=(shared,)) as pool:
        futures = [pool.submit(_run, fn, shard) for shard in shards]
        out = []
        for future in futures:
            out.append(future.result())
            if tick:
                tick(1)
        return out
