"""Format auto-detection over a sample of rows, with a clear message when it is ambiguous."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..errors import MedcurateError
from .formats import FORMATS


def candidates(row: Any) -> list[str]:
    """Formats whose shape this row has; a structured format shadows the plain-text fallback."""
    names = [f.name for f in FORMATS.values() if f.matches(row)]
    if "canonical" in names:
        return ["canonical"]
    structured = [n for n in names if FORMATS[n].structured]
    return structured or names


def _keys(row: Any) -> str:
    if isinstance(row, dict):
        return "keys " + ", ".join(sorted(k for k in row if k != "__key__"))[:200]
    return f"a {type(row).__name__}"


def detect_format(path: str, sample: list[tuple[str, Any]]) -> str:
    """Pick the format most sampled rows match; refuse to guess between equally good ones."""
    if not sample:
        raise MedcurateError(f"{path}: no readable records to detect the format from")
    counts: Counter[str] = Counter()
    example: dict[str, tuple[str, Any]] = {}
    for loc, row in sample:
        for name in candidates(row):
            counts[name] += 1
            example.setdefault(name, (loc, row))
    if not counts:
        loc, row = sample[0]
        raise MedcurateError(
            f"{path}: unknown format: {loc} has {_keys(row)}, which matches no known format "
            f"({', '.join(FORMATS)}). Pass --format, and --fields to map your column names "
            "(e.g. --fields question=Frage,answer=Antwort)."
        )
    best = counts.most_common()
    top = [name for name, n in best if n == best[0][1]]
    if len(top) > 1:
        loc, row = example[top[0]]
        raise MedcurateError(
            f"{path}: ambiguous format: rows match {' and '.join(repr(t) for t in top)} equally "
            f"(e.g. {loc} has {_keys(row)}). Pass --format {top[0]} (or one of {', '.join(top[1:])})."
        )
    return top[0]
