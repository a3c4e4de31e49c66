"""dedupe on Ray: signatures as shard tasks, band buckets and exact groups as Ray Data group-bys.

1. Each shard's records get their exact hash, MinHash signature and band keys, written beside the shard.
2. Group-bys over (band, key) and over the exact hash find the buckets holding more than one record; only
   those come back to the driver, and each member is linked to its bucket's first row, as locally.
3. The rows in some pair (the duplicates, a small part of the data) are fetched for verification and
   clustering; survivors are chosen by the dedupe step's own policy.
4. Each shard drops its rejected rows. Rows are numbered as the local executor numbers them, so the
   survivors, the rejects and their details are the local ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .. import minhash as mh
from ..errors import MedcurateError
from ..steps.base import Record
from ..steps.dedupe import Dedupe, duplicate, survivor_of_label, verified_pairs
from ..workdir import Entry, WorkDir
from .base import Progress
from .shards import Rejected, Scope, Shard, ShardWorker, shards_of

if TYPE_CHECKING:
    from ..run import PlannedStep
    from .ray_executor import RayExecutor


class SignatureWorker:
    def __init__(self, step: Dedupe, scope: Scope, out: str, bands: int, rows: int):
        self.step, self.scope, self.out, self.bands, self.rows = step, scope, Path(out), bands, rows
        self.step.config = step.config.model_copy(update={"workers": 1})  # one actor, one core

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"index": [], "n": []}
        c = self.step.config
        for index, path, rg in zip(batch["index"], batch["path"], batch["row_group"]):
            chosen, _ = self.scope.split(Shard(int(index), str(path), int(rg)).records())
            texts = [mh.record_text(r, c.key, c.field) for r in chosen]
            cjk = self.step.cjk_flags(chosen, texts)
            exact, sig = self.step.compute_hashes(texts, cjk, c.near)
            prio, prefer = self.step.ranks(chosen)
            n = len(chosen)
            cols: dict[str, Any] = {
                "shard": pa.array(np.full(n, int(index), dtype=np.int64)),
                "local": pa.array(np.arange(n, dtype=np.int64)), "id": pa.array([r["id"] for r in chosen]),
                "text": pa.array(texts), "cjk": pa.array(cjk), "exact": pa.array(exact),
                "prio": pa.array(prio), "prefer": pa.array(prefer)}
            if c.near:
                cols["sig"] = pa.FixedSizeListArray.from_arrays(pa.array(sig.ravel()), c.num_perm)
                keys = mh.band_keys(sig, self.bands, self.rows)
                cols["keys"] = pa.FixedSizeListArray.from_arrays(pa.array(keys.ravel()), self.bands)
            if n:
                pq.write_table(pa.table(cols), self.out / f"{int(index):06d}.parquet")
            out["index"].append(int(index))
            out["n"].append(n)
        return out


def add_rows(table: pa.Table, offsets: dict[int, int]) -> pa.Table:
    """Each row's number in the step's input (what the local executor numbers it)."""
    start = np.array([offsets[int(s)] for s in table["shard"].to_numpy()], dtype=np.int64)
    return table.append_column("row", pa.array(start + table["local"].to_numpy()))


def band_rows(table: pa.Table, offsets: dict[int, int]) -> pa.Table:
    """One row per (record, band): the table the band buckets are grouped from."""
    rows = add_rows(table, offsets)["row"].to_numpy()
    keys = np.asarray(table["keys"].combine_chunks().flatten()).reshape(len(rows), -1)
    bands = keys.shape[1]
    return pa.table({"band": np.tile(np.arange(bands, dtype=np.int32), len(rows)), "key": keys.ravel(),
                     "row": np.repeat(rows, bands)})


def members(table: pa.Table, roots: pl.DataFrame, on: list[str]) -> pa.Table:
    """Rows of the buckets that hold more than one record, each with its bucket's first row."""
    df = pl.from_arrow(table).join(roots, on=on, how="inner").filter(pl.col("row") != pl.col("root"))
    return df.select("root", "row").to_arrow()


def pick(table: pa.Table, offsets: dict[int, int], rows: np.ndarray) -> pa.Table:
    """The listed rows, whole: what verification and clustering need of the duplicates."""
    table = add_rows(table, offsets)
    return table.filter(pa.array(np.isin(table["row"].to_numpy(), rows)))


class DropDuplicates(ShardWorker):
    def __init__(self, step: Dedupe, scope: Scope, out: str, decisions: dict[tuple[int, int], Any]):
        super().__init__(step, scope, out)
        self.decisions = decisions

    def decide(self, shard: Shard, records: list[Record]) -> tuple[list[Record], Rejected]:
        kept: list[Record] = []
        rejected: Rejected = []
        for i, rec in enumerate(records):
            verdict = self.decisions.get((shard.index, i))
            if verdict is None:
                kept.append(rec)
            else:
                rejected.append((rec, duplicate(*verdict)))
        return kept, rejected


