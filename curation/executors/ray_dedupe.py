"""dedupe on Ray: signatures as shard tasks, band buckets and exact groups as Ray Data group-bys.

1. Each shard's records get their exact hash, MinHash signature and band keys, written beside the shard.
2. A group-by over the exact hash links each exact group's members to its first row. Band rows, grouped by
   a partition of their (band, key) so that every bucket reaches one worker whole, become candidate pairs by
   the step's own `bucket_pairs` (each record with the first and the preceding records of its bucket in keep
   order), as locally.
3. Candidate pairs meet their rows' texts (whole, and per role for conversations) and signatures in Ray
   Data joins and are scored there.
4. One task builds the stars around survivors from the scored pairs by the dedupe step's own policy and
   function (`star_clusters`); it holds the rows in some pair (the duplicates, a small part of the data),
   never all of them.
5. Each shard drops its rejected rows. Rows are numbered as the local executor numbers them, so the
   survivors, the rejects and their details are the local ones.

The driver holds object refs, shard offsets and a few counts: every table of pairs, clusters or verdicts
stays in the object store and is handed on by reference (`Stored`), so the driver's memory does not grow
with the number of duplicates either.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from .. import minhash as mh
from ..steps.base import Record
from ..steps.dedupe import (
    VERIFY_MARGIN,
    Dedupe,
    Index,
    bucket_pairs,
    duplicate,
    index_signatures,
    largest_labels,
    policy_order,
    sorted_unique,
    star_clusters,
    star_members,
    text_similarity,
    write_cluster_report,
)
from ..storage import Location
from ..workdir import Entry, WorkDir
from .base import Progress
from .shards import Rejected, Scope, Shard, ShardWorker, shards_in, shards_of
from .stored import Stored

if TYPE_CHECKING:
    from ..run import PlannedStep
    from .ray_executor import RayExecutor


PAIRS = {"a": pl.Int64, "b": pl.Int64}
SCORED = {**PAIRS, "sim": pl.Float32}


class SignatureWorker:
    def __init__(self, step: Dedupe, scope: Scope, out: Location, bands: int, rows: int):
        self.step, self.scope, self.out, self.bands, self.rows = step, scope, out, bands, rows
        self.step.config = step.config.model_copy(update={"workers": 1})  # one actor, one core

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"index": [], "n": []}
        c = self.step.config
        for shard in shards_in(batch):
            index = shard.index
            chosen, _ = self.scope.split(shard.records())
            texts = [mh.record_text(r, c.key, c.field) for r in chosen]
            roles = [mh.role_texts(r, c.key) for r in chosen]
            cjk = self.step.cjk_flags(chosen, texts)
            exact, sig = self.step.compute_hashes(texts, cjk, c.near or bool(c.index_dir))
            prio, prefer = self.step.ranks(chosen)
            n = len(chosen)
            sources = [r["source"] for r in chosen] if c.report else None
            if n:
                table = signature_table(index, True, [r["id"] for r in chosen], texts, roles, cjk, exact, prio,
                                        prefer, sources, sig, c, self.bands, self.rows)
                (self.out / f"{index:06d}.parquet").write_table(table)
            out["index"].append(index)
            out["n"].append(n)
        return out


def signature_table(shard: int, new: bool, ids: list[str], texts: list[str], roles: list[tuple[str, str]],
                    cjk: np.ndarray, exact: np.ndarray, prio: np.ndarray, prefer: np.ndarray,
                    sources: list[str] | None, sig: np.ndarray | None, config: Any, bands: int,
                    rows: int) -> pa.Table:
    """One shard's signature table; this run's records and the index's get the same columns in the same
    order, so their rows concatenate. `source` only for a report, signatures as fixed-width bytes, band keys
    only when near duplicates are looked for."""
    n = len(ids)
    cols: dict[str, Any] = {
        "shard": pa.array(np.full(n, shard, dtype=np.int64)), "local": pa.array(np.arange(n, dtype=np.int64)),
        "id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string()), "cjk": pa.array(cjk, pa.bool_()),
        "user": pa.array([u for u, _ in roles], pa.string()), "assistant": pa.array([a for _, a in roles], pa.string()),
        "exact": pa.array(exact, pa.uint64()), "prio": pa.array(prio, pa.int64()),
        "prefer": pa.array(prefer, pa.float64()), "new": pa.array(np.full(n, new))}
    if sources is not None:  # the report names each member's source
        cols["source"] = pa.array(sources, pa.string())
    if sig is not None:
        cols["sig"] = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 * config.num_perm), n,
                                                           [None, pa.py_buffer(np.ascontiguousarray(sig).tobytes())])
    if sig is not None and config.near:
        keys = mh.band_keys(sig, bands, rows)
        cols["keys"] = pa.FixedSizeListArray.from_arrays(pa.array(keys.ravel()), bands)
    return pa.table(cols)


def indexed_signatures(batch: dict[str, Any], config: Any, out: Location, bands: int,
                       rows: int) -> dict[str, list[Any]]:
    """The records kept by earlier runs (an index part each) as signature tables: numbered before this run's
    records, never verified on text, and preferred as survivors, as the local step treats them."""
    counts: dict[str, list[Any]] = {"index": [], "n": []}
    for shard, path in zip(batch["shard"], batch["path"]):
        df = pl.from_arrow(Location.of(str(path)).read_table())
        n = df.height
        if n:
            table = signature_table(int(shard), False, df["id"].to_list(), ["(kept by an earlier run)"] * n,
                                    [("", "")] * n, np.zeros(n, bool), df["exact"].to_numpy(), np.zeros(n, np.int64),
                                    np.zeros(n),
                                    ["(index)"] * n if config.report else None, index_signatures(df["signature"]),
                                    config, bands, rows)
            (out / f"index-{-int(shard):06d}.parquet").write_table(table)
        counts["index"].append(int(shard))
        counts["n"].append(n)
    return counts


def append_to_index(batch: dict[str, Any], decisions: Stored, index: Index, run: int) -> dict[str, list[Any]]:
    """This run's kept records (a shard's signature table less its duplicates) as the index's next part."""
    rejected = pl.from_arrow(decisions.get()).select("shard", "local")
    for path in batch["path"]:
        df = pl.from_arrow(Location.of(str(path)).read_table(["shard", "local", "id", "exact", "sig"]))
        kept = df.join(rejected, on=["shard", "local"], how="anti").sort("local")
        if kept.height:
            shard = int(kept["shard"][0])
            index.write_part(index.path / f"part-{run:05d}-{shard:06d}.parquet", kept["id"].to_list(),
                             kept["exact"].to_numpy(), signature_matrix(kept["sig"].to_arrow()))
    return {"n": [len(batch["path"])]}


