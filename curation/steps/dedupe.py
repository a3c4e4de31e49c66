"""dedupe: exact and MinHash near-duplicate removal across all sources of a run, with a survivor policy.

Exact duplicates share the hash of their normalised text; near duplicates share a MinHash LSH band and,
when `verify` is on, clear the threshold on their true Jaccard similarity. Both kinds of pairs are joined
into clusters (connected components); in each cluster one record survives by the policy (records already
in the persistent index first, then source priority, then a preferred score, then input order) and the
others are rejected naming the record they duplicate. With `index_dir`, kept records' signatures persist,
so a later run dedupes new sources against everything kept before without recomputing the old signatures.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from .. import minhash as mh
from ..errors import MedcurateError
from ..record import dotted
from ..storage import Location
from .base import GlobalStep, Record, Reject, StepConfig, register


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
    bands: int | None = Field(None, description="LSH bands; derived from the threshold when left out.")
    rows: int | None = Field(None, description="Rows per band; derived from the threshold when left out.")
    verify: bool = Field(True, description="Check candidate pairs' true Jaccard, removing LSH false positives.")
    keep: KeepPolicy = Field(default_factory=KeepPolicy)
    index_dir: str | None = Field(None, description="Persistent index for incremental runs: a folder or a URI "
                                                    "(s3://...).")
    report: str | None = Field(None, description="Write the largest clusters here (Markdown).")
    report_clusters: int = 20
    seed: int = 1
    batch_size: int = 20_000
    workers: int = Field(1, ge=1, description="Threads for tokenising and signatures.")


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


def survivor_of_label(rows: np.ndarray, labels: np.ndarray, new: np.ndarray, prio: np.ndarray,
                      prefer: np.ndarray) -> np.ndarray:
    """The surviving row of each cluster label: indexed records first, then priority, score and input order."""
    df = pl.DataFrame({"row": rows, "label": labels.astype(np.int64), "new": new, "prio": prio, "prefer": prefer})
    survivors = (df.sort(["label", "new", "prio", "prefer", "row"]).group_by("label", maintain_order=True)
                 .first().select("label", pl.col("row").alias("survivor")))
    surv = np.empty(int(labels.max()) + 1 if len(labels) else 0, dtype=np.int64)
    surv[survivors["label"].to_numpy()] = survivors["survivor"].to_numpy()
    return surv


def duplicate(dup_id: str, exact: bool, similarity: float, cluster_size: int) -> Reject:
    detail = {"duplicate_of": dup_id, "similarity": round(1.0 if exact else similarity, 4),
              "cluster_size": cluster_size}
    return Reject("exact duplicate" if exact else "near duplicate", detail)


VERIFY_MARGIN = 0.15  # pairs whose estimate is this far below the threshold are not verified (not pairs)


def verified_pairs(config: DedupeConfig, cand: np.ndarray, sig: np.ndarray, texts: list[str], cjk: np.ndarray,
                   first_text: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (rows of `sig`) that are duplicates, with their similarity. With `verify`, pairs whose
    rows both have a text (row - first_text in `texts`) are judged on the exact Jaccard of their shingle sets;
    pairs whose estimate is far below the threshold are dropped first (its standard error at 128 permutations
    is under 0.045)."""
    est = mh.estimated_jaccard(sig, cand[:, 0], cand[:, 1])
    if not config.verify:
        return cand, est
    near = est >= config.threshold - VERIFY_MARGIN
    cand, est = cand[near], est[near]
    both = (cand[:, 0] >= first_text) & (cand[:, 1] >= first_text)
    pairs = cand[both] - first_text
    rows = np.unique(pairs.ravel())  # their shingles, in one batch
    flat, offsets = mh.shingle_batch([texts[i] for i in rows], cjk[rows], config.ngram, config.char_ngram)
    slot = np.searchsorted(rows, pairs)
    est[both] = mh.pair_jaccard(flat, offsets, slot[:, 0], slot[:, 1])
    keep = est >= config.threshold
    return cand[keep], est[keep]


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


