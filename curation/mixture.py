"""Stage mixtures: which records each training stage sees, how often, and which are held out for validation.

The arithmetic works on cells of (source, language). The validation split is taken first, per cell, from
distinct records, so no record is both trained on and validated against. A cell's training target is its
share of the stage size: languages get shares ∝ (weighted count)^(1/T) and, within a language, sources
share by weight × count; `epochs` fixes a source's count instead. A cell never exceeds `max_upsample`
passes over its records; what a capped cell cannot take goes to the cells that can (water-filling).
Every random choice is seeded by the recipe seed and the cell's name, so a re-run gives the same mix.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .recipe.model import Stage, in_scope
from .record import dotted
from .steps.base import Record

Cell = tuple[str, str]


@dataclass
class CellPlan:
    source: str
    lang: str
    available: int
    validation: int = 0
    target: float = 0.0
    taken: int = 0
    capped: bool = False

    @property
    def train_pool(self) -> int:
        return self.available - self.validation


@dataclass
class StageMix:
    name: str
    train: list[Record]
    validation: list[Record]
    cells: list[CellPlan]
    replayed: int = 0
    shortfall: int = 0
    report: dict[str, Any] = field(default_factory=dict)


def rng_for(seed: int, *parts: str) -> np.random.Generator:
    digest = hashlib.blake2b("\x1f".join((str(seed), *parts)).encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def selects(stage: Stage, record: Record, tags_of: dict[str, list[str]]) -> bool:
    if not in_scope(record["source"], stage.sources, stage.tags, tags_of):
        return False
    if stage.tasks and record["task"] not in stage.tasks:
        return False
    if stage.langs and (record.get("lang") or "unknown") not in stage.langs:
        return False
    if stage.reviewed == "accepted" and dotted(record, "meta.review.decision") not in ("accept", "edit"):
        return False
    for path, minimum in stage.min_scores.items():
        value = dotted(record, path)
        if not isinstance(value, (int, float)) or value < minimum:
            return False
    return True


def largest_remainder(shares: dict[Cell, float], total: int) -> dict[Cell, int]:
    """Integers proportional to `shares` that sum exactly to `total` (ties broken by cell name)."""
    s = sum(shares.values())
    if s <= 0 or total <= 0:
        return {c: 0 for c in shares}
    exact = {c: total * v / s for c, v in shares.items()}
    out = {c: int(np.floor(v)) for c, v in exact.items()}
    rest = total - sum(out.values())
    for c in sorted(exact, key=lambda c: (-(exact[c] - out[c]), c))[:rest]:
        out[c] += 1
    return out


def cell_shares(cells: dict[Cell, int], stage: Stage) -> dict[Cell, float]:
    """Temperature over languages, weight × count within a language."""
    mass = {c: stage.weights.get(c[0], 1.0) * n for c, n in cells.items()}
    by_lang: dict[str, float] = defaultdict(float)
    for (_, lang), m in mass.items():
        by_lang[lang] += m
    lang_p = {lang: m ** (1.0 / stage.temperature) for lang, m in by_lang.items() if m > 0}
    z = sum(lang_p.values())
    return {c: (lang_p[c[1]] / z) * (m / by_lang[c[1]]) if m > 0 else 0.0 for c, m in mass.items()}


def cell_targets(cells: dict[Cell, int], stage: Stage, size: int) -> tuple[dict[Cell, int], set[Cell]]:
    """Integer counts per cell summing to `size` where the caps allow; returns the capped cells too."""
    caps = {c: int(np.floor(n * stage.max_upsample)) for c, n in cells.items()}
    shares = cell_shares(cells, stage)
    fixed: dict[Cell, int] = {}
    capped: set[Cell] = set()
    while True:
        free = {c: s for c, s in shares.items() if c not in fixed}
        counts = largest_remainder(free, size - sum(fixed.values()))
        over = {c for c, k in counts.items() if k > caps[c]}
        if not over:
            return {**fixed, **counts}, capped
        for c in over:
            fixed[c] = caps[c]
            capped.add(c)


def take(records: list[Record], k: int, rng: np.random.Generator) -> list[Record]:
    """k records: whole passes over all of them, then a sample without replacement for the remainder."""
    n = len(records)
    if n == 0 or k <= 0:
        return []
    full, rest = divmod(k, n)
    picked = list(records) * full
    picked += [records[i] for i in sorted(rng.choice(n, size=rest, replace=False))]
    return picked


def mix_stage(name: str, stage: Stage, records: list[Record], *, seed: int, tags_of: dict[str, list[str]],
              earlier: dict[str, StageMix]) -> StageMix:
    groups: dict[Cell, list[Record]] = defaultdict(list)
    for rec in records:
        if selects(stage, rec, tags_of):
            groups[(rec["source"], rec.get("lang") or "unknown")].append(rec)
    plans = {c: CellPlan(c[0], c[1], len(rs)) for c, rs in sorted(groups.items())}
    validation: list[Record] = []
    pools: dict[Cell, list[Record]] = {}
    for c, rs in sorted(groups.items()):
        v = int(round(stage.validation * len(rs))) if len(rs) > 1 else 0
        order = rng_for(seed, name, "validation", *c).permutation(len(rs))
        held = set(order[:v].tolist())
        validation += [rs[i] for i in sorted(held)]
        pools[c] = [r for i, r in enumerate(rs) if i not in held]
        plans[c].validation = v

    by_epochs = {c for c in pools if c[0] in stage.epochs}
    targets: dict[Cell, int] = {}
    capped: set[Cell] = set()
    for c in by_epochs:
        want = int(round(len(pools[c]) * stage.epochs[c[0]]))
        cap = int(np.floor(len(pools[c]) * stage.max_upsample))
        targets[c] = min(want, cap)
        if want > cap:
            capped.add(c)
    rest = {c: len(p) for c, p in pools.items() if c not in by_epochs}
    size = stage.size - sum(targets.values()) if stage.size else sum(rest.values())
    counts, capped_rest = cell_targets(rest, stage, max(size, 0)) if rest else ({}, set())
    targets.update(counts)
    capped |= capped_rest

    train: list[Record] = []
    for c in sorted(pools):
        picked = take(pools[c], targets.get(c, 0), rng_for(seed, name, "train", *c))
        plans[c].target, plans[c].taken, plans[c].capped = targets.get(c, 0), len(picked), c in capped
        train += picked
    wanted = stage.size if stage.size else len(train)
    shortfall = max(0, wanted - len(train))

    replayed = 0
    if stage.replay:
        source_train = earlier[stage.replay.stage].train
        k = int(round(len(train) * stage.replay.fraction / (1 - stage.replay.fraction)))
        k = min(k, len(source_train))
        rng = rng_for(seed, name, "replay")
        for i in sorted(rng.choice(len(source_train), size=k, replace=False)) if k else []:
            rec = source_train[i]
            train.append({**rec, "meta": {**rec.get("meta", {}), "replay_from": stage.replay.stage}})
        replayed = k

    order = rng_for(seed, name, "shuffle").permutation(len(train))
    train = [train[i] for i in order]
    mix = StageMix(name, train, validation, list(plans.values()), replayed, shortfall)
    mix.report = stage_report(mix, stage)
    return mix


def stage_report(mix: StageMix, stage: Stage) -> dict[str, Any]:
    by_lang: dict[str, int] = defaultdict(int)
    for c in mix.cells:
        by_lang[c.lang] += c.taken
    return {
        "train": len(mix.train),
        "validation": len(mix.validation),
        "replayed": mix.replayed,
        "shortfall": mix.shortfall,
        "by_language": dict(sorted(by_lang.items())),
        "cells": [
            {"source": c.source, "lang": c.lang, "available": c.available, "validation": c.validation,
             "taken": c.taken, "passes": round(c.taken / c.train_pool, 3) if c.train_pool else 0.0,
             "capped": c.capped}
            for c in mix.cells
        ],
        "config": stage.model_dump(mode="json", exclude_defaults=True),
    }


def mix_all(stages: dict[str, Stage], records: list[Record], *, seed: int,
            tags_of: dict[str, list[str]]) -> dict[str, StageMix]:
    out: dict[str, StageMix] = {}
    for name, stage in stages.items():
        out[name] = mix_stage(name, stage, records, seed=seed, tags_of=tags_of, earlier=out)
    return out
