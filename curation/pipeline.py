"""The runner: applies steps to records, over processes where a step allows it, with rejects and ledger.

Per-record steps run on chunks; with several workers the chunks go to a process pool and come back in
order, so the output is the same for any number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .ledger import Ledger
from .rejects import RejectWriter, reject
from .steps.base import GlobalStep, Record, RecordStep, Reject, Step

CHUNK = 2000
Rejected = list[tuple[Record, Reject]]


def _run_chunk(step: RecordStep, records: list[Record]) -> tuple[list[Record], Rejected]:
    step.setup()
    kept: list[Record] = []
    rejected: Rejected = []
    for rec in records:
        try:
            outcome = step.process(rec)
        except Reject as r:
            outcome = r
        except Exception as e:  # a step must never lose a record: an unexpected failure is a reject
            outcome = Reject("step error", {"error": f"{type(e).__name__}: {e}"})
        if outcome is None:
            kept.append(rec)
        else:
            rejected.append((rec, outcome if isinstance(outcome, Reject) else Reject(outcome)))
    return kept, rejected


def _pool_task(args: tuple[RecordStep, list[Record]]) -> tuple[list[Record], Rejected]:
    return _run_chunk(*args)


def apply_step(
    step: Step,
    records: list[Record],
    *,
    workers: int = 1,
    pool: ProcessPoolExecutor | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[Record], Rejected]:
    if isinstance(step, GlobalStep):
        kept, rejected = step.apply(records)
        if on_progress:
            on_progress(len(records))
        return kept, rejected
    assert isinstance(step, RecordStep)
    chunks = [records[i: i + CHUNK] for i in range(0, len(records), CHUNK)]
    kept, rejected = [], []
    if workers > 1 and len(chunks) > 1:
        own = pool is None
        pool = pool or ProcessPoolExecutor(workers)
        try:
            results = pool.map(_pool_task, [(step, c) for c in chunks])
            for (k, r), c in zip(results, chunks):
                kept += k
                rejected += r
                if on_progress:
                    on_progress(len(c))
        finally:
            if own:
                pool.shutdown()
    else:
        for c in chunks:
            k, r = _run_chunk(step, c)
            kept += k
            rejected += r
            if on_progress:
                on_progress(len(c))
    return kept, rejected


def run_steps(
    records: list[Record],
    steps: Sequence[Step],
    *,
    rejects: RejectWriter | None,
    ledger: Ledger,
    workers: int | None = 1,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> list[Record]:
    """Apply steps in order; each step's in = kept + rejected is recorded and checked."""
    workers = workers or os.cpu_count() or 1
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        for step in steps:
            n_in = len(records)
            tick = progress(step.name, n_in) if progress else None
            kept, rejected = apply_step(step, records, workers=workers, pool=pool, on_progress=tick)
            if rejects is not None:
                rejects.write([reject(step.name, r.reason, record=rec, detail=r.detail,
                                      source_file=rec.get("meta", {}).get("provenance", {}).get("file"),
                                      locator=rec.get("meta", {}).get("provenance", {}).get("locator"))
                               for rec, r in rejected])
            ledger.record(step.name, records_in=n_in, kept=len(kept),
                          rejected_reasons=[r.reason for _, r in rejected])
            ledger.entry(step.name).check()
            records = kept
    finally:
        if pool is not None:
            pool.shutdown()
    return records


def build_steps(spec: Sequence[tuple[str, dict[str, Any] | None]]) -> list[Step]:
    from .steps import get_step

    return [get_step(name).from_dict(options) for name, options in spec]