def add_rows(table: pa.Table, offsets: dict[int, int]) -> pa.Table:
    """Each row's number in the step's input (what the local executor numbers it)."""
    start = np.array([offsets[int(s)] for s in table["shard"].to_numpy()], dtype=np.int64)
    return table.append_column("row", pa.array(start + table["local"].to_numpy()))


KEEP_ORDER = ["new", "prio", "prefer", "row"]  # the keep policy's order (`policy_order`), row numbers last


def band_rows(table: pa.Table, offsets: dict[int, int], partitions: int) -> pa.Table:
    """One row per (record, band) with the columns of the keep order, and the partition its bucket goes to
    (every member of a bucket has the bucket's key, so the same partition)."""
    rows = add_rows(table, offsets)["row"].to_numpy()
    keys = np.asarray(table["keys"].combine_chunks().flatten()).reshape(len(rows), -1)
    bands = keys.shape[1]
    return pa.table({"band": np.tile(np.arange(bands, dtype=np.int32), len(rows)), "key": keys.ravel(),
                     "row": np.repeat(rows, bands),
                     "part": (keys.ravel() % np.uint64(partitions)).astype(np.int64),
                     "new": np.repeat(table["new"].to_numpy(zero_copy_only=False), bands),
                     "prio": np.repeat(table["prio"].to_numpy(), bands),
                     "prefer": np.repeat(table["prefer"].to_numpy(), bands)})