def _pairs(ray: Any, files: list[str], offsets: dict[int, int], mapper: Any, on: list[str],
           columns: list[str], partitions: int) -> np.ndarray:
    """(root, row) for every row sharing a bucket (`on`) with others, through one group-by."""
    from ray.data.aggregate import Count, Min
    from ray.data.expressions import col

    rows = ray.data.read_parquet(files).select_columns(columns).map_batches(mapper, fn_args=(offsets,),
                                                                             batch_format="pyarrow")
    roots = (rows.groupby(on, num_partitions=partitions).aggregate(Count(alias_name="n"),
                                                                   Min("row", alias_name="root"))
             .filter(expr=col("n") > 1).to_arrow_refs())
    buckets = pl.concat([pl.from_arrow(t) for t in ray.get(roots)] or [pl.DataFrame()], how="vertical")
    if buckets.is_empty():
        return np.zeros((0, 2), dtype=np.int64)
    linked = rows.map_batches(members, fn_args=(buckets.select(*on, "root"), on), batch_format="pyarrow")
    tables = [pl.from_arrow(t) for t in ray.get(linked.to_arrow_refs())]
    edges = pl.concat(tables).unique().to_numpy() if tables else np.zeros((0, 2))
    return edges.astype(np.int64)


def run_dedupe(ex: RayExecutor, planned: PlannedStep, step: Dedupe, inputs: list[Entry], work: WorkDir,
               scope: Scope, progress: Progress | None) -> Entry:
    from .ray_executor import commit_shards

    c = step.config
    if c.index_dir or c.report:
        raise MedcurateError(f"step '{planned.id}': index_dir and report run with the local executor only; "
                             "remove them or run this recipe with executor: {type: local}")
    ray = ex.ray
    bands, rows_per_band = step.band_params()
    shards = shards_of(inputs)
    pending = work.pending(planned.entry)
    try:
        sig_dir = pending.tmp / "signatures"
        sig_dir.mkdir(parents=True)
        counts = ex.map_shards(pending, shards, SignatureWorker, (step, scope, str(sig_dir), bands, rows_per_band),
                               progress, f"{planned.id}: signatures")
        starts = np.r_[0, np.cumsum([r["n"] for r in counts])].astype(np.int64)
        offsets = {r["index"]: int(starts[k]) for k, r in enumerate(counts)}
        n = int(starts[-1])
        files = [str(p) for p in sorted(sig_dir.glob("*.parquet"))]
        partitions = max(1, min(ex.workers * 4, len(files)))
        edges = [np.zeros((0, 2), dtype=np.int64)]
        if c.exact and n > 1:
            edges.append(_pairs(ray, files, offsets, add_rows, ["exact"], ["shard", "local", "exact"], partitions))
        cand = np.zeros((0, 2), dtype=np.int64)
        if c.near and n > 1:
            cand = _pairs(ray, files, offsets, band_rows, ["band", "key"], ["shard", "local", "keys"], partitions)
        decisions = _decide(ray, step, files, offsets, np.concatenate(edges), cand) if n > 1 else {}
        shutil.rmtree(sig_dir)
        stats = ex.map_shards(pending, shards, DropDuplicates, (step, scope, str(pending.tmp), decisions), progress,
                              planned.id)
        return commit_shards(pending, planned, step, stats)
    except BaseException:
        pending.abandon()
        raise


def _decide(ray: Any, step: Dedupe, files: list[str], offsets: dict[int, int], exact_edges: np.ndarray,
            cand: np.ndarray) -> dict[tuple[int, int], tuple[str, bool, float, int]]:
    """(shard, row in shard) -> what `duplicate` needs, for every record that is not its cluster's survivor."""
    c = step.config
    needed = np.unique(np.concatenate([exact_edges.ravel(), cand.ravel()]))
    if len(needed) == 0:
        return {}
    picked = ray.data.read_parquet(files).map_batches(pick, fn_args=(offsets, needed), batch_format="pyarrow")
    table = pa.concat_tables(ray.get(picked.to_arrow_refs())).sort_by("row")
    rows = table["row"].to_numpy()
    sig = (np.asarray(table["sig"].combine_chunks().flatten()).reshape(len(rows), -1).astype(np.uint32)
           if c.near else None)
    similarity: dict[tuple[int, int], float] = {}
    links = [np.searchsorted(rows, exact_edges)]
    if len(cand):
        local, est = verified_pairs(c, np.searchsorted(rows, cand), sig, table["text"].to_pylist(),
                                    table["cjk"].to_numpy(zero_copy_only=False))
        similarity = {(int(a), int(b)): float(j) for (a, b), j in zip(local, est)}
        links.append(local)
    labels = mh.components(len(rows), np.concatenate(links).astype(np.int64))
    surv = survivor_of_label(np.arange(len(rows), dtype=np.int64), labels, np.ones(len(rows), bool),
                             table["prio"].to_numpy(), table["prefer"].to_numpy())
    sizes = np.bincount(labels)
    exact, ids = table["exact"].to_numpy(), table["id"].to_pylist()
    shard, within = table["shard"].to_numpy(), table["local"].to_numpy()
    out = {}
    for i in range(len(rows)):
        s = int(surv[labels[i]])
        if s == i:
            continue
        sim = similarity.get((min(s, i), max(s, i)), float((sig[s] == sig[i]).mean()) if sig is not None else 1.0)
        out[(int(shard[i]), int(within[i]))] = (ids[s], bool(exact[s] == exact[i]), sim, int(sizes[labels[i]]))
    return out
