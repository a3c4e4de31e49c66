"""The mixture on this machine, a shard at a time: the same plan and the same bytes as with every record in
memory, with at most one input shard and one output shard held at once.

1. Each input shard says which stage selects which of its records (`selected_rows`), rows numbered across
   the shards; the stages are planned from those numbers alone (`mix_all`).
2. Each input shard's planned rows are cut from its Arrow row group (no records built) and spilled beside
   the output, one piece per output shard they land in, with their position there.
3. Each output shard gathers its pieces, puts the rows in position order and is written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..export import SPLITS, part_path, parts_of, write_part, write_part_table
from ..mixture import SELECTED, StageMix, mix_all, selected_rows, selection_fields, selection_records
from ..recipe.model import Stage
from ..storage import Location
from ..workdir import Entry
from .shards import Shard, shards_of

SPILL = ".mixture-spill"


def write_mixture(inputs: list[Entry], stages: dict[str, Stage], seed: int, tags_of: dict[str, list[str]],
                  out: Path, shard_size: int) -> dict[str, StageMix]:
    shards = shards_of(inputs)
    offsets = np.r_[0, np.cumsum([s.rows for s in shards])].astype(np.int64)
    fields = selection_fields(stages)
    selected = [selected_rows(stages, selection_records(s.table(fields)), tags_of, int(offsets[k]))
                for k, s in enumerate(shards)]
    mixes = mix_all(stages, pa.concat_tables(selected) if selected else SELECTED.empty_table(), seed=seed)
    spill = out / SPILL
    shutil.rmtree(spill, ignore_errors=True)
    try:
        places = _places(mixes, shard_size)
        for k, shard in enumerate(shards):
            _spill(shard, int(offsets[k]), places, spill)
        for s, (name, mix) in enumerate(mixes.items()):
            for split, (rows, _) in mix.splits().items():
                n = parts_of(len(rows), shard_size)
                for part in range(n):
                    _gather(spill / f"{s}-{SPLITS.index(split)}-{part}", mix.replay_from,
                            part_path(out, name, split, part, n))
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    return {name: mix.without_rows() for name, mix in mixes.items()}


def _places(mixes: dict[str, StageMix], shard_size: int) -> pa.Table:
    """Every output row as (stage, split, part, pos, row, replay), sorted by input row."""
    tables = []
    for s, mix in enumerate(mixes.values()):
        for split, (rows, replay) in mix.splits().items():
            pos = np.arange(len(rows), dtype=np.int64)
            tables.append(pa.table({"stage": np.full(len(rows), s, dtype=np.int32),
                                    "split": np.full(len(rows), SPLITS.index(split), dtype=np.int32),
                                    "part": (pos // shard_size).astype(np.int32), "pos": pos,
                                    "row": np.asarray(rows, dtype=np.int64), "replay": np.asarray(replay, bool)}))
    if not tables:
        return pa.table({"row": pa.array([], pa.int64())})
    return pa.concat_tables(tables).sort_by("row")


def _spill(shard: Shard, first: int, places: pa.Table, spill: Path) -> None:
    """The shard's planned rows, as Arrow rows of its own table, into one piece per output shard."""
    rows = places["row"].to_numpy()
    lo, hi = np.searchsorted(rows, [first, first + shard.rows])
    if hi == lo:
        return
    mine = places.slice(lo, hi - lo)
    table = Location.of(shard.path).parquet().read_row_group(shard.row_group)
    picked = table.take(pa.array(mine["row"].to_numpy() - first)).append_column("_pos", mine["pos"]) \
        .append_column("_replay", mine["replay"])
    keys = np.stack([mine[c].to_numpy() for c in ("stage", "split", "part")], axis=1)
    for key in np.unique(keys, axis=0):
        at = np.flatnonzero((keys == key).all(axis=1))
        folder = spill / "-".join(str(int(v)) for v in key)
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(picked.take(pa.array(at)), folder / f"{shard.index:06d}.parquet")


def _gather(folder: Path, replay_from: str | None, path: Path) -> None:
    """One output shard from its pieces, rows in position order (empty when no row landed in it)."""
    pieces = [pq.read_table(p) for p in sorted(folder.glob("*.parquet"))] if folder.exists() else []
    if not pieces:
        write_part([], [], replay_from, path)
        return
    table = pa.concat_tables(pieces).sort_by("_pos")
    write_part_table(table.drop_columns(["_pos", "_replay"]), table["_replay"].to_pylist(), replay_from, path)
