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
from ..steps.dedupe import VERIFY_MARGIN, Dedupe, duplicate, survivor_of_label, write_cluster_report
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
            if c.report:  # the report names each member's source
                cols["source"] = pa.array([r["source"] for r in chosen], pa.string())
            if c.near:
                cols["sig"] = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 * c.num_perm), n,
                                                                   [None, pa.py_buffer(sig.tobytes())])
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
    return df.select("root", "row").unique().to_arrow()  # a row shares many bands with its root: once is enough


def pick(table: pa.Table, offsets: dict[int, int], rows: np.ndarray) -> pa.Table:
    """The listed rows of the signature tables (sorted row numbers)."""
    table = add_rows(table, offsets)
    return table.filter(pa.array(np.isin(table["row"].to_numpy(), rows)))


def signature_matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Signatures stored as bytes (fixed width, or plain binary after a join) as a (rows, num_perm) matrix."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(arr) == 0:
        return np.zeros((0, 0), dtype=np.uint32)
    if pa.types.is_fixed_size_binary(arr.type):
        width = arr.type.byte_width
        data = np.frombuffer(arr.buffers()[1], dtype=np.uint8)[arr.offset * width: (arr.offset + len(arr)) * width]
    else:
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if pa.types.is_large_binary(arr.type) else np.int32)
        first, last = offsets[arr.offset], offsets[arr.offset + len(arr)]
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[first:last]
    return data.view(np.uint32).reshape(len(arr), -1)


def score_pairs(table: pa.Table, config: Any, verify: bool) -> pa.Table:
    """Similarity of joined pairs, as the local step computes it: the MinHash estimate, and with `verify` the
    exact Jaccard of the shingle sets of pairs near the threshold (pairs below it are dropped)."""
    est = (signature_matrix(table["sig_a"]) == signature_matrix(table["sig_b"])).mean(axis=1).astype(np.float32)
    a, b = table["a"].to_numpy(), table["b"].to_numpy()
    if verify:
        near = est >= config.threshold - VERIFY_MARGIN
        a, b, est = a[near], b[near], est[near]
        idx = np.flatnonzero(near)
        take = pa.array(idx)
        texts = table["text_a"].take(take).to_pylist() + table["text_b"].take(take).to_pylist()
        cjk = np.r_[table["cjk_a"].take(take).to_numpy(), table["cjk_b"].take(take).to_numpy()].astype(bool)
        flat, offsets = mh.shingle_batch(texts, cjk, config.ngram, config.char_ngram)
        k = len(idx)
        est = mh.pair_jaccard(flat, offsets, np.arange(k), np.arange(k) + k).astype(np.float32)
        keep = est >= config.threshold
        a, b, est = a[keep], b[keep], est[keep]
    return pa.table({"a": a, "b": b, "sim": est})


NO_DECISIONS = pl.DataFrame(schema={"shard": pl.Int64, "local": pl.Int64, "dup_id": pl.String, "exact": pl.Boolean,
                                    "sim": pl.Float64, "size": pl.Int64})


class DropDuplicates(ShardWorker):
    def __init__(self, step: Dedupe, scope: Scope, out: str, decisions: pl.DataFrame):
        super().__init__(step, scope, out)
        self.decisions = decisions

    def decide(self, shard: Shard, records: list[Record]) -> tuple[list[Record], Rejected]:
        mine = self.decisions.filter(pl.col("shard") == shard.index)
        verdicts = {row[0]: row[1:] for row in mine.select("local", "dup_id", "exact", "sim", "size").iter_rows()}
        kept: list[Record] = []
        rejected: Rejected = []
        for i, rec in enumerate(records):
            verdict = verdicts.get(i)
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


class Similarity:
    """Scores pairs of rows on the workers: each pair meets its two rows' texts and signatures in Ray Data
    joins, so the driver sends and receives row numbers and scores only. Only the rows of some pair enter the
    joins, so what is shuffled grows with the duplicates, not with the data."""

    def __init__(self, ray: Any, files: list[str], offsets: dict[int, int], config: Any, partitions: int):
        self.ray, self.files, self.offsets, self.config, self.partitions = ray, files, offsets, config, partitions

    def score(self, pairs: np.ndarray, verify: bool) -> pl.DataFrame:
        empty = pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "sim": pl.Float32})
        if len(pairs) == 0:
            return empty
        ray = self.ray
        rows = ray.data.read_parquet(self.files).select_columns(["shard", "local", "text", "cjk", "sig"]).map_batches(
            pick, fn_args=(self.offsets, np.unique(pairs.ravel())), batch_format="pyarrow")
        rows = rows.drop_columns(["shard", "local"])
        ds = ray.data.from_arrow(pa.table({"a": pairs[:, 0], "b": pairs[:, 1]}))
        for end in ("a", "b"):
            side = rows.rename_columns({"row": end, "text": f"text_{end}", "cjk": f"cjk_{end}", "sig": f"sig_{end}"})
            ds = ds.join(side, "inner", self.partitions, on=(end,))
        scored = ds.map_batches(score_pairs, fn_args=(self.config, verify), batch_format="pyarrow")
        tables = [pl.from_arrow(t) for t in ray.get(scored.to_arrow_refs()) if t.num_rows]
        return pl.concat(tables).sort("a", "b") if tables else empty