def near_pairs(table: pa.Table, neighbours: int) -> pa.Table:
    """(On a worker.) The candidate pairs of the whole buckets of one partition, by the step's rule."""
    return bucket_pairs(pl.from_arrow(table), KEEP_ORDER, neighbours).to_arrow()


def pick(table: pa.Table, offsets: dict[int, int], rows: Stored) -> pa.Table:
    """The listed rows of the signature tables (sorted row numbers)."""
    table = add_rows(table, offsets)
    return table.filter(pa.array(np.isin(table["row"].to_numpy(), rows.get())))


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


def score_pairs(table: pa.Table, config: Any, verify: bool, first_text: int) -> pa.Table:
    """Similarity of joined pairs, as the local step computes it: the MinHash estimate, and with `verify` the
    step's `text_similarity` (exact Jaccard, per role for conversations) of pairs near the threshold whose rows
    both have a text (rows from `first_text` on: not the index's); pairs below the threshold are dropped."""
    est = (signature_matrix(table["sig_a"]) == signature_matrix(table["sig_b"])).mean(axis=1).astype(np.float32)
    a, b = table["a"].to_numpy(), table["b"].to_numpy()
    if verify:
        near = est >= config.threshold - VERIFY_MARGIN
        a, b, est = a[near], b[near], est[near]
        both = (a >= first_text) & (b >= first_text)
        at = np.flatnonzero(near)[both]  # the pairs to check, as rows of `table`
        if len(at):
            # each row's texts once (a row is in many pairs), from the first pair and side that names it
            _, first, inverse = np.unique(np.r_[a[both], b[both]], return_index=True, return_inverse=True)
            pair, on_b = pa.array(at[first % len(at)]), first >= len(at)

            def column(name: str) -> list[Any]:
                ends = table[f"{name}_a"].take(pair).to_pylist(), table[f"{name}_b"].take(pair).to_pylist()
                return [ends[1][k] if s else ends[0][k] for k, s in enumerate(on_b)]

            est[both] = text_similarity(config, column("text"), np.asarray(column("cjk"), dtype=bool),
                                        list(zip(column("user"), column("assistant"))), inverse[: len(at)],
                                        inverse[len(at):])
        keep = est >= config.threshold
        a, b, est = a[keep], b[keep], est[keep]
    return pa.table({"a": a, "b": b, "sim": est})


NO_DECISIONS = pl.DataFrame(schema={"shard": pl.Int64, "local": pl.Int64, "dup_id": pl.String, "exact": pl.Boolean,
                                    "sim": pl.Float64, "size": pl.Int64})


class DropDuplicates(ShardWorker):
    def __init__(self, step: Dedupe, scope: Scope, out: str, decisions: Stored):
        super().__init__(step, scope, out)
        self.decisions = pl.from_arrow(decisions.get())

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


def read_signatures(ray: Any, files: list[Location], columns: list[str]) -> Any:
    """The signature tables' `columns` as a Ray Data dataset."""
    return ray.data.read_parquet([f.path for f in files], filesystem=files[0].fs).select_columns(columns)


def _near_pairs(ray: Any, files: list[Location], offsets: dict[int, int], partitions: int,
                neighbours: int) -> Stored:
    """Candidate pairs of the rows sharing a band bucket: the band rows are grouped by partition, so each
    worker gets whole buckets and pairs them as the local step does."""
    rows = read_signatures(ray, files, ["shard", "local", "keys", "new", "prio", "prefer"]).map_batches(
        band_rows, fn_args=(offsets, partitions), batch_format="pyarrow")
    pairs = rows.groupby("part", num_partitions=partitions).map_groups(near_pairs, fn_args=(neighbours,),
                                                                       batch_format="pyarrow")
    return Stored(tuple(pairs.to_arrow_refs()))


