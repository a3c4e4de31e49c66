"""Progress, decisions by source and reason, and agreement between reviewers (Cohen's kappa)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from .store import ReviewStore


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Agreement beyond chance between two raters over the same items; None without pairs."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[c] * second[c] for c in set(first) | set(second)) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def verdict(decision: str) -> str:
    """Agreement is on keep or drop: an edit keeps the record."""
    return "reject" if decision == "reject" else "accept"


def queue_stats(store: ReviewStore, queue: str) -> dict[str, Any]:
    done, total = store.progress(queue)
    every = store.decisions(queue)
    decisions = [d for d in every if not d["stale"]]
    stale = len(every) - len(decisions)
    by_source: dict[str, Counter] = defaultdict(Counter)
    reasons: Counter = Counter()
    per_record: dict[str, list[str]] = defaultdict(list)
    for d in decisions:
        by_source[d["source"]][d["decision"]] += 1
        if d["decision"] == "reject":
            reasons[d["reason"]] += 1
        per_record[d["record_id"]].append(verdict(d["decision"]))
    pairs = [(v[0], v[1]) for v in per_record.values() if len(v) >= 2]
    kappa = cohen_kappa(pairs)
    return {"queue": queue, "records": total, "decided": done, "progress": done / total if total else 1.0,
            "decisions": len(decisions), "stale_decisions": stale,
            "by_decision": dict(Counter(d["decision"] for d in decisions)),
            "by_source": {s: dict(c) for s, c in sorted(by_source.items())},
            "reject_reasons": dict(reasons.most_common()),
            "reviewers": dict(Counter(d["reviewer"] for d in decisions)),
            "double_reviewed": len(pairs), "agreement": (sum(a == b for a, b in pairs) / len(pairs)) if pairs else None,
            "kappa": kappa}
