"""decontaminate: remove training records that overlap evaluation benchmarks.

A record is contaminated when it shares a word n-gram (13 by default; character n-grams for Chinese and
Japanese) with a benchmark question or answer, or when its user turn is a near-duplicate (MinHash) of a
benchmark question. Benchmarks are any files the readers accept; the reject names the benchmark item.
Benchmark texts shorter than the n-gram are matched by the near-duplicate check alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import Field

from .. import minhash as mh
from ..errors import MedcurateError
from ..record import answer_labels
from .base import Reject, ShardedStep, StepConfig, register


class DecontaminateConfig(StepConfig):
    benchmarks: list[str] = Field(description="Benchmark files, any format the readers accept.")
    ngram: int = Field(13, ge=3, description="Words in a shared n-gram that marks contamination.")
    char_ngram: int = Field(20, ge=3, description="Characters in a shared n-gram, for Chinese and Japanese.")
    near_threshold: float | None = Field(
        0.7, description="Jaccard of a user turn to a benchmark question from which it is contaminated; "
        "None turns the near-duplicate check off.")
    num_perm: int = 128
    seed: int = 1


def benchmark_items(paths: list[str]) -> list[dict]:
    from ..io.reader import read_records

    items = []
    for path in paths:
        if not Path(path).exists():
            raise MedcurateError(f"benchmark {path}: no such file or folder")
        for rec in read_records(path):
            mcq = rec.get("mcq")
            if mcq:
                question = mcq["question"]
                correct = [mcq["options"].get(label) for label in answer_labels(mcq)]
                answer = "\n".join(x for x in (*correct, mcq.get("explanation")) if x)
            else:
                msgs = rec.get("messages") or []
                question = "\n".join(m["content"] for m in msgs if m["role"] == "user") or (rec.get("text") or "")
                answer = "\n".join(m["content"] for m in msgs if m["role"] == "assistant")
            items.append({"benchmark": path, "item": rec["meta"]["provenance"]["locator"], "question": question,
                          "answer": answer, "lang": rec.get("lang")})
    return items


@dataclass
class BenchmarkIndex:
    """What every worker needs to check records: benchmark items, their n-gram table and question bands."""

    items: list[dict]
    ngrams: pl.DataFrame  # h -> first item holding that n-gram
    bands: pl.DataFrame  # (band, key) -> item, for the near-duplicate check
    questions: list[np.ndarray]  # each question's sorted shingle hashes, for the exact Jaccard


@register("decontaminate")
class Decontaminate(ShardedStep):
    Config = DecontaminateConfig
    config: DecontaminateConfig

    base_dir: Path | None = None

    def bind(self, **context) -> None:
        self.base_dir = context.get("base_dir")

    def prepare(self) -> BenchmarkIndex:
        c = self.config
        base = self.base_dir
        items = benchmark_items([str(base / b) if base is not None else b for b in c.benchmarks])
        texts = [it["question"] for it in items] + [it["answer"] for it in items]
        owner = np.r_[np.arange(len(items)), np.arange(len(items))]
        cjk = np.array([mh.is_cjk(t, it["lang"]) for t, it in zip(texts, items + items)], dtype=bool)
        flat, offsets = mh.shingle_batch(texts, cjk, c.ngram, c.char_ngram)
        lengths = np.diff(offsets)
        long_enough = np.array([
            len(mh.normalise(t).replace(" ", "")) >= c.char_ngram if k else len(mh.normalise(t).split()) >= c.ngram
            for t, k in zip(texts, cjk)], dtype=bool)
        item_of = np.repeat(owner, lengths)
        valid = np.repeat(long_enough, lengths)
        table = pl.DataFrame({"h": flat[valid], "item": item_of[valid]}).group_by("h").agg(pl.col("item").min())
        questions = [it["question"] for it in items]
        qflat, qoffsets = mh.shingle_batch(questions, self._cjk(questions), 3, 3)
        bands = pl.DataFrame({"band": [], "key": [], "item": []},
                             schema={"band": pl.Int32, "key": pl.UInt64, "item": pl.Int64})
        if c.near_threshold is not None and questions:
            n_bands, rows = self._bands()
            keys = mh.band_keys(mh.signatures(qflat, qoffsets, c.num_perm, c.seed), n_bands, rows)
            bands = pl.DataFrame({"band": np.tile(np.arange(n_bands, dtype=np.int32), len(questions)),
                                  "key": keys.ravel(), "item": np.repeat(np.arange(len(questions)), n_bands)})
        shingles = [np.unique(qflat[qoffsets[i]: qoffsets[i + 1]]) for i in range(len(questions))]
        return BenchmarkIndex(items, table, bands, shingles)

    def _bands(self) -> tuple[int, int]:
        return mh.optimal_bands(self.config.near_threshold, self.config.num_perm, 0.1, 0.9)  # recall: verified

    @staticmethod
    def _cjk(texts: list[str]) -> np.ndarray:
        return np.array([mh.is_cjk(t, None) for t in texts], dtype=bool)

    def apply_shard(self, state: BenchmarkIndex, records):
        found: dict[int, tuple[str, int]] = {}  # record index -> (kind, benchmark item index)
        if state.items and records:
            self.ngram_overlap(records, state, found)
            if self.config.near_threshold is not None:
                self.near_questions(records, state, found)
        kept, rejected = [], []
        for i, rec in enumerate(records):
            if i not in found:
                kept.append(rec)
                continue
            kind, j = found[i]
            item = state.items[j]
            detail = {"benchmark": item["benchmark"], "item": item["item"], "question": item["question"][:200]}
            rejected.append((rec, Reject(f"benchmark overlap ({kind})", detail)))
        return kept, rejected

    def ngram_overlap(self, records, state: BenchmarkIndex, found) -> None:
        c = self.config
        rec_texts = [mh.record_text(r) for r in records]
        rec_cjk = np.array([mh.is_cjk(t, r.get("lang")) for r, t in zip(records, rec_texts)], dtype=bool)
        rflat, roffsets = mh.shingle_batch(rec_texts, rec_cjk, c.ngram, c.char_ngram)
        rec_of = np.repeat(np.arange(len(records)), np.diff(roffsets))
        hits = (pl.DataFrame({"h": rflat, "rec": rec_of}).join(state.ngrams, on="h", how="inner")
                .group_by("rec").agg(pl.col("item").min()).sort("rec"))
        for rec, item in hits.iter_rows():
            found.setdefault(int(rec), ("n-gram", int(item)))

    def near_questions(self, records, state: BenchmarkIndex, found) -> None:
        c = self.config
        users = [mh.record_text(r, "user") for r in records]
        flat, offsets = mh.shingle_batch(users, self._cjk(users), 3, 3)
        n_bands, rows = self._bands()
        keys = mh.band_keys(mh.signatures(flat, offsets, c.num_perm, c.seed), n_bands, rows)
        recs = pl.DataFrame({"band": np.tile(np.arange(n_bands, dtype=np.int32), len(users)), "key": keys.ravel(),
                             "rec": np.repeat(np.arange(len(users)), n_bands)})
        pairs = (recs.join(state.bands, on=["band", "key"], how="inner").select("rec", "item").unique()
                 .sort(["rec", "item"]))
        for rec, item in pairs.iter_rows():
            if int(rec) in found:
                continue
            mine = np.unique(flat[offsets[rec]: offsets[rec + 1]])
            if mh.true_jaccard(mine, state.questions[item]) >= c.near_threshold:
                found[int(rec)] = ("near-duplicate question", int(item))