def _pairs(ray: Any, files: list[Location], offsets: dict[int, int], mapper: Any, on: list[str],
           columns: list[str], partitions: int) -> Stored:
    """Pairs (a, b) linking every row that shares a bucket (`on`: the exact hash) with others to the
    bucket's first row, through one group-by; the buckets go from the group-by to the workers without
    passing the driver. Enough for exact duplicates, which are one unit whichever of them is linked."""
    from ray.data.aggregate import Count, Min
    from ray.data.expressions import col

    rows = read_signatures(ray, files, columns).map_batches(mapper, fn_args=(offsets,), batch_format="pyarrow")
    roots = (rows.groupby(on, num_partitions=partitions).aggregate(Count(alias_name="n"),
                                                                   Min("row", alias_name="root"))
             .filter(expr=col("n") > 1))
    buckets = Stored(tuple(roots.to_arrow_refs()))
    linked = rows.map_batches(members, fn_args=(buckets, on), batch_format="pyarrow")
    return Stored(tuple(linked.to_arrow_refs()))


def members(table: pa.Table, roots: Stored, on: list[str]) -> pa.Table:
    """Rows of the buckets that hold more than one record, as pairs (a, b) with a the bucket's first row."""
    buckets = roots.frame()
    if buckets.is_empty():
        return pl.DataFrame(schema=PAIRS).to_arrow()
    df = pl.from_arrow(table).join(buckets.select(*on, "root"), on=on, how="inner")
    df = df.filter(pl.col("row") != pl.col("root")).select(a="root", b="row")
    return df.unique().to_arrow()  # a row shares many bands with its root: once is enough


def unique_pairs(pairs: Stored) -> tuple[pa.Table, np.ndarray, int]:
    """(On a worker.) The distinct pairs, the rows they name, and how many pairs there are."""
    df = pairs.frame(PAIRS).unique().sort("a", "b")
    return df.to_arrow(), sorted_unique(df.to_numpy().ravel()), df.height


class Similarity:
    """Scores pairs of rows on the workers: each pair meets its two rows' texts and signatures in Ray Data
    joins, so the driver sends and receives references only. Only the rows of some pair enter the joins,
    so what is shuffled grows with the duplicates, not with the data."""

    def __init__(self, ray: Any, files: list[Location], offsets: dict[int, int], config: Any, partitions: int,
                 first_text: int):
        self.ray, self.files, self.offsets, self.config, self.partitions = ray, files, offsets, config, partitions
        self.first_text = first_text

    def score(self, pairs: Stored, verify: bool) -> Stored:
        ray = self.ray
        table, rows, count = ray.remote(num_returns=3)(unique_pairs).remote(pairs)
        if ray.get(count) == 0:
            return Stored(())
        columns = ["shard", "local", "text", "user", "assistant", "cjk", "sig"]
        rows = read_signatures(ray, self.files, columns).map_batches(
            pick, fn_args=(self.offsets, Stored((rows,))), batch_format="pyarrow")
        rows = rows.drop_columns(["shard", "local"])
        ds = ray.data.from_arrow_refs([table])
        for end in ("a", "b"):
            side = rows.rename_columns({name: (end if name == "row" else f"{name}_{end}")
                                        for name in ("row", "text", "user", "assistant", "cjk", "sig")})
            ds = ds.join(side, "inner", self.partitions, on=(end,))
        scored = ds.map_batches(score_pairs, fn_args=(self.config, verify, self.first_text), batch_format="pyarrow")
        return Stored(tuple(scored.to_arrow_refs()))


