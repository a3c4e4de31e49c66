"""Which records a queue holds: a sample, a stratified sample, low judge scores, derived records, or all."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_REASONS = ["medically incorrect", "unsafe advice", "bad translation", "incomplete answer",
                   "contains personal data", "off-topic", "other"]


class QueuePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    select: Literal["sample", "stratified", "below_score", "derived", "all"] = Field(
        "sample", description="sample: random; stratified: proportional per group; below_score: every record "
        "whose score is under the threshold; derived: every translated or synthesized record; all.")
    size: int | None = Field(200, ge=1, description="Most records in the queue (None: no limit).")
    seed: int = 0
    stratify_by: list[Literal["source", "lang", "origin"]] = Field(["source", "lang"])
    score: str = Field("meta.judge.overall", description="below_score: dotted path of the score.")
    threshold: float = Field(3.0, description="below_score: records scoring under this (or unscored) are queued.")
    double: float = Field(0.0, ge=0, le=1, description="Share of the queue decided by two reviewers, for "
                                                       "agreement (Cohen's kappa).")
    reasons: list[str] = Field(default_factory=lambda: list(DEFAULT_REASONS), min_length=1,
                               description="Reasons a reviewer picks from when rejecting.")


def _below(record: dict[str, Any], policy: QueuePolicy) -> bool:
    from ..record import dotted

    value = dotted(record, policy.score)
    return not isinstance(value, (int, float)) or value < policy.threshold


def group_key(record: dict[str, Any], by: list[str]) -> tuple[str, ...]:
    return tuple(str(record.get(k) or "none") for k in by)


def _stratified(records: list[dict[str, Any]], size: int, by: list[str], rng: random.Random) -> list[int]:
    from ..mixture import largest_remainder

    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        groups[group_key(rec, by)].append(i)
    quotas = largest_remainder({g: float(len(v)) for g, v in groups.items()}, size)
    picked: list[int] = []
    for g in sorted(groups):
        n = max(1, quotas.get(g, 0)) if len(picked) < size else 0  # every group shows up when it can
        picked += rng.sample(groups[g], min(n, len(groups[g])))
    return picked[:size] if len(picked) > size else picked


def select(records: list[dict[str, Any]], policy: QueuePolicy) -> list[int]:
    """Indices of the records to queue, in the order they are reviewed (seeded)."""
    rng = random.Random(policy.seed)
    if policy.select == "below_score":
        chosen = [i for i, r in enumerate(records) if _below(r, policy)]
    elif policy.select == "derived":
        chosen = [i for i, r in enumerate(records) if r.get("origin") or r.get("parent_id")]
    else:
        chosen = list(range(len(records)))
    size = policy.size if policy.size is not None else len(chosen)
    if policy.select == "stratified" and size < len(chosen):
        chosen = _stratified(records, size, policy.stratify_by, rng)
    elif len(chosen) > size:
        chosen = rng.sample(chosen, size)
    rng.shuffle(chosen)
    return chosen
