"""The ledger: for every reader and step, records in = kept + rejected, checked on every run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
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


def check_identities(step: str, inputs: Sequence[dict[str, Any]], outputs: Sequence[dict[str, Any]],
                     added: Sequence[dict[str, Any]] = (), generator: bool = False) -> None:
    """Every input id leaves the step exactly once (kept or rejected); every other record it returns is one the
    step declared as `added`, leaves once, and names an input as its parent (a generator's may name none).
    Counting alone cannot tell a lost record from an invented one, so ids are compared."""
    want = Counter(r["id"] for r in inputs)
    got = Counter(r["id"] for r in outputs)
    for rid, n in want.items():
        if got[rid] != n:
            what = "lost" if got[rid] < n else f"returned {got[rid]} times"
            raise LedgerMismatch(f"step '{step}': record {rid} {what}; every input must be kept or rejected once")
    # ids are content hashes, so two added records may share one (two failed translations, both empty): an
    # added id must come out exactly as many times as the step declared it
    declared = Counter(r["id"] for r in added)
    for rid, n in got.items():
        if rid in want:
            continue
        if rid not in declared:
            raise LedgerMismatch(f"step '{step}': record {rid} was returned but is neither an input nor declared "
                                 f"as added")
        if n != declared[rid]:
            raise LedgerMismatch(f"step '{step}': added record {rid} returned {n} times, declared "
                                 f"{declared[rid]} times")
    for r in added:
        rid = r["id"]
        if rid in want or rid not in got:
            what = "is one of its inputs" if rid in want else "is neither kept nor rejected"
            raise LedgerMismatch(f"step '{step}': record {rid} declared as added {what}")
        if not generator and r.get("parent_id") not in want:
            raise LedgerMismatch(f"step '{step}': record {rid} was added without naming an input as its parent "
                                 f"(parent_id {r.get('parent_id')!r})")


class Ledger:
    """Counts per stage, kept in insertion order so reports read in pipeline order."""

    def __init__(self) -> None:
        self.entries: dict[str, StepCounts] = {}

    def entry(self, name: str) -> StepCounts:
        if name not in self.entries:
            self.entries[name] = StepCounts(name)
        return self.entries[name]

    def record(self, name: str, *, records_in: int, kept: int, reasons: Mapping[str, int], added: int = 0) -> None:
        """Add one reader's or step's counts (a step may come in parts: shards, chunks, cached entries);
        `reasons`: reject reason -> records."""
        e = self.entry(name)
        e.records_in += records_in
        e.kept += kept
        e.added += added
        e.rejected += sum(reasons.values())
        e.reasons.update(reasons)

    def account(self, name: str, *, records_in: int, kept: int, reasons: Mapping[str, int], added: int = 0) -> None:
        """A step's whole outcome, recorded and checked at once: in + added = kept + rejected."""
        self.record(name, records_in=records_in, kept=kept, reasons=reasons, added=added)
        self.entry(name).check()

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
