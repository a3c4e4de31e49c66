"""Stage mixtures: which records each training stage sees, how often, and which are held out for validation.

The arithmetic works on cells of (source, language). The validation split is taken first, per cell, from
distinct records, so no record is both trained on and validated against. A cell's training target is its
share of the stage size: languages get shares ∝ (weighted count)^(1/T) and, within a language, sources
share by weight × count; `epochs` fixes a source's count instead. A cell never exceeds `max_upsample`
passes over its records; what a capped cell cannot take goes to the cells that can (water-filling).
Every random choice is seeded by the recipe seed and the cell's name, so a re-run gives the same mix.

A preference stage (`preference: paired|unpaired`, or `tasks: [preference]`) takes only preference records,
and holds out whole prompts: every record on a held-out prompt is validation, so no prompt is both trained
on and validated against, whatever source or language its records carry. Other stages never take them.

A mix is planned from row numbers alone (which cell each selected record falls in), never from the records:
an executor finds the cells where the records are, plans in one place, and gathers the rows where they are,
so the result is the same whichever executor (and however many workers) built it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import orjson
import polars as pl
import pyarrow as pa

from .errors import MedcurateError
from .preference import group_of
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
    """A stage's mix as row numbers into the final records, in output order; `replay` marks the training rows
    replayed from `replay_from`. `without_rows()` is what an executor sends back to the driver."""

    name: str
    train: np.ndarray
    replay: np.ndarray
    validation: np.ndarray
    cells: list[CellPlan]
    replay_from: str | None = None
    replayed: int = 0
    shortfall: int = 0
    report: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None  # paired or unpaired for a preference stage, which exports TRL's columns

    def split_sizes(self) -> dict[str, int]:
        """The splits to export and their sizes: validation only when it holds records."""
        sizes = {"train": self.report["train"]}
        return {**sizes, "validation": self.report["validation"]} if self.report["validation"] else sizes

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The splits to export with their rows and replay marks."""
        rows = {"train": (self.train, self.replay),
                "validation": (self.validation, np.zeros(len(self.validation), dtype=bool))}
        return {split: rows[split] for split in self.split_sizes()}

    def without_rows(self) -> StageMix:
        none = np.zeros(0, dtype=np.int64)
        return replace(self, train=none, replay=none.astype(bool), validation=none)


SELECTED = pa.schema([("stage", pa.int32()), ("source", pa.string()), ("lang", pa.string()), ("row", pa.int64()),
                      ("group", pa.string())])  # group: the prompt key of a preference record


