"""decontaminate: remove training records that overlap evaluation benchmarks.

As GPT-3, lm-evaluation-harness and NeMo Curator do it, for medical benchmarks in any language: a record is
contaminated when it shares a 13-word n-gram (a 20-character one for Chinese and Japanese) with any text field
of a benchmark item, or holds a shorter field whole as a phrase (see `curation.decontam_index`), or when its
user turn is a near-duplicate (MinHash, Jaccard of word 3-grams) of a benchmark question, which catches a
question with a few words changed. The reject names the benchmark, the item and the field; `report` writes
how many records matched per benchmark and field.

Phases: the benchmark index is built once (a reduce over nothing), each shard's records are matched against it
(a map), the matches are gathered into verdicts and the report's counts (a reduce), each shard drops its
matched records, and `finish` writes the report wherever the step ran.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import Field

from .. import minhash as mh
from ..decontam_index import BenchmarkIndex, MatchParams, build_index, match, record_text
from .base import FILES, Map, Phase, PhasedStep, Record, Reduce, Reject, StepConfig, StepResult, register

KIND_ORDER = {"n-gram": 0, "phrase": 1}


class DecontaminateConfig(StepConfig):
    benchmarks: list[str] = Field(description="Benchmark files, any format the readers accept.",
                                  json_schema_extra=FILES)
    ngram: int = Field(13, ge=3, description="Words in a shared n-gram that marks contamination.")
    char_ngram: int = Field(20, ge=3, description="Characters in a shared n-gram, for Chinese and Japanese.")
    min_words: int = Field(
        6, ge=2, description="A benchmark field shorter than `ngram` words is matched as a whole phrase when it "
        "has at least this many; shorter ones ('Aspirin', 'none of the above') are not evidence.")
    min_chars: int = Field(10, ge=2, description="The same minimum, in characters, for Chinese and Japanese.")
    common_items: int = Field(
        10, ge=2, description="An n-gram or phrase that this many benchmark items share is exam boilerplate "
        "and is not indexed.")
    near_threshold: float | None = Field(
        0.7, description="Jaccard of a user turn to a benchmark question from which it is contaminated; "
        "None turns the near-duplicate check off.")
    num_perm: int = 128
    seed: int = 1
    report: str | None = Field(None, description="Write records matched per benchmark and field here "
                                                 "(Markdown, or JSON for a .json path).")

    def params(self) -> MatchParams:
        return MatchParams(self.ngram, self.char_ngram, self.min_words, self.min_chars, self.common_items)


@dataclass
class DecontaminationState:
    """The benchmark index plus the near-duplicate check's question bands."""

    index: BenchmarkIndex
    bands: pl.DataFrame  # (band, key) -> item
    questions: list[np.ndarray]  # each item's question shingles, sorted, for the exact Jaccard


Match = tuple[int, str, dict]  # (position in the shard, reason, detail)


@dataclass
class Matched:
    """The last reduce's state: each shard's matched records by position, and the report's rows."""

    rejected: dict[int, dict[int, tuple[str, dict]]]
    report: list[dict]