def run_dedupe(ex: RayExecutor, planned: PlannedStep, step: Dedupe, inputs: list[Entry], work: WorkDir,
               scope: Scope, progress: Progress | None) -> Entry:
    from .ray_executor import commit_shards

    c = step.config
    ray = ex.ray
    index = Index(Location.of(c.index_dir), c) if c.index_dir else None
    bands, rows_per_band = step.band_params()
    shards = shards_of(inputs)
    pending = work.pending(planned.entry)
    try:
        sig_dir = pending.folder / "signatures"
        sig_dir.mkdir()
        counts = _read_index(ray, index, sig_dir, bands, rows_per_band) if index is not None else []
        first_text = sum(r["n"] for r in counts)
        counts += ex.map_shards(pending, shards, SignatureWorker, (step, scope, sig_dir, bands, rows_per_band),
                                progress, f"{planned.id}: signatures")
        starts = np.r_[0, np.cumsum([r["n"] for r in counts])].astype(np.int64)
        offsets = {int(r["index"]): int(starts[k]) for k, r in enumerate(counts)}
        files = sig_dir.list("*.parquet")
        partitions = max(1, min(ex.workers * 4, len(files)))
        decisions = ray.put(NO_DECISIONS.to_arrow())
        rows = labels = ray.put(np.zeros(0, dtype=np.int64))
        sims = ray.put(np.zeros(0))
        if starts[-1] > 1:
            exact = Stored(())
            if c.exact:
                exact = _pairs(ray, files, offsets, add_rows, ["exact"], ["shard", "local", "exact"], partitions)
            near = Stored(())
            similarity = Similarity(ray, files, offsets, c, partitions, first_text) if c.near else None
            if similarity is not None:
                cand = _near_pairs(ray, files, offsets, partitions, c.bucket_neighbours)
                near = similarity.score(cand, c.verify)
            rows, links, scored = ray.remote(num_returns=3)(cluster).remote(exact, near)
            picked = _picked(ray, files, offsets, rows, ["id", "exact", "prio", "prefer", "new"])
            decisions, labels, sims = ray.remote(num_returns=3)(survivors).remote(picked, rows, links, scored)
        if c.report:
            _report(ray, files, offsets, rows, labels, sims, first_text, c)
        if index is not None:
            _append_to_index(ray, index, files, decisions)
        stats = ex.map_shards(pending, shards, DropDuplicates, (step, scope, pending.folder, Stored((decisions,))),
                              progress, planned.id)
        sig_dir.remove()
        return commit_shards(pending, planned, step, stats)
    except BaseException:
        pending.abandon()
        raise


def _read_index(ray: Any, index: Index, out: Location, bands: int, rows: int) -> list[dict[str, Any]]:
    """The index's parts as signature tables, numbered before this run's records (as locally): their counts."""
    parts = index.parts()
    if not parts:
        return []
    batches = ray.data.from_items([{"shard": -1 - k, "path": p.uri} for k, p in enumerate(parts)],
                                  override_num_blocks=len(parts))
    counts = batches.map_batches(indexed_signatures, batch_size=1, fn_args=(index.config, out, bands, rows))
    return sorted((dict(r) for r in counts.iter_rows()), key=lambda r: -r["index"])


def _append_to_index(ray: Any, index: Index, files: list[Location], decisions: Any) -> None:
    """Each shard's kept records as a part of the index's next run, written by the workers."""
    new = [{"path": f.uri} for f in files if not f.name.startswith("index-")]
    if new:
        ray.data.from_items(new, override_num_blocks=len(new)).map_batches(
            append_to_index, batch_size=1, fn_args=(Stored((decisions,)), index, index.next_run())).materialize()
    index.write_manifest()


def cluster(exact: Stored, near: Stored) -> tuple[np.ndarray, np.ndarray, pa.Table]:
    """(On a worker.) The rows in some pair (sorted), the exact pairs as positions in them, and the scored near
    pairs (sorted)."""
    exact_edges = exact.frame(PAIRS).unique().to_numpy().astype(np.int64).reshape(-1, 2)
    scored = near.frame(SCORED).sort("a", "b")
    near_edges = scored.select("a", "b").to_numpy().astype(np.int64).reshape(-1, 2)
    rows = sorted_unique(np.concatenate([exact_edges.ravel(), near_edges.ravel()]))
    return rows, np.searchsorted(rows, exact_edges).astype(np.int64), scored.to_arrow()