def rng_for(seed: int, *parts: str) -> np.random.Generator:
    digest = hashlib.blake2b("\x1f".join((str(seed), *parts)).encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def selects(stage: Stage, record: Record, tags_of: dict[str, list[str]]) -> bool:
    if not in_scope(record["source"], stage.sources, stage.tags, tags_of):
        return False
    if (stage.kind() is not None) != (record["task"] == "preference"):
        return False  # a preference stage takes only preference records; other stages never do
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


def take(pool: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k rows: whole passes over the pool, then a sample without replacement for the remainder."""
    n = len(pool)
    if n == 0 or k <= 0:
        return pool[:0]
    full, rest = divmod(k, n)
    return np.concatenate([np.tile(pool, full), pool[np.sort(rng.choice(n, size=rest, replace=False))]])


def selection_fields(stages: dict[str, Stage]) -> list[str]:
    """The record fields `selects` and `group_of` read under these stages: a shard read for them alone skips
    decoding every conversation. Preference stages key records by prompt (meta, else the messages)."""
    fields = {"source", "task", "lang"}
    for stage in stages.values():
        fields.update(path.split(".")[0] for path in stage.min_scores)
        if stage.reviewed == "accepted":
            fields.add("meta")
        if stage.kind() is not None:
            fields.update(("meta", "messages"))
    return sorted(fields)


def selection_records(table: pa.Table) -> list[Record]:
    """Partial records from a shard read for `selection_fields`: those fields only, meta decoded."""
    rows = table.to_pylist()
    if "meta" in table.column_names:
        for r in rows:
            r["meta"] = orjson.loads(r["meta"]) if r["meta"] else {}
    return rows


def selected_rows(stages: dict[str, Stage], records: list[Record], tags_of: dict[str, list[str]],
                  first_row: int = 0) -> pa.Table:
    """Which stage selects which record, by cell: all the mixture needs to know of the records, so it can be
    worked out where the records are (a shard at a time) and planned from row numbers alone."""
    cols: dict[str, list[Any]] = {"stage": [], "source": [], "lang": [], "row": [], "group": []}
    for k, rec in enumerate(records):
        for s, stage in enumerate(stages.values()):
            if selects(stage, rec, tags_of):
                cols["stage"].append(s)
                cols["source"].append(rec["source"])
                cols["lang"].append(rec.get("lang") or "unknown")
                cols["row"].append(first_row + k)
                cols["group"].append(group_of(rec) if rec["task"] == "preference" else None)
    return pa.table(cols, schema=SELECTED)


def cell_members(selected: pl.DataFrame, stage: int) -> dict[Cell, np.ndarray]:
    """Each cell's rows, ascending: the order the local executor meets them in."""
    rows = selected.filter(pl.col("stage") == stage).sort("row")
    groups = rows.partition_by(["source", "lang"], as_dict=True, maintain_order=True)
    return {(str(k[0]), str(k[1])): g["row"].to_numpy().astype(np.int64) for k, g in sorted(groups.items())}


def cell_groups(selected: pl.DataFrame, stage: int) -> dict[Cell, np.ndarray]:
    """Each cell's prompt keys, aligned with `cell_members`' rows (None for records that are not preferences)."""
    rows = selected.filter(pl.col("stage") == stage).sort("row")
    groups = rows.partition_by(["source", "lang"], as_dict=True, maintain_order=True)
    return {(str(k[0]), str(k[1])): np.asarray(g["group"].to_list(), dtype=object) for k, g in sorted(groups.items())}


def held_prompts(name: str, stage: Stage, groups: dict[Cell, np.ndarray], seed: int) -> set[str]:
    """The prompts a preference stage holds out: a seeded share of its distinct prompts."""
    keys = sorted({str(g) for gs in groups.values() for g in gs})
    v = int(round(stage.validation * len(keys))) if len(keys) > 1 else 0
    order = rng_for(seed, name, "validation", "prompts").permutation(len(keys))
    return {keys[i] for i in order[:v]}


def held_out(name: str, stage: Stage, members: dict[Cell, np.ndarray], groups: dict[Cell, np.ndarray] | None,
             seed: int) -> dict[Cell, np.ndarray]:
    """Per cell, which rows are validation: by prompt in a preference stage, else a share of each cell."""
    prompts = held_prompts(name, stage, groups, seed) if stage.kind() is not None and groups else None
    out = {}
    for c, rows in sorted(members.items()):
        if prompts is not None:
            out[c] = np.asarray([str(g) in prompts for g in groups[c]], dtype=bool)  # type: ignore[index]
            continue
        v = int(round(stage.validation * len(rows))) if len(rows) > 1 else 0
        order = rng_for(seed, name, "validation", *c).permutation(len(rows))
        held = np.zeros(len(rows), dtype=bool)
        held[order[:v]] = True
        out[c] = held
    return out


def mix_stage(name: str, stage: Stage, members: dict[Cell, np.ndarray], *, seed: int,
              earlier: dict[str, StageMix], groups: dict[Cell, np.ndarray] | None = None) -> StageMix:
    if stage.replay and earlier[stage.replay.stage].kind != stage.kind():
        raise MedcurateError(f"stage '{name}' replays stage '{stage.replay.stage}', which trains on another kind of "
                             "record (preference and other records do not mix in a stage)")
    plans = {c: CellPlan(c[0], c[1], len(rows)) for c, rows in sorted(members.items())}
    validation: list[np.ndarray] = []
    pools: dict[Cell, np.ndarray] = {}
    for c, held in held_out(name, stage, members, groups, seed).items():
        rows = members[c]
        validation.append(rows[held])
        pools[c] = rows[~held]
        plans[c].validation = int(held.sum())

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

    picked = []
    for c in sorted(pools):
        rows = take(pools[c], targets.get(c, 0), rng_for(seed, name, "train", *c))
        plans[c].target, plans[c].taken, plans[c].capped = targets.get(c, 0), len(rows), c in capped
        picked.append(rows)
    train = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
    wanted = stage.size if stage.size else len(train)
    shortfall = max(0, wanted - len(train))

    replay = np.zeros(len(train), dtype=bool)
    replayed = 0
    if stage.replay:
        source_train = earlier[stage.replay.stage].train
        k = int(round(len(train) * stage.replay.fraction / (1 - stage.replay.fraction)))
        k = min(k, len(source_train))
        chosen = np.sort(rng_for(seed, name, "replay").choice(len(source_train), size=k, replace=False)) if k else []
        train = np.concatenate([train, source_train[np.asarray(chosen, dtype=np.int64)]])
        replay = np.concatenate([replay, np.ones(k, dtype=bool)])
        replayed = k

    order = rng_for(seed, name, "shuffle").permutation(len(train))
    mix = StageMix(name, train[order].astype(np.int64), replay[order], np.concatenate(validation or [train[:0]]),
                   list(plans.values()), stage.replay.stage if stage.replay else None, replayed, shortfall,
                   kind=stage.kind())
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


def mix_all(stages: dict[str, Stage], selected: pa.Table, *, seed: int) -> dict[str, StageMix]:
    """Every stage's mix from `selected_rows` (of all the records, in any order)."""
    frame = pl.from_arrow(selected)
    out: dict[str, StageMix] = {}
    for s, (name, stage) in enumerate(stages.items()):
        groups = cell_groups(frame, s) if stage.kind() is not None else None
        out[name] = mix_stage(name, stage, cell_members(frame, s), seed=seed, earlier=out, groups=groups)
    return out
