"""The runner: applies steps to records, over processes where a step allows it, with rejects and ledger.

Consecutive per-record steps run together on chunks of records; with several workers the chunks go to a
process pool (one trip per chunk for the whole run of steps) and come back in order, so the output is the
same for any number of workers. A global step sees all records at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .ledger import Ledger, check_identities
from .rejects import RejectWriter, reject
from .steps.base import GlobalStep, Record, RecordStep, Reject, Step

CHUNK = 2000
Rejected = list[tuple[Record, Reject]]


def process_records(step: RecordStep, records: list[Record]) -> tuple[list[Record], Rejected]:
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


def _run_chain(args: tuple[Sequence[RecordStep], list[Record]]) -> tuple[list[Record], list[tuple[int, Rejected]]]:
    """A chunk through consecutive per-record steps in one go: one trip to a worker process, not one per step."""
    steps, records = args
    outcomes = []
    for step in steps:
        n_in = len(records)
        records, rejected = process_records(step, records)
        outcomes.append((n_in, rejected))
    return records, outcomes


def _groups(steps: Sequence[Step]) -> list[list[Step]]:
    """Consecutive per-record steps run together; a global step runs alone."""
    groups: list[list[Step]] = []
    for step in steps:
        if isinstance(step, RecordStep) and groups and isinstance(groups[-1][-1], RecordStep):
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups


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
        for group in _groups(steps):
            label = " -> ".join(s.name for s in group)
            tick = progress(label, len(records)) if progress else None
            if isinstance(group[0], GlobalStep):
                n_in = len(records)
                kept, rejected = group[0].apply(records)
                added = check_identities(group[0].name, records, kept + [rec for rec, _ in rejected])
                _account(group[0], n_in, len(kept), rejected, rejects, ledger, added)
                if tick:
                    tick(n_in)
                records = kept
                continue
            chunks = [records[i: i + CHUNK] for i in range(0, len(records), CHUNK)]
            jobs = [(group, c) for c in chunks]
            results = pool.map(_run_chain, jobs) if pool is not None and len(chunks) > 1 else map(_run_chain, jobs)
            totals = [[0, []] for _ in group]
            kept_all: list[Record] = []
            for (kept, outcomes), chunk in zip(results, chunks):
                kept_all += kept
                for k, (n_in, rejected) in enumerate(outcomes):
                    totals[k][0] += n_in
                    totals[k][1] += rejected
                if tick:
                    tick(len(chunk))
            check_identities(label, records, kept_all + [rec for _, rejected in totals for rec, _ in rejected])
            survivors = len(records)
            for step, (n_in, rejected) in zip(group, totals):
                survivors -= len(rejected)
                _account(step, n_in, survivors, rejected, rejects, ledger, 0)
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


def _account(step: Step, n_in: int, n_kept: int, rejected: Rejected, rejects: RejectWriter | None,
             ledger: Ledger, added: int) -> None:
    if rejects is not None:
        rejects.write(reject_rows(step.name, rejected))
    ledger.record(step.name, records_in=n_in, kept=n_kept, added=added,
                  rejected_reasons=[r.reason for _, r in rejected])
    ledger.entry(step.name).check()


def build_steps(spec: Sequence[tuple[str, dict[str, Any] | None]]) -> list[Step]:
    from .steps import get_step

    return [get_step(name).from_dict(options) for name, options in spec]