@register("dedupe")
class Dedupe(GlobalStep):
    Config = DedupeConfig
    config: DedupeConfig

    def cjk_flags(self, records: list[Record], texts: list[str]) -> np.ndarray:
        mode = self.config.shingle
        if mode != "auto":
            return np.full(len(texts), mode == "char")
        return np.array([mh.is_cjk(t, r.get("lang")) for r, t in zip(records, texts)], dtype=bool)

    def compute_hashes(self, texts: list[str], cjk: np.ndarray, near: bool) -> tuple[np.ndarray, np.ndarray | None]:
        c = self.config
        jobs = [(texts[i: i + c.batch_size], cjk[i: i + c.batch_size], c, near)
                for i in range(0, len(texts), c.batch_size)]
        if c.workers > 1 and len(jobs) > 1:
            # threads, not processes: polars and the compiled kernels release the GIL, and threads share the
            # texts instead of pickling them to workers whose memory grows batch after batch
            with ThreadPoolExecutor(c.workers) as pool:
                results = list(pool.map(_batch_hashes, jobs))
        else:
            results = [_batch_hashes(j) for j in jobs]
        if not results:
            return np.zeros(0, dtype=np.uint64), np.zeros((0, c.num_perm), dtype=np.uint32) if near else None
        exact = np.concatenate([r[0] for r in results])
        return exact, (np.concatenate([r[1] for r in results]) if near else None)

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

    def apply(self, records):
        c = self.config
        texts = [mh.record_text(r, c.key, c.field) for r in records]
        n_new = len(records)
        index = Index(Location.of(c.index_dir), c) if c.index_dir else None
        old_ids, old_exact, old_sig = index.load() if index else ([], np.zeros(0, np.uint64), None)
        n_old = len(old_ids)
        need_sig = c.near or index is not None
        cjk = self.cjk_flags(records, texts)
        exact, new_sig = self.compute_hashes(texts, cjk, need_sig)
        all_exact = np.concatenate([old_exact, exact])
        n = n_old + n_new
        edges = [np.zeros((0, 2), dtype=np.int64)]
        if c.exact:
            rows = np.arange(n, dtype=np.int64)
            df = pl.DataFrame({"h": all_exact, "row": rows})
            e = (df.with_columns(pl.col("row").min().over("h").alias("root"))
                 .filter(pl.col("row") != pl.col("root")).select("root", "row").to_numpy())
            edges.append(e)
        similarity: dict[tuple[int, int], float] = {}
        sig = (np.concatenate([old_sig, new_sig]) if n_old else new_sig) if need_sig else None
        if c.near and n > 1:
            bands, rows_per_band = self.band_params()
            cand = mh.candidate_edges(mh.band_keys(sig, bands, rows_per_band))
            if len(cand):
                cand, est = verified_pairs(c, cand, sig, texts, cjk, n_old)
                for (a, b), j in zip(cand, est):
                    similarity[(int(a), int(b))] = float(j)
                edges.append(cand)
        labels = mh.components(n, np.concatenate(edges).astype(np.int64))
        kept, rejected = self.resolve(records, labels, n_old, old_ids, all_exact, sig, similarity)
        if index is not None:
            kept_ids = {id(k) for k in kept}
            kept_rows = np.array([n_old + i for i, r in enumerate(records) if id(r) in kept_ids], dtype=np.int64)
            index.append([records[i - n_old]["id"] for i in kept_rows], all_exact[kept_rows], sig[kept_rows])
        if c.report:
            self.write_report(Path(c.report), records, labels, n_old, old_ids)
        return kept, rejected

    def resolve(self, records, labels, n_old, old_ids, all_exact, sig, similarity):
        n_new = len(records)
        prio, prefer = self.ranks(records)
        surv = survivor_of_label(np.arange(n_old + n_new, dtype=np.int64), labels,
                                 np.r_[np.zeros(n_old, bool), np.ones(n_new, bool)],
                                 np.r_[np.zeros(n_old, np.int64), prio], np.r_[np.zeros(n_old), prefer])
        sizes = np.bincount(labels)
        kept, rejected = [], []
        for i, rec in enumerate(records):
            row = n_old + i
            s = int(surv[labels[row]])
            if s == row:
                kept.append(rec)
                continue
            dup_id = old_ids[s] if s < n_old else records[s - n_old]["id"]
            exact_dup = all_exact[s] == all_exact[row]
            if sig is not None:
                sim = similarity.get((min(s, row), max(s, row)), float((sig[s] == sig[row]).mean()))
            else:
                sim = 1.0
            rejected.append((rec, duplicate(dup_id, exact_dup, sim, int(sizes[labels[row]]))))
        return kept, rejected

    def write_report(self, path: Path, records, labels, n_old, old_ids) -> None:
        clusters = []
        for label in largest_labels(labels, labels[n_old:], self.config.report_clusters):
            members = []
            for row in np.flatnonzero(labels == label):
                if row < n_old:
                    members.append(("(index)", old_ids[row], "(kept by an earlier run)"))
                    continue
                r = records[row - n_old]
                members.append((r["source"], r["id"], mh.record_text(r, self.config.key, self.config.field)))
            clusters.append(members)
        write_cluster_report(path, self.config, clusters)


def largest_labels(labels: np.ndarray, of_new: np.ndarray, k: int) -> list[int]:
    """The report's clusters: the k largest (ties by label) among those holding a record of this run
    (`of_new`, their labels), both executors alike."""
    counts = np.bincount(labels)
    return sorted({int(x) for x in of_new if counts[x] > 1}, key=lambda x: (-counts[x], x))[:k]


def write_cluster_report(path: Path, config: DedupeConfig, clusters: list[list[tuple[str, str, str]]]) -> None:
    """The largest clusters as Markdown tables, each member as (source, id, compared text)."""
    lines = [f"# Largest duplicate clusters (threshold {config.threshold}, key {config.key})", ""]
    for members in clusters:
        lines += [f"## Cluster of {len(members)}", "", "| source | id | text |", "|---|---|---|"]
        for source, rid, text in members:
            cell = text.replace("\n", " ").replace("|", "/")[:240]
            lines.append(f"| {source} | {rid} | {cell} |")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
