"""The ledger: for every reader and step, records in = kept + rejected, checked on every run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .errors import MedcurateError


class LedgerMismatch(MedcurateError):
    pass


@dataclass
class StepCounts:
    """One reader's or step's counts; `check` holds them to in + added = kept + rejected."""

    name: str
    records_in: int = 0
    kept: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    added: int = 0  # records a step created (translations, synthetic pairs), not counted in `records_in`

    def check(self) -> None:
        if self.records_in + self.added != self.kept + self.rejected:
            raise LedgerMismatch(
                f"ledger for '{self.name}' does not add up: {self.records_in} in + {self.added} added "
                f"!= {self.kept} kept + {self.rejected} rejected"
            )
        if sum(self.reasons.values()) != self.rejected:
            raise LedgerMismatch(f"ledger for '{self.name}': reasons do not sum to {self.rejected} rejected")


def check_identities(step: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> int:
    """Every input id leaves the step exactly once (kept or rejected); every other record it returns names an
    input as its parent. Counting alone cannot tell a lost record from an invented one, so ids are compared.
    Returns the number of added records."""
    want = Counter(r["id"] for r in inputs)
    got = Counter(r["id"] for r in outputs if r["id"] in want)
    for rid, n in want.items():
        if got[rid] != n:
            what = "lost" if got[rid] < n else f"returned {got[rid]} times"
            raise LedgerMismatch(f"step '{step}': record {rid} {what}; every input must be kept or rejected once")
    added = [r for r in outputs if r["id"] not in want]
    for r in added:
        if r.get("parent_id") not in want:
            raise LedgerMismatch(f"step '{step}': record {r['id']} was added without naming an input as its parent "
                                 f"(parent_id {r.get('parent_id')!r})")
    return len(added)


class Ledger:
    """Counts per stage, kept in insertion order so reports read in pipeline order."""

    def __init__(self) -> None:
        self.entries: dict[str, StepCounts] = {}

    def entry(self, name: str) -> StepCounts:
        if name not in self.entries:
            self.entries[name] = StepCounts(name)
        return self.entries[name]

    def record(
        self, name: str, *, records_in: int, kept: int, rejected_reasons: list[str], added: int = 0
    ) -> None:
        e = self.entry(name)
        e.records_in += records_in
        e.kept += kept
        e.added += added
        e.rejected += len(rejected_reasons)
        e.reasons.update(rejected_reasons)

    def check(self) -> None:
        for e in self.entries.values():
            e.check()

    def to_dict(self) -> dict[str, Any]:
        return {
            name: {
                "in": e.records_in,
                "added": e.added,
                "kept": e.kept,
                "rejected": e.rejected,
                "reasons": dict(sorted(e.reasons.items())),
            }
            for name, e in self.entries.items()
        }
