"""The runner: applies steps to records, over processes where a step allows it, with rejects and ledger.

Consecutive per-record steps run together on chunks of records; with several workers the chunks go to a
process pool (one trip per chunk for the whole run of steps) and come back in order, so the output is the
same for any number of workers. A global step sees all records at once; a phased one runs its map phases over
threads (`curation.steps.base.run_phases`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .ledger import Ledger, check_identities
from .rejects import RejectWriter, reject
from .steps.base import GlobalStep, PhasedStep, Record, RecordStep, Reject, Rejected, Step, StepResult, run_phases

CHUNK = 2000


def worker_context() -> multiprocessing.context.BaseContext:
    """Workers start from a fresh forkserver, not a fork of this process: polars and torch keep thread pools
    whose locks a fork copies mid-use, and a forked worker that then measures a batch with polars can hang."""
    return multiprocessing.get_context("forkserver")


def process_records(step: RecordStep, records: list[Record]) -> tuple[list[Record], Rejected]:
    step.load_resources()
    kept: list[Record] = []
    rejected: Rejected = []
    try:
        outcomes = step.process_batch(records)
    except Exception:  # the batch as a whole failed: every record goes through `process`, which names its own error
        outcomes = None
    if outcomes is not None:
        for rec, outcome in zip(records, outcomes, strict=True):
            if outcome is None:
                kept.append(rec)
            else:
                rejected.append((rec, outcome if isinstance(outcome, Reject) else Reject(outcome)))
        return kept, rejected
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


def _run_chain(args: tuple[Sequence[RecordStep], list[Record]]) -> tuple[list[Record], list[tuple[int, int, Rejected]]]:
    """A chunk through consecutive per-record steps in one go: one trip to a worker process, not one per step.
    Each step's (in, kept, rejected) is counted where it ran, so the ledger compares counts made apart."""
    steps, records = args
    outcomes = []
    for step in steps:
        n_in = len(records)
        records, rejected = process_records(step, records)
        outcomes.append((n_in, len(records), rejected))
    return records, outcomes


def _groups(steps: Sequence[Step], names: Sequence[str]) -> list[list[tuple[Step, str]]]:
    """Consecutive per-record steps run together; a global step runs alone. Each step with its name."""
    groups: list[list[tuple[Step, str]]] = []
    for step, name in zip(steps, names):
        if isinstance(step, RecordStep) and groups and isinstance(groups[-1][-1][0], RecordStep):
            groups[-1].append((step, name))
        else:
            groups.append([(step, name)])
    return groups


def apply_global(step: GlobalStep, records: list[Record], workers: int) -> StepResult:
    """A global step over all records; a phased one with its map phases over `workers` threads."""
    if isinstance(step, PhasedStep):
        return run_phases(step, records, max(workers, step.threads()))
    return step.apply(records)


def run_steps(
    records: list[Record],
    steps: Sequence[Step],
    *,
    rejects: RejectWriter | None,
    ledger: Ledger,
    workers: int | None = 1,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
    names: Sequence[str] | None = None,
) -> list[Record]:
    """Apply steps in order; each step's in = kept + rejected is recorded and checked. `names`: what the ledger
    and the rejects call each step (a recipe's step ids), the registered names by default."""
    workers = workers or os.cpu_count() or 1
    pool = ProcessPoolExecutor(workers, mp_context=worker_context()) if workers > 1 else None
    try:
        for group in _groups(steps, names or [s.name for s in steps]):
            label = " -> ".join(name for _, name in group)
            tick = progress(label, len(records)) if progress else None
            first, first_name = group[0]
            if isinstance(first, GlobalStep):
                result = apply_global(first, records, workers)
                check_identities(first_name, records, result.kept + [rec for rec, _ in result.rejected],
                                 result.added, first.generator)
                account(first_name, len(records), len(result.kept), result.rejected, rejects, ledger,
                        len(result.added))
                if tick:
                    tick(len(records))
                records = result.kept
                continue
            chunks = [records[i: i + CHUNK] for i in range(0, len(records), CHUNK)]
            jobs = [([step for step, _ in group], c) for c in chunks]
            results = pool.map(_run_chain, jobs) if pool is not None and len(chunks) > 1 else map(_run_chain, jobs)
            counts = [[0, 0] for _ in group]  # records in, kept: per step of the group
            rejected_by: list[Rejected] = [[] for _ in group]
            kept_all: list[Record] = []
            for (kept, outcomes), chunk in zip(results, chunks):
                kept_all += kept
                for k, (n_in, n_kept, rejected) in enumerate(outcomes):
                    counts[k][0] += n_in
                    counts[k][1] += n_kept
                    rejected_by[k] += rejected
                if tick:
                    tick(len(chunk))
            check_identities(label, records, kept_all + [rec for rejected in rejected_by for rec, _ in rejected])
            for (_, name), (n_in, n_kept), rejected in zip(group, counts, rejected_by):
                account(name, n_in, n_kept, rejected, rejects, ledger)
            records = kept_all
    finally:
        if pool is not None:
            pool.shutdown()
    return records


def reject_rows(step_name: str, rejected: Rejected) -> list[dict[str, Any]]:
    """Rejects-file rows for a step's rejected records, pointing at where each record was read."""
    return [reject(step_name, r.reason, record=rec, detail=r.detail,
                   source_file=rec.get("meta", {}).get("provenance", {}).get("file"),
                   locator=rec.get("meta", {}).get("provenance", {}).get("locator"))
            for rec, r in rejected]


def account(name: str, n_in: int, n_kept: int, rejected: Rejected, rejects: RejectWriter | None,
            ledger: Ledger, added: int = 0) -> None:
    """A step's rejects into the rejects file, its counts into the ledger, checked."""
    if rejects is not None:
        rejects.write(reject_rows(name, rejected))
    ledger.account(name, records_in=n_in, kept=n_kept, added=added, reasons=Counter(r.reason for _, r in rejected))


def build_steps(spec: Sequence[tuple[str, dict[str, Any] | None]]) -> list[Step]:
    from .steps import get_step

    return [get_step(name).from_dict(options) for name, options in spec]