def _picked(ray: Any, files: list[Location], offsets: dict[int, int], rows: Any, columns: list[str]) -> Stored:
    """`columns` (with shard, local and row) of the listed rows (an object ref) of the signature tables."""
    picked = read_signatures(ray, files, ["shard", "local", *columns]).map_batches(
        pick, fn_args=(offsets, Stored((rows,))), batch_format="pyarrow")
    return Stored(tuple(picked.to_arrow_refs()))


def in_row_order(picked: Stored) -> pa.Table:
    table = picked.table()
    assert table is not None, "picked rows are never empty when some row is listed"
    return table.sort_by("row")


def _report(ray: Any, files: list[Location], offsets: dict[int, int], rows: Any, labels: Any, sims: Any,
            first_text: int, config: Any) -> None:
    """The local step's report of the largest stars; only their members' texts are fetched, and only the
    report's own content comes to the driver."""
    members, listed = ray.remote(num_returns=2)(largest_clusters).remote(rows, labels, config.report_clusters,
                                                                          first_text)
    picked = _picked(ray, files, offsets, listed, ["id", "source", "text"])
    clusters = ray.get(ray.remote(cluster_members).remote(picked, rows, members, sims))
    write_cluster_report(Path(config.report), config, clusters)


def largest_clusters(rows: np.ndarray, labels: np.ndarray, k: int,
                     first_text: int) -> tuple[list[np.ndarray], np.ndarray]:
    """(On a worker.) The members (positions in `rows`, survivor first) of the k largest stars with a record
    of this run (ties by label), and the rows of all of them, sorted."""
    order = largest_labels(labels, labels[rows >= first_text], k)
    chosen = [star_members(labels, label) for label in order]
    return chosen, sorted_unique(rows[np.concatenate(chosen)]) if chosen else np.zeros(0, dtype=np.int64)


def cluster_members(picked: Stored, rows: np.ndarray, members: list[np.ndarray],
                    sims: np.ndarray) -> list[list[tuple[str, str, str, float]]]:
    """(On a worker.) Each chosen star's members as (source, id, compared text, similarity to the survivor)."""
    if not members:
        return []
    table = in_row_order(picked)
    out = []
    for m in members:
        at = pa.array(np.searchsorted(table["row"].to_numpy(), rows[m]))
        out.append(list(zip(table["source"].take(at).to_pylist(), table["id"].take(at).to_pylist(),
                            table["text"].take(at).to_pylist(), sims[m].tolist())))
    return out


def survivors(picked: Stored, rows: np.ndarray, links: np.ndarray,
              scored: pa.Table) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """(On a worker.) The step's stars over the rows in some pair: the verdict of each of this run's
    duplicates (its survivor, exactness, similarity to it and the star's size), and each row's survivor and
    similarity (positions in `rows`) for the report."""
    if len(rows) == 0:
        return NO_DECISIONS.to_arrow(), np.zeros(0, dtype=np.int64), np.zeros(0)
    table = in_row_order(picked)
    new = table["new"].to_numpy()
    rank = policy_order(new, table["prio"].to_numpy(), table["prefer"].to_numpy())
    near = pl.from_arrow(scored)
    near_edges = np.searchsorted(rows, near.select("a", "b").to_numpy().astype(np.int64).reshape(-1, 2))
    surv, sim = star_clusters(len(rows), links, near_edges, near["sim"].to_numpy(), rank, ~new)
    sizes = np.bincount(surv, minlength=len(rows))
    i = np.flatnonzero((surv != np.arange(len(rows))) & new)  # this run's duplicates
    s = surv[i]
    exact = table["exact"].to_numpy()
    out = pl.DataFrame({"shard": table["shard"].to_numpy()[i], "local": table["local"].to_numpy()[i],
                        "dup_id": pl.from_arrow(table["id"].take(pa.array(s))), "exact": exact[s] == exact[i],
                        "sim": sim[i].astype(np.float64), "size": sizes[s].astype(np.int64)})
    return out.to_arrow(), surv, sim
