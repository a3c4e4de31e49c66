"""dedupe: exact and MinHash near-duplicate removal across all sources of a run, with a survivor policy.

Exact duplicates share the hash of their normalised text; near duplicates share a MinHash LSH band and,
when `verify` is on, clear the threshold on their true Jaccard similarity (exact Jaccard of shingle sets).
With `key: conversation`, records holding both user and assistant turns are near duplicates only when, beside
the whole text clearing the threshold, their user turns and their assistant turns each reach `role_threshold`
(on shingles one word shorter): two questions answered by one templated answer are two facts, one question
answered in other words is one. Clusters are stars, never chains: records are taken in the order of the keep
policy (records already in the persistent index first, then source priority, then a preferred score, then
input order); each one not yet removed survives and removes the records it is itself a verified duplicate of,
so every reject names a survivor it is within the threshold of, with that similarity (the exact Jaccard of
the whole texts; the signatures' estimate without `verify` or against the index, whose texts are not kept).
Candidate pairs are the pairs of records sharing an LSH bucket. A templated opening or a shared answer makes
buckets of thousands, whose every pair would be millions of checks, so within a bucket taken in keep order each
record is paired with the `bucket_neighbours` records first in it (the likeliest survivors: a large cluster of
true copies still collapses onto its first record) and with the `bucket_neighbours` records just before it (a
sorted-neighbourhood window: copies that arrive together, as one source's listing repeats itself, are compared
however deep in the bucket they sit); buckets of up to 2 * bucket_neighbours + 1 records get every pair.
With `index_dir`, kept records' signatures persist, so a later run dedupes new sources against everything kept
before without recomputing the old signatures.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from .. import minhash as mh
from ..errors import MedcurateError
from ..record import FIELDS, dotted
from ..storage import Location
from .base import Map, Phase, PhasedStep, Record, Reduce, Reject, StepConfig, StepResult, register
from .dedupe_stars import Judge, star_clusters


class KeepPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source_priority: list[str] = Field(default_factory=list, description="Sources in order of preference.")
    prefer: str | None = Field(None, description="A dotted path to a number, e.g. meta.judge.overall.")
    prefer_max: bool = Field(True, description="Prefer the highest value of `prefer` (False: the lowest).")


class DedupeConfig(StepConfig):
    exact: bool = True
    near: bool = True
    key: Literal["conversation", "user", "field"] = Field(
        "conversation", description="Compare the whole conversation, the user turns only, or one field.")
    field: str | None = Field(None, description="With key: field, a dotted path such as mcq.question.")
    shingle: Literal["auto", "word", "char"] = Field(
        "auto", description="auto: character n-grams for Chinese and Japanese (by `lang`), word n-grams else.")
    ngram: int = Field(3, ge=1, description="Words per shingle (3 suits short Q&A; 5 suits long documents).")
    char_ngram: int = Field(3, ge=1, description="Characters per shingle for Chinese and Japanese.")
    num_perm: int = Field(128, ge=8)
    threshold: float = Field(0.7, gt=0, le=1, description="Jaccard similarity from which records are duplicates.")
    role_threshold: float = Field(
        0.55, gt=0, le=1, description="With key: conversation and verify, the Jaccard that the user turns and the "
        "assistant turns must each reach on their own, on shingles one word (character) shorter, for two "
        "conversations whose whole texts clear `threshold` to be duplicates. Questions are a few words long: "
        "'What is sepsis?' and 'What is sepsis exactly?' share 2 of 3 word pairs (0.67), 'What are the symptoms "
        "of Danon disease?' and '... of Fabry disease?' 4 of 8 (0.5), 'Is Danon disease inherited?' and 'Is Fabry "
        "disease inherited?' 1 of 5.")
    bucket_neighbours: int = Field(
        32, ge=1, description="Within an LSH bucket in keep order, each record is a candidate pair with this many "
        "records first in the bucket and this many just before it; buckets of up to twice this plus one records "
        "get every pair. Bounds the checks that a templated text shared by thousands of records costs.")
    bands: int | None = Field(None, description="LSH bands; derived from the threshold when left out.")
    rows: int | None = Field(None, description="Rows per band; derived from the threshold when left out.")
    verify: bool = Field(True, description="Check candidate pairs' true Jaccard, removing LSH false positives.")
    keep: KeepPolicy = Field(default_factory=KeepPolicy)
    index_dir: str | None = Field(None, description="Persistent index for incremental runs: a folder or a URI "
                                                    "(s3://...).")
    report: str | None = Field(None, description="Write the largest clusters here (Markdown).")
    report_clusters: int = 20
    large_cluster: int = Field(50, ge=2, description="The report flags clusters of this size or more, with the "
                                                     "spread of their members' similarity to the survivor.")
    seed: int = 1
    batch_size: int = 20_000
    workers: int = Field(1, ge=1, description="Threads for the signature phase when the step runs on its own (a "
                                             "recipe's executor uses the run's workers).")


def _batch_hashes(args: tuple[list[str], np.ndarray, DedupeConfig, bool]) -> tuple[np.ndarray, np.ndarray | None]:
    """Exact hashes and, when near duplicates are wanted, MinHash signatures of one batch of texts, from
    one tokenisation: texts with the same tokens (case, width, punctuation and spacing aside) are exact
    duplicates."""
    texts, cjk, c, near = args
    tok, offsets = mh.token_batch(texts, cjk)
    exact = mh.sequence_hashes(tok, offsets)
    if not near:
        return exact, None
    flat, sh_offsets = mh.ngrams(tok, offsets, cjk, c.ngram, c.char_ngram)
    return exact, mh.signatures(flat, sh_offsets, c.num_perm, c.seed)


def policy_order(new: np.ndarray, prio: np.ndarray, prefer: np.ndarray) -> np.ndarray:
    """Rank of each row under the keep policy (0 is kept first): indexed records, priority, score, input order."""
    order = np.lexsort((np.arange(len(new)), prefer, prio, new))
    rank = np.empty(len(new), dtype=np.int64)
    rank[order] = np.arange(len(new))
    return rank


def duplicate(dup_id: str, exact: bool, similarity: float, cluster_size: int) -> Reject:
    detail = {"duplicate_of": dup_id, "similarity": round(1.0 if exact else similarity, 4),
              "cluster_size": cluster_size}
    return Reject("exact duplicate" if exact else "near duplicate", detail)


VERIFY_MARGIN = 0.15  # pairs whose estimate is this far below the threshold are not verified (not pairs)
VERIFY_CHUNK = 1 << 18  # pairs verified at once: their texts are in memory as Python strings and shingles together


def bucket_pairs(members: pl.DataFrame, order: list[str], neighbours: int) -> np.ndarray:
    """Candidate pairs (a, b), a before b in keep order, of the rows sharing an LSH bucket, as distinct sorted
    keys a << 32 | b: `members` has one row per (record, band) with columns band, key and row (under 2^31),
    and the `order` columns that put a bucket in keep order (row last, so the order is total). Each record is
    paired with the `neighbours` first records of its bucket and the `neighbours` just before it. Buckets must
    be whole in `members`.
    Written with numpy over the sorted buckets, not a self-join: a join would make every pair of a templated
    bucket before the cap could drop them. One 64-bit key per pair: half the memory of two columns, and a
    unique of one column."""
    multi = members.filter(pl.len().over("band", "key") > 1).sort(["band", "key", *order])
    if multi.is_empty():
        return np.zeros(0, dtype=np.int64)
    band, key = multi["band"].to_numpy(), multi["key"].to_numpy()
    row = multi["row"].to_numpy().astype(np.int64)
    del multi
    first = np.r_[True, (band[1:] != band[:-1]) | (key[1:] != key[:-1])]
    start = np.flatnonzero(first)[np.cumsum(first) - 1]  # each member's bucket's first position
    pos = np.arange(len(row)) - start
    bounds = np.r_[np.flatnonzero(np.r_[True, band[1:] != band[:-1]]), len(row)]
    # every pair written into one array of the exact size, sorted in place, then its repeats dropped: the
    # window's pairs are several times the distinct ones, and no second copy of them is made
    keys, at = np.empty(window_size(pos, neighbours), dtype=np.int64), 0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        for k in window_pairs(row[lo:hi], start[lo:hi] - lo, pos[lo:hi], neighbours):
            keys[at: at + len(k)], at = k, at + len(k)
    keys.sort()
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def split_keys(keys: np.ndarray) -> np.ndarray:
    """Pair keys a << 32 | b as an (n, 2) array of int32 rows (a, b): a view of the keys where the machine is
    little-endian (no copy of tens of millions of pairs), else a copy."""
    if sys.byteorder == "little":
        return keys.view(np.int32).reshape(-1, 2)[:, ::-1]
    return np.stack([keys >> 32, keys & 0xFFFFFFFF], axis=1).astype(np.int32)


def window_pairs(row: np.ndarray, start: np.ndarray, pos: np.ndarray, neighbours: int) -> Iterator[np.ndarray]:
    """The pair keys of one band's buckets, a batch at a time (`start`: each member's bucket's first position,
    `pos`: its position in it): each member with the `neighbours` before it and the `neighbours` first of its
    bucket."""
    at = np.arange(len(row))
    for d in range(1, neighbours + 1):  # the window: the d-th record before
        at = at[pos[at] >= d]
        yield row[at - d] << 32 | row[at]
    at = np.arange(len(row))
    for j in range(neighbours):  # the bucket's first records, where the window did not reach them
        at = at[pos[at] > j + neighbours]
        yield row[start[at] + j] << 32 | row[at]


def window_size(pos: np.ndarray, neighbours: int) -> int:
    """How many keys window_pairs gives for members at positions `pos`: a member at position p pairs with
    min(p, neighbours) records before it and, past 2 * neighbours, with the first neighbours as well, so the
    count is the number of members at position d or more, summed over d = 1 .. 2 * neighbours."""
    counts = np.bincount(pos, minlength=2 * neighbours + 1)
    at_least = np.cumsum(counts[::-1])[::-1]  # at_least[d]: members at position d or more
    return int(at_least[1: 2 * neighbours + 1].sum())


def near_candidates(sig: np.ndarray, bands: int, rows: int, rank: np.ndarray, neighbours: int,
                    min_estimate: float | None = None) -> np.ndarray:
    """Candidate pairs (a, b) of the rows of `sig` sharing an LSH bucket (`bands` bands of `rows` rows), each
    bucket in the order of `rank`, sorted, as int32 rows; with `min_estimate`, only the pairs whose signatures'
    estimate reaches it. A band at a time: one band's keys, members and pairs are in memory at once, and pairs
    below the estimate are dropped as each band comes, so they never pile up."""
    n = sig.shape[0]
    if n >= 2 ** 31:
        raise MedcurateError(f"dedupe: {n:,} records in one run is more than it can pair (2^31)")
    keep = None
    if min_estimate is not None:
        def keep(keys: np.ndarray) -> np.ndarray:
            return mh.estimated_jaccard(sig, keys >> 32, keys & 0xFFFFFFFF) >= min_estimate
    found = PairSet()
    row = np.arange(n, dtype=np.int64)
    for band in range(bands):
        key = mh.band_keys(sig[:, band * rows: (band + 1) * rows], 1, rows)[:, 0]
        members = pl.DataFrame({"band": np.zeros(n, dtype=np.int32), "key": key, "row": row, "rank": rank})
        del key
        found.add(bucket_pairs(members, ["rank"], neighbours), keep)
    return split_keys(found.keys())


class PairSet:
    """Distinct pairs as 64-bit keys (a << 32 | b), gathered band by band as disjoint sorted parts: a band's
    keys (distinct and sorted) lose those an earlier part holds, found by one compiled merge-like pass over the
    two sorted arrays, and the rest become a part.
    A near duplicate shares most of its bands, so most of a later band's keys are already held. Nothing is
    merged until the end, and then into one array filled part by part as each is let go: memory stays near the
    distinct pairs plus one band's keys, where merging the whole set as it grew held it three times over."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []

    def add(self, keys: np.ndarray, keep: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        """Add one band's keys, distinct and sorted, those `keep` flags where it is given."""
        from ..minhash_kernels import absent_from

        for part in self.parts:
            if not len(keys):
                return
            fresh = np.empty(len(keys), dtype=np.bool_)
            absent_from(part, keys, fresh)
            keys = keys[fresh]
        if keep is not None and len(keys):
            keys = keys[keep(keys)]
        if len(keys):
            self.parts.append(keys)

    def keys(self) -> np.ndarray:
        """The distinct keys, sorted (the parts are given up)."""
        out, at = np.empty(sum(len(p) for p in self.parts), dtype=np.int64), 0
        while self.parts:
            part = self.parts.pop(0)
            out[at: at + len(part)], at = part, at + len(part)
            del part
        out.sort()
        return out


@dataclass
class Texts:
    """Some rows' compared texts, user and assistant turns (empty when the record lacks one) and sources, as
    Arrow arrays (no Python object per text): one shard's from the texts phase, or the run's, joined."""

    positions: np.ndarray
    text: pa.Array | pa.ChunkedArray
    user: pa.Array | pa.ChunkedArray
    assistant: pa.Array | pa.ChunkedArray
    source: pa.Array | pa.ChunkedArray

    @classmethod
    def joined(cls, tables: list[tuple[int, Texts]], starts: dict[int, int]) -> Texts:
        """The shards' tables as one, positions made run-wide (`starts`: each shard's first row). The arrays are
        chained, not copied: the shards' tables stay alive with the caller, and a copy would hold every text
        twice through the verification."""
        parts = [t for _, t in tables]
        if not parts:
            empty = pa.array([], pa.large_string())
            return cls(np.zeros(0, np.int64), empty, empty, empty, empty)
        return cls(np.concatenate([starts[k] + t.positions for k, t in tables]),
                   *(pa.chunked_array([getattr(t, f) for t in parts], pa.large_string())
                     for f in ("text", "user", "assistant", "source")))

    def at(self, rows: np.ndarray) -> np.ndarray:
        """Where run-wide `rows` sit in this table (they must be in it)."""
        return np.searchsorted(self.positions, rows)


def text_similarity(config: DedupeConfig, texts: Texts, cjk: np.ndarray, has_roles: np.ndarray,
                    first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Exact Jaccard of the shingle sets of texts first[k] and second[k] (places in `texts`, `cjk` aligned with
    it). Where both records of a pair have user and assistant turns (`has_roles`), the pair also needs its user
    turns and its assistant turns each to reach `role_threshold` on their own Jaccard, on shingles one word (or
    character) shorter since turns can be a few words long, else it scores 0 (not a pair): a shared templated
    answer does not make two questions one, nor one question two answers one. The turns are checked first: a templated
    bucket is mostly different questions under one answer, which the short user turns rule out cheaply."""
    first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    ok = np.ones(len(first), dtype=bool)
    at = np.flatnonzero(has_roles[first] & has_roles[second]) if len(first) else np.zeros(0, dtype=np.int64)
    for turns in (texts.user, texts.assistant):
        passed = pair_jaccard_of(config, turns, cjk, first[at], second[at], 1) >= config.role_threshold
        ok[at[~passed]] = False
        at = at[passed]
    sim = np.zeros(len(first))
    at = np.flatnonzero(ok)
    sim[at] = pair_jaccard_of(config, texts.text, cjk, first[at], second[at])
    return sim


def pair_jaccard_of(config: DedupeConfig, texts: pa.Array, cjk: np.ndarray, first: np.ndarray, second: np.ndarray,
                    shorter: int = 0) -> np.ndarray:
    """Exact Jaccard of texts first[k] and second[k] on shingles `shorter` words (characters) shorter than the
    configured ones; each text the pairs name is shingled once, in one batch, however many pairs name it."""
    if not len(first):
        return np.zeros(0)
    both = np.r_[first, second]
    used = np.flatnonzero(np.bincount(both, minlength=len(texts)))  # positions in texts: a lookup, not a sort
    inverse = np.empty(len(texts), dtype=np.int64)
    inverse[used] = np.arange(len(used))
    inverse = inverse[both]
    chosen = pc.take(texts, pa.array(used), memory_pool=mh.arrow_pool()).to_pylist()
    flat, offsets = mh.shingle_batch(chosen, np.asarray(cjk, dtype=bool)[used],
                                     max(1, config.ngram - shorter), max(1, config.char_ngram - shorter))
    return mh.pair_jaccard(flat, offsets, inverse[: len(first)], inverse[len(first):], copy=False)


def pair_judge(config: DedupeConfig, pairs: np.ndarray, est: np.ndarray, texts: Texts, cjk: np.ndarray,
               first_text: int) -> Judge:
    """Judges likely pairs (indices into `pairs`) for the stars. With `verify`, pairs whose rows both have a
    text (this run's: row - first_text in `texts`) get `text_similarity` (exact Jaccard, per role for
    conversations) and pairs with an index row (no text kept; the first len(est) pairs, see `held_estimates`)
    the signatures' estimate of the whole text's Jaccard, and are duplicates from the threshold up; without it
    every LSH pair is, at its estimate."""
    cjk = cjk[texts.positions]
    has_roles = ((pc.utf8_length(texts.user).to_numpy(zero_copy_only=False) > 0)
                 & (pc.utf8_length(texts.assistant).to_numpy(zero_copy_only=False) > 0))

    def judge(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not config.verify:
            return est[at], np.ones(len(at), dtype=bool)
        sim = np.zeros(len(at), dtype=np.float32)
        held = at < len(est)
        sim[held] = est[at[held]]
        both = np.flatnonzero(~held)
        cand = pairs[at[both]]
        # by later row: a chunk then names a run of rows, the few records first in large buckets and the rows
        # just before in their buckets, so a text is shingled in about one chunk, however many chunks there are
        order = np.argsort(cand[:, 1], kind="stable")
        both, cand = both[order], cand[order]
        for lo in range(0, len(both), VERIFY_CHUNK):  # a chunk's texts shingled at once: memory bounded by it
            sim[both[lo: lo + VERIFY_CHUNK]] = text_similarity(
                config, texts, cjk, has_roles, texts.at(cand[lo: lo + VERIFY_CHUNK, 0] - first_text),
                texts.at(cand[lo: lo + VERIFY_CHUNK, 1] - first_text))
        return sim, sim >= config.threshold

    return judge


def held_estimates(config: DedupeConfig, pairs: np.ndarray, sig: np.ndarray, n_old: int) -> np.ndarray:
    """The signatures' estimates the stars will read: every likely pair's without `verify`; with it, only those
    of the pairs naming an index row, whose texts are not kept (the others are judged on their texts). The
    keep policy ranks the index's rows first and a pair's first row comes first, so those pairs are the ones
    whose first row is under n_old: a prefix of the pairs, sorted by first row. near_candidates already kept
    only the pairs whose estimate clears the margin, so nothing here estimates tens of millions of pairs again."""
    held = len(pairs) if not config.verify else int(np.searchsorted(pairs[:, 0], n_old))
    return mh.estimated_jaccard(sig, pairs[:held, 0], pairs[:held, 1])


class Index:
    """Signatures and exact hashes of records kept by earlier runs, in parquet beside a small manifest."""

    def __init__(self, path: Location, config: DedupeConfig):
        self.path, self.config = path, config
        self.settings = {"engine": mh.engine_version(), "num_perm": config.num_perm, "seed": config.seed,
                         "ngram": config.ngram, "char_ngram": config.char_ngram, "key": config.key,
                         "field": config.field, "shingle": config.shingle}

    def parts(self) -> list[Location]:
        """The index's files in the order their rows are numbered; checks the index's settings first."""
        manifest = self.path / "index.json"
        if not manifest.exists():
            return []
        saved = json.loads(manifest.read_bytes())
        if saved["settings"] != self.settings:
            diff = {k: (saved["settings"].get(k), v) for k, v in self.settings.items() if saved["settings"].get(k) != v}
            raise MedcurateError(f"{self.path}: the dedupe index was built with other settings {diff}; "
                                 "use a new index_dir or the same settings")
        return self.path.list("part-*.parquet")

    def load(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        parts = self.parts()
        df = pl.concat([pl.from_arrow(p.read_table()) for p in parts]) if parts else pl.DataFrame()
        if not df.height:
            return [], np.zeros(0, dtype=np.uint64), np.zeros((0, self.settings["num_perm"]), dtype=np.uint32)
        return df["id"].to_list(), df["exact"].to_numpy().astype(np.uint64), index_signatures(df["signature"])

    def next_run(self) -> int:
        """The number of the next run's parts (a run writes part-NNNNN.parquet, or one part-NNNNN-SSSSSS per
        shard), so that sorting the names keeps the runs in order."""
        runs = [int(p.name.split("-")[1].split(".")[0]) for p in self.path.list("part-*.parquet")]
        return max(runs, default=-1) + 1

    def write_part(self, path: Location, ids: list[str], exact: np.ndarray, sig: np.ndarray) -> None:
        path.write_table(pl.DataFrame({"id": ids, "exact": exact, "signature": list(sig)}).to_arrow(),
                         compression="zstd")

    def write_manifest(self) -> None:
        (self.path / "index.json").write_bytes(json.dumps({"settings": self.settings}, indent=1).encode())

    def append(self, ids: list[str], exact: np.ndarray, sig: np.ndarray) -> None:
        self.write_part(self.path / f"part-{self.next_run():05d}.parquet", ids, exact, sig)
        self.write_manifest()


def index_signatures(column: pl.Series) -> np.ndarray:
    """The index's signature column (a list of uint32 per record) as a (rows, num_perm) matrix."""
    return np.stack(column.to_numpy()).astype(np.uint32)


@dataclass
class Signed:
    """The signature phase's table for one shard: what the reduce needs of each record, no more (no texts:
    the texts phase brings those of the rows in likely pairs only)."""

    ids: list[str]
    cjk: np.ndarray
    exact: np.ndarray
    sig: np.ndarray | None
    prio: np.ndarray
    prefer: np.ndarray


def joined(tables: list[Signed], num_perm: int, need_sig: bool) -> Signed:
    """The shards' tables as one, in shard order: row i of it is the step's i-th record. Takes the shards'
    signatures out of their tables."""
    if not tables:
        return Signed([], np.zeros(0, bool), np.zeros(0, np.uint64),
                      np.zeros((0, num_perm), np.uint32) if need_sig else None, np.zeros(0, np.int64), np.zeros(0))
    sig = None
    if need_sig:  # filled shard by shard, each shard's copy let go as it is taken: one copy at a time
        sig, at = np.empty((sum(len(t.ids) for t in tables), num_perm), dtype=np.uint32), 0
        for t in tables:
            sig[at: at + len(t.ids)], at, t.sig = t.sig, at + len(t.ids), None
    return Signed([i for t in tables for i in t.ids], np.concatenate([t.cjk for t in tables]),
                  np.concatenate([t.exact for t in tables]), sig,
                  np.concatenate([t.prio for t in tables]), np.concatenate([t.prefer for t in tables]))


@dataclass
class Shards:
    """Where this run's rows sit: shard numbers and sizes in order (row r of the run is in the shard whose
    start is the last one not after r)."""

    numbers: list[int]
    sizes: list[int]

    def starts(self) -> np.ndarray:
        return np.r_[0, np.cumsum(self.sizes)].astype(np.int64)

    def place(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each run-wide row's shard (an index into `numbers`) and its position in that shard."""
        starts = self.starts()
        at = np.searchsorted(starts, rows, side="right") - 1
        return at, rows - starts[at]

    def locate(self, rows: np.ndarray) -> dict[int, np.ndarray]:
        """Run-wide rows as {shard: sorted positions in it}."""
        at, pos = self.place(np.unique(np.asarray(rows, dtype=np.int64)))
        return {self.numbers[k]: pos[at == k] for k in np.unique(at).tolist()}

    def first_rows(self) -> dict[int, int]:
        return dict(zip(self.numbers, self.starts()[:-1].tolist()))


def texted_rows(pairs: np.ndarray, n_old: int) -> np.ndarray:
    """This run's rows (counted from its first) that a pair of two of this run's rows names: verifying such a
    pair needs both texts. Marked in one flag per row, not gathered from the pairs and sorted (tens of millions
    of pairs would be held several times over)."""
    if n_old:  # the pairs naming an index row keep the signatures' estimate
        pairs = pairs[(pairs[:, 0] >= n_old) & (pairs[:, 1] >= n_old)]
    named = np.zeros(int(pairs.max()) + 1 if len(pairs) else n_old, dtype=bool)
    named[pairs[:, 0]] = True
    named[pairs[:, 1]] = True
    return np.flatnonzero(named[n_old:])


@dataclass
class Candidates:
    """The first reduce's state, kept where the reduces run: the likely pairs and what the stars need. The
    texts phase is given `need` alone (shard -> positions of the rows a likely pair names)."""

    need: dict[int, np.ndarray]
    shards: Shards
    ids: list[str]
    n_old: int
    exact: np.ndarray
    sig: np.ndarray | None
    rank: np.ndarray
    cjk: np.ndarray
    exact_edges: np.ndarray
    pairs: np.ndarray
    est: np.ndarray  # the estimates the stars read (`held_estimates`)


Verdict = tuple[str, bool, float, int]  # (survivor's id, exact, similarity to it, its star's size)
Member = tuple[int, str, float]  # a reported star's member: (run-wide row, -1 for the index's; id; similarity)


@dataclass
class Verdicts:
    """The last reduce's state: each shard's duplicates by position, and the report's clusters (the stars to
    report and the positions of their texts, then the report itself)."""

    rejected: dict[int, dict[int, Verdict]]
    stars: list[list[Member]] = field(default_factory=list)
    report_rows: dict[int, np.ndarray] = field(default_factory=dict)
    report: list[list[tuple[str, str, str, float]]] | None = None
    shards: Shards | None = None


@register("dedupe")
class Dedupe(PhasedStep):
    """Phases: signatures per shard (exact hash, MinHash, survivor-policy columns), then a reduce to the likely
    pairs (index, exact groups, LSH bucket pairs, signature estimates), the texts of the rows those pairs name,
    a reduce to the stars (pairs verified as the stars need them, verdicts), and each shard drops its
    duplicates; with a report, the texts of the largest stars' members, then `finish` writes it. Texts never
    all sit in one process."""

    Config = DedupeConfig
    config: DedupeConfig

    def phases(self) -> list[Phase]:
        c = self.config
        phases: list[Phase] = [Map("signatures"), Reduce("candidates")]
        if c.near and c.verify:
            phases.append(Map("texts", shares="need"))
        phases.append(Reduce("clusters"))
        if c.report:
            phases += [Map("texts", shares="report_rows"), Reduce("reported")]
        return phases

    def shard_rows(self) -> int:
        return self.config.batch_size

    def threads(self) -> int:
        return self.config.workers

    def map_fields(self) -> frozenset[str] | None:
        """Every field but meta, unless the compared field or the survivor's score is read from meta."""
        c = self.config
        paths = [c.field if c.key == "field" else None, c.keep.prefer]
        if any(path and path.split(".")[0] == "meta" for path in paths):
            return None
        return frozenset(FIELDS) - {"meta"}

    def cjk_flags(self, records: list[Record], texts: list[str]) -> np.ndarray:
        mode = self.config.shingle
        if mode != "auto":
            return np.full(len(texts), mode == "char")
        return np.array([mh.is_cjk(t, r.get("lang")) for r, t in zip(records, texts)], dtype=bool)

    def need_signatures(self) -> bool:
        return self.config.near or self.config.index_dir is not None

    def signatures(self, state: None, shard: int, records: list[Record]) -> Signed:
        """Map: one shard's exact hashes and signatures from one tokenisation, and its survivor-policy ranks."""
        c = self.config
        texts = [mh.record_text(r, c.key, c.field) for r in records]
        cjk = self.cjk_flags(records, texts)
        exact, sig = _batch_hashes((texts, cjk, c, self.need_signatures()))
        prio, prefer = self.ranks(records)
        return Signed([r["id"] for r in records], cjk, exact, sig, prio, prefer)

    def texts(self, need: dict[int, np.ndarray], shard: int, records: list[Record]) -> Texts:
        """Map: the compared texts, turns and sources of the shard's rows a later reduce names."""
        c = self.config
        positions = need.get(shard, np.zeros(0, np.int64))
        chosen = [records[i] for i in positions.tolist()]
        roles = [mh.role_texts(r, c.key) for r in chosen]
        pool = mh.arrow_pool()
        return Texts(positions, pa.array([mh.record_text(r, c.key, c.field) for r in chosen], pa.large_string(),
                                         memory_pool=pool),
                     pa.array([u for u, _ in roles], pa.large_string(), memory_pool=pool),
                     pa.array([a for _, a in roles], pa.large_string(), memory_pool=pool),
                     pa.array([r["source"] for r in chosen], pa.large_string(), memory_pool=pool))

    def band_params(self) -> tuple[int, int]:
        c = self.config
        if c.bands and c.rows:
            return c.bands, c.rows
        weights = (0.1, 0.9) if c.verify else (0.5, 0.5)  # verification removes false positives exactly: recall
        return mh.optimal_bands(c.threshold, c.num_perm, *weights)

    def ranks(self, records: list[Record]) -> tuple[np.ndarray, np.ndarray]:
        """Source priority and preferred score (lower is better) of each record, for the survivor policy."""
        c = self.config
        prio = {s: i for i, s in enumerate(c.keep.source_priority)}
        prefer = np.zeros(len(records))
        if c.keep.prefer:
            vals = [dotted(r, c.keep.prefer) for r in records]
            prefer = np.array([v if isinstance(v, (int, float)) else np.nan for v in vals], dtype=float)
            prefer = np.nan_to_num(-prefer if c.keep.prefer_max else prefer, nan=np.inf)
        return np.array([prio.get(r["source"], len(prio)) for r in records], dtype=np.int64), prefer

    def candidates(self, state: None, tables: list[tuple[int, Signed]]) -> Candidates:
        """Reduce: the index's records and this run's, their exact groups, and the LSH pairs likely to be
        near duplicates by their signatures, with the positions of the texts verifying them needs."""
        c = self.config
        need_sig = self.need_signatures()
        new = joined([t for _, t in tables], c.num_perm, need_sig)
        shards = Shards([k for k, _ in tables], [len(t.ids) for _, t in tables])
        n_new = len(new.ids)
        index = Index(Location.of(c.index_dir), c) if c.index_dir else None
        old_ids, old_exact, old_sig = index.load() if index else ([], np.zeros(0, np.uint64), None)
        n_old = len(old_ids)
        all_exact = np.concatenate([old_exact, new.exact])
        n = n_old + n_new
        exact_edges = np.zeros((0, 2), dtype=np.int64)
        if c.exact:
            df = pl.DataFrame({"h": all_exact, "row": np.arange(n, dtype=np.int64)})
            exact_edges = (df.with_columns(pl.col("row").min().over("h").alias("root"))
                           .filter(pl.col("row") != pl.col("root")).select("root", "row").to_numpy())
        sig = (np.concatenate([old_sig, new.sig]) if n_old else new.sig) if need_sig else None
        rank = policy_order(np.r_[np.zeros(n_old, bool), np.ones(n_new, bool)],
                            np.r_[np.zeros(n_old, np.int64), new.prio], np.r_[np.zeros(n_old), new.prefer])
        pairs, est = np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float32)
        if c.near and n > 1:
            bands, rows_per_band = self.band_params()
            # with verify, only pairs not far below the threshold are worth judging on their texts (the
            # estimate's standard error at 128 permutations is under 0.045); without it every LSH pair counts
            pairs = near_candidates(sig, bands, rows_per_band, rank, c.bucket_neighbours,
                                    c.threshold - VERIFY_MARGIN if c.verify else None)
            est = held_estimates(c, pairs, sig, n_old)
        return Candidates(shards.locate(texted_rows(pairs, n_old) if c.verify else []), shards,
                          [*old_ids, *new.ids], n_old, all_exact, sig if index else None, rank, new.cjk,
                          exact_edges, pairs, est)

    def clusters(self, state: Candidates, tables: list[tuple[int, Texts]]) -> Verdicts:
        """Reduce: the likely pairs verified on their texts, the stars over the index's records and this run's,
        each duplicate's verdict, the index's next part and the stars the report shows."""
        c, s = self.config, state
        n = len(s.ids)
        texts = Texts.joined(tables, s.shards.first_rows())
        survivor, sim = star_clusters(n, s.exact_edges, s.pairs, s.rank, np.arange(n) < s.n_old,
                                      pair_judge(c, s.pairs, s.est, texts, s.cjk, s.n_old))
        if c.index_dir:
            kept_rows = s.n_old + np.flatnonzero(survivor[s.n_old:] == np.arange(s.n_old, n))
            Index(Location.of(c.index_dir), c).append([s.ids[i] for i in kept_rows], s.exact[kept_rows],
                                                      s.sig[kept_rows])
        verdicts = Verdicts(self.verdicts(s.shards, survivor, sim, s.n_old, s.ids, s.exact))
        if c.report:
            verdicts.stars = [[(int(row) - s.n_old if row >= s.n_old else -1, s.ids[row], float(sim[row]))
                               for row in star_members(survivor, label)]
                              for label in largest_labels(survivor, survivor[s.n_old:], c.report_clusters)]
            verdicts.report_rows = s.shards.locate([m[0] for star in verdicts.stars for m in star if m[0] >= 0])
            verdicts.shards = s.shards
        return verdicts

    @staticmethod
    def verdicts(shards: Shards, survivor: np.ndarray, sim: np.ndarray, n_old: int, ids: list[str],
                 all_exact: np.ndarray) -> dict[int, dict[int, Verdict]]:
        """Each of this run's duplicates, by shard and position: its survivor, whether it is an exact copy of
        it, their similarity and the star's size."""
        star = np.bincount(survivor, minlength=len(survivor))
        out: dict[int, dict[int, Verdict]] = {}
        dups = np.flatnonzero(survivor[n_old:] != np.arange(n_old, len(survivor)))
        for row, at, pos in zip((n_old + dups).tolist(), *(a.tolist() for a in shards.place(dups))):
            s = int(survivor[row])
            out.setdefault(shards.numbers[at], {})[pos] = (
                ids[s], bool(all_exact[s] == all_exact[row]), float(sim[row]), int(star[s]))
        return out

    def reported(self, state: Verdicts, tables: list[tuple[int, Texts]]) -> Verdicts:
        """Reduce: the largest stars' members as (source, id, compared text, similarity to the survivor)."""
        texts = Texts.joined(tables, state.shards.first_rows() if state.shards else {})
        clusters = []
        for star in state.stars:
            members = []
            for row, rid, sim in star:
                if row < 0:
                    members.append(("(index)", rid, "(kept by an earlier run)", sim))
                else:
                    at = int(texts.at(np.array([row]))[0])
                    members.append((texts.source[at].as_py(), rid, texts.text[at].as_py(), sim))
            clusters.append(members)
        return Verdicts(state.rejected, report=clusters)

    def rejects_at(self, state: Verdicts, shard: int) -> dict[int, Reject]:
        """Each duplicate of the shard, by position, rejected naming its survivor, their similarity and the
        star's size; every other record is kept as it is."""
        return {i: duplicate(*v) for i, v in state.rejected.get(shard, {}).items()}

    def decide(self, state: Verdicts, shard: int, records: list[Record]) -> StepResult:
        return StepResult.split(records, self.rejects_at(state, shard))

    def finish(self, state: Verdicts) -> None:
        if self.config.report and state.report is not None:
            write_cluster_report(Path(self.config.report), self.config, state.report)


def star_members(survivor: np.ndarray, label: int) -> np.ndarray:
    """A star's rows, its survivor first, then the others in row order."""
    rows = np.flatnonzero(survivor == label)
    return np.r_[label, rows[rows != label]].astype(np.int64)


def largest_labels(labels: np.ndarray, of_new: np.ndarray, k: int) -> list[int]:
    """The report's clusters: the k largest (ties by label) among those holding a record of this run
    (`of_new`, their labels), both executors alike."""
    counts = np.bincount(labels)
    return sorted({int(x) for x in of_new if counts[x] > 1}, key=lambda x: (-counts[x], x))[:k]


def write_cluster_report(path: Path, config: DedupeConfig, clusters: list[list[tuple[str, str, str, float]]]) -> None:
    """The largest clusters as Markdown tables, each member as (source, id, compared text, similarity to the
    survivor, which comes first); clusters of `large_cluster` or more are flagged with the spread of that
    similarity, where a templated text joining unlike records would show."""
    lines = [f"# Largest duplicate clusters (threshold {config.threshold}, key {config.key})", ""]
    for members in clusters:
        lines += [f"## Cluster of {len(members)}", ""]
        if len(members) >= config.large_cluster:
            sims = np.array([m[3] for m in members[1:]])
            lines += [f"**Large cluster** ({len(members)} >= {config.large_cluster}): similarity to the survivor "
                      f"min {sims.min():.3f}, median {np.median(sims):.3f}, max {sims.max():.3f}", ""]
        lines += ["| source | id | similarity | text |", "|---|---|---|---|"]
        for k, (source, rid, text, sim) in enumerate(members):
            cell = text.replace("\n", " ").replace("|", "/")[:240]
            lines.append(f"| {source} | {rid} | {'survivor' if k == 0 else f'{sim:.3f}'} | {cell} |")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