@register("decontaminate")
class Decontaminate(PhasedStep):
    Config = DecontaminateConfig
    config: DecontaminateConfig

    def phases(self) -> list[Phase]:
        return [Reduce("index"), Map("matches"), Reduce("verdicts")]

    def index(self, state: None, tables: list) -> DecontaminationState:
        """Reduce over nothing: the benchmark index, built once per run."""
        return self.prepare()

    def matches(self, state: DecontaminationState, shard: int, records: list[Record]) -> list[Match]:
        """Map: the shard's contaminated records, with the reject each gets."""
        found = self.overlaps(state, records) if state.index.items and records else {}
        return [(i, f"benchmark overlap ({kind})", self.detail(state.index, hits))
                for i, (kind, hits) in sorted(found.items())]

    def verdicts(self, state: DecontaminationState, tables: list[tuple[int, list[Match]]]) -> Matched:
        """Reduce: every shard's matches by position, and the report's counts over all of them."""
        rejected = {shard: {i: (reason, detail) for i, reason, detail in found} for shard, found in tables}
        return Matched(rejected, report_rows(d for _, found in tables for _, _, d in found))

    def decide(self, state: Matched, shard: int, records: list[Record]) -> StepResult:
        return StepResult.split(records, {i: Reject(*v) for i, v in state.rejected.get(shard, {}).items()})

    def finish(self, state: Matched) -> None:
        if self.config.report:
            write_report(Path(self.config.report), state.report)

    def prepare(self) -> DecontaminationState:
        c = self.config
        index = build_index([str(self.ctx.resolve(b)) for b in c.benchmarks], c.params())
        questions = [it["question"] for it in index.items]
        qflat, qoffsets = mh.shingle_batch(questions, _cjk(questions), 3, 3)
        bands = pl.DataFrame(schema={"band": pl.Int32, "key": pl.UInt64, "item": pl.Int64})
        if c.near_threshold is not None and questions:
            n_bands, rows = self._bands()
            keys = mh.band_keys(mh.signatures(qflat, qoffsets, c.num_perm, c.seed), n_bands, rows)
            bands = pl.DataFrame({"band": np.tile(np.arange(n_bands, dtype=np.int32), len(questions)),
                                  "key": keys.ravel(), "item": np.repeat(np.arange(len(questions)), n_bands)})
        shingles = [np.unique(qflat[qoffsets[i]: qoffsets[i + 1]]) for i in range(len(questions))]
        return DecontaminationState(index, bands, shingles)

    def _bands(self) -> tuple[int, int]:
        return mh.optimal_bands(self.config.near_threshold, self.config.num_perm, 0.1, 0.9)  # recall first

    def apply_shard(self, state: DecontaminationState, records: list[Record]) -> StepResult:
        """Kept and rejected records of any part of the records: the decision on one never depends on another."""
        found = self.overlaps(state, records) if state.index.items and records else {}
        return StepResult.split(records, {i: Reject(f"benchmark overlap ({kind})", self.detail(state.index, hits))
                                          for i, (kind, hits) in found.items()})

    def overlaps(self, state: DecontaminationState, records) -> dict[int, tuple[str, list[tuple[int, int]]]]:
        """record -> (kind, [(item, field), ...]): n-gram hits first, then phrases, then near duplicates."""
        index = state.index
        hits = match([record_text(r) for r in records], index)
        found: dict[int, tuple[str, list[tuple[int, int]]]] = {}
        for (rec,), group in hits.group_by(["rec"], maintain_order=True):
            ranked = sorted(zip(group["kind"].to_list(), group["field"].to_list()),
                            key=lambda kf: (KIND_ORDER[kf[0]], kf[1]))
            found[int(rec)] = (ranked[0][0], [(index.fields[f].item, f) for _, f in ranked])
        if self.config.near_threshold is not None:
            rest = [i for i in range(len(records)) if i not in found]
            for i, item in self.near_questions(state, [records[i] for i in rest]).items():
                found[rest[i]] = ("near-duplicate question", [(item, -1)])
        return found

    @staticmethod
    def detail(index: BenchmarkIndex, hits: list[tuple[int, int]]) -> dict:
        """The first match in full (benchmark, item, field, the benchmark text) and every (benchmark, field)
        the record matched, which the report counts."""
        item, field = hits[0]
        it = index.items[item]
        text = index.fields[field].text if field >= 0 else it["question"]
        matched = sorted({(index.items[i]["benchmark"], index.fields[f].name if f >= 0 else "question")
                          for i, f in hits})
        return {"benchmark": it["benchmark"], "item": it["item"],
                "field": index.fields[field].name if field >= 0 else "question", "text": text[:200],
                "matched": [list(m) for m in matched]}

    def near_questions(self, state: DecontaminationState, records) -> dict[int, int]:
        """record -> item whose question the record's user turn is a near-duplicate of."""
        c = self.config
        if not records or not len(state.bands):
            return {}
        users = [mh.record_text(r, "user") for r in records]
        flat, offsets = mh.shingle_batch(users, _cjk(users), 3, 3)
        n_bands, rows = self._bands()
        keys = mh.band_keys(mh.signatures(flat, offsets, c.num_perm, c.seed), n_bands, rows)
        recs = pl.DataFrame({"band": np.tile(np.arange(n_bands, dtype=np.int32), len(users)), "key": keys.ravel(),
                             "rec": np.repeat(np.arange(len(users)), n_bands)})
        pairs = (recs.join(state.bands, on=["band", "key"], how="inner").select("rec", "item").unique()
                 .sort(["rec", "item"]))
        out: dict[int, int] = {}
        for rec, item in pairs.iter_rows():
            if rec in out:
                continue
            mine = np.unique(flat[offsets[rec]: offsets[rec + 1]])
            if mh.true_jaccard(mine, state.questions[item]) >= c.near_threshold:
                out[int(rec)] = int(item)
        return out


def _cjk(texts: list[str]) -> np.ndarray:
    return np.array([mh.is_cjk(t, None) for t in texts], dtype=bool)


def report_rows(details) -> list[dict]:
    """Records matched per (benchmark, field), from the rejects' details; a record that matched several
    fields of a benchmark counts once under each, and once in the benchmark's total."""
    fields: Counter[tuple[str, str]] = Counter()
    totals: Counter[str] = Counter()
    for d in details:
        pairs = [tuple(m) for m in d.get("matched") or []]
        fields.update(pairs)
        totals.update({b for b, _ in pairs})
    return [{"benchmark": b, "field": f, "records": n, "benchmark_records": totals[b]}
            for (b, f), n in sorted(fields.items())]


def write_report(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return
    lines = ["# Benchmark contamination", "", "Training records that overlap each benchmark, per field matched "
             "(a record matching several fields counts under each).", "",
             "| benchmark | field | records |", "|---|---|---:|"]
    for benchmark in sorted({r["benchmark"] for r in rows}):
        mine = [r for r in rows if r["benchmark"] == benchmark]
        lines += [f"| {benchmark} | {r['field']} | {r['records']:,} |" for r in mine]
        lines.append(f"| {benchmark} | **any field** | **{mine[0]['benchmark_records']:,}** |")
    if not rows:
        lines.append("| (none) | | 0 |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