def run_dedupe(ex: RayExecutor, planned: PlannedStep, step: Dedupe, inputs: list[Entry], work: WorkDir,
               scope: Scope, progress: Progress | None) -> Entry:
    from .ray_executor import commit_shards

    c = step.config
    if c.index_dir:
        raise MedcurateError(f"step '{planned.id}': index_dir runs with the local executor only; "
                             "remove it or run this recipe with executor: {type: local}")
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
        decisions = NO_DECISIONS
        rows = labels = np.zeros(0, dtype=np.int64)
        if n > 1:
            exact = np.zeros((0, 2), dtype=np.int64)
            if c.exact:
                exact = _pairs(ray, files, offsets, add_rows, ["exact"], ["shard", "local", "exact"], partitions)
            near = pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "sim": pl.Float32})
            similarity = Similarity(ray, files, offsets, c, partitions) if c.near else None
            if similarity is not None:
                cand = _pairs(ray, files, offsets, band_rows, ["band", "key"], ["shard", "local", "keys"], partitions)
                near = similarity.score(cand, c.verify)
            rows, labels = _clusters(exact, near)
            decisions = _decide(ray, files, offsets, rows, labels, near, similarity)
        if c.report:
            _report(ray, files, offsets, rows, labels, c)
        shutil.rmtree(sig_dir)
        stats = ex.map_shards(pending, shards, DropDuplicates, (step, scope, str(pending.tmp), decisions), progress,
                              planned.id)
        return commit_shards(pending, planned, step, stats)
    except BaseException:
        pending.abandon()
        raise


def _clusters(exact_edges: np.ndarray, near: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The rows in some pair (sorted) and their cluster labels, numbered in the order of each cluster's first
    row, as the local step numbers them."""
    near_edges = near.select("a", "b").to_numpy().astype(np.int64).reshape(-1, 2)
    rows = np.unique(np.concatenate([exact_edges.ravel(), near_edges.ravel()]))
    links = np.searchsorted(rows, np.concatenate([exact_edges, near_edges]))
    return rows, mh.components(len(rows), links.astype(np.int64))


def _picked(ray: Any, files: list[str], offsets: dict[int, int], rows: np.ndarray, columns: list[str]) -> pa.Table:
    """`columns` (with shard, local and row) of the listed rows of the signature tables, brought to the driver
    in row order."""
    picked = ray.data.read_parquet(files).select_columns(["shard", "local", *columns]).map_batches(
        pick, fn_args=(offsets, rows), batch_format="pyarrow")
    return pa.concat_tables(ray.get(picked.to_arrow_refs())).sort_by("row")


def _report(ray: Any, files: list[str], offsets: dict[int, int], rows: np.ndarray, labels: np.ndarray,
            config: Any) -> None:
    """The local step's report of the largest clusters; only their members' texts are fetched."""
    counts = np.bincount(labels)
    order = sorted(range(len(counts)), key=lambda x: (-counts[x], x))[: config.report_clusters]
    members = [rows[labels == label] for label in order]
    clusters = []
    if members:
        table = _picked(ray, files, offsets, np.unique(np.concatenate(members)), ["id", "source", "text"])
        for m in members:
            at = np.searchsorted(table["row"].to_numpy(), m)
            clusters.append(list(zip(table["source"].take(at).to_pylist(), table["id"].take(at).to_pylist(),
                                     table["text"].take(at).to_pylist())))
    write_cluster_report(Path(config.report), config, clusters)


def _decide(ray: Any, files: list[str], offsets: dict[int, int], rows: np.ndarray, labels: np.ndarray,
            near: pl.DataFrame, similarity: Similarity | None) -> pl.DataFrame:
    """(shard, row in shard) -> what `duplicate` needs, for every record that is not its cluster's survivor;
    the driver holds row numbers, ranks and scores of the duplicates only."""
    if len(rows) == 0:
        return NO_DECISIONS
    table = _picked(ray, files, offsets, rows, ["id", "exact", "prio", "prefer"])
    surv = survivor_of_label(np.arange(len(rows), dtype=np.int64), labels, np.ones(len(rows), bool),
                             table["prio"].to_numpy(), table["prefer"].to_numpy())
    sizes = np.bincount(labels)
    i = np.flatnonzero(surv[labels] != np.arange(len(rows)))  # the duplicates
    s = surv[labels][i]
    exact = table["exact"].to_numpy()
    out = pl.DataFrame({"shard": table["shard"].to_numpy()[i], "local": table["local"].to_numpy()[i],
                        "dup_id": pl.from_arrow(table["id"].take(pa.array(s))), "exact": exact[s] == exact[i],
                        "a": np.minimum(rows[s], rows[i]), "b": np.maximum(rows[s], rows[i]),
                        "size": sizes[labels[i]].astype(np.int64)})
    out = out.join(near.rename({"sim": "scored"}), on=["a", "b"], how="left")
    if similarity is None:  # no signatures: every duplicate is exact
        out = out.with_columns(pl.lit(None, pl.Float32).alias("estimated"))
    else:  # a near duplicate linked to its survivor through others: the signatures' estimate, as locally
        missing = out.filter(pl.col("scored").is_null() & ~pl.col("exact")).select("a", "b").to_numpy()
        out = out.join(similarity.score(missing, verify=False).rename({"sim": "estimated"}), on=["a", "b"],
                       how="left")
    sim = pl.coalesce("scored", "estimated").cast(pl.Float64).fill_null(1.0)  # exact duplicates report 1.0
    return out.with_columns(sim.alias("sim")).select(NO_DECISIONS.columns)
