"""decontaminate: remove training records that overlap evaluation benchmarks.

A record is contaminated when it shares a word n-gram (13 by default; character n-grams for Chinese and
Japanese) with a benchmark question or answer, or when its user turn is a near-duplicate (MinHash) of a
benchmark question. Benchmarks are any files the readers accept; the reject names the benchmark item.
Benchmark texts shorter than the n-gram are matched by the near-duplicate check alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from pydantic import Field

from .. import minhash as mh
from ..errors import MedcurateError
from .base import GlobalStep, Reject, StepConfig, register


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
                answer = "\n".join(x for x in (mcq["options"].get(mcq["answer"]), mcq.get("explanation")) if x)
            else:
                msgs = rec.get("messages") or []
                question = "\n".join(m["content"] for m in msgs if m["role"] == "user") or (rec.get("text") or "")
                answer = "\n".join(m["content"] for m in msgs if m["role"] == "assistant")
            items.append({"benchmark": path, "item": rec["meta"]["provenance"]["locator"], "question": question,
                          "answer": answer, "lang": rec.get("lang")})
    return items


@register("decontaminate")
class Decontaminate(GlobalStep):
    Config = DecontaminateConfig
    config: DecontaminateConfig

    base_dir: Path | None = None

    def bind(self, **context) -> None:
        self.base_dir = context.get("base_dir")

    def apply(self, records):
        c = self.config
        base = self.base_dir
        items = benchmark_items([str(base / b) if base is not None else b for b in c.benchmarks])
        found: dict[int, tuple[str, int]] = {}  # record index -> (kind, benchmark item index)
        if items and records:
            self.ngram_overlap(records, items, found)
            if c.near_threshold is not None:
                self.near_questions(records, items, found)
        kept, rejected = [], []
        for i, rec in enumerate(records):
            if i not in found:
                kept.append(rec)
                continue
            kind, j = found[i]
            item = items[j]
            detail = {"benchmark": item["benchmark"], "item": item["item"], "question": item["question"][:200]}
            rejected.append((rec, Reject(f"benchmark overlap ({kind})", detail)))
        return kept, rejected

    def ngram_overlap(self, records, items, found) -> None:
        c = self.config
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
        rec_texts = [mh.record_text(r) for r in records]
        rec_cjk = np.array([mh.is_cjk(t, r.get("lang")) for r, t in zip(records, rec_texts)], dtype=bool)
        rflat, roffsets = mh.shingle_batch(rec_texts, rec_cjk, c.ngram, c.char_ngram)
        rec_of = np.repeat(np.arange(len(records)), np.diff(roffsets))
        hits = (pl.DataFrame({"h": rflat, "rec": rec_of}).join(table, on="h", how="inner")
                .group_by("rec").agg(pl.col("item").min()).sort("rec"))
        for rec, item in hits.iter_rows():
            found.setdefault(int(rec), ("n-gram", int(item)))

    def near_questions(self, records, items, found) -> None:
        c = self.config
        questions = [it["question"] for it in items]
        users = [mh.record_text(r, "user") for r in records]
        texts = questions + users
        cjk = np.array([mh.is_cjk(t, None) for t in texts], dtype=bool)
        flat, offsets = mh.shingle_batch(texts, cjk, 3, 3)
        sig = mh.signatures(flat, offsets, c.num_perm, c.seed)
        bands, rows = mh.optimal_bands(c.near_threshold, c.num_perm, 0.1, 0.9)  # recall first: pairs are verified
        keys = mh.band_keys(sig, bands, rows)
        nq = len(questions)
        b_idx = np.arange(bands, dtype=np.int32)
        bench = pl.DataFrame({"band": np.tile(b_idx, nq), "key": keys[:nq].ravel(),
                              "item": np.repeat(np.arange(nq), bands)})
        recs = pl.DataFrame({"band": np.tile(b_idx, len(users)), "key": keys[nq:].ravel(),
                             "rec": np.repeat(np.arange(len(users)), bands)})
        pairs = recs.join(bench, on=["band", "key"], how="inner").select("rec", "item").unique().sort(["rec", "item"])
        if pairs.height == 0:
            return
        def shingles(i: int) -> np.ndarray:
            return np.unique(flat[offsets[i]: offsets[i + 1]])

        for rec, item in pairs.iter_rows():
            if int(rec) not in found and mh.true_jaccard(shingles(nq + rec), shingles(item)) >= c.near_threshold:
                found[int(rec)] = ("near-duplicate question", int(item))
