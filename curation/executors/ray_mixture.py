"""The mixture on Ray, with the local executor's result: the same plan, the same shards, byte for byte.

1. Each shard task finds which stage selects which of its records, by cell (`selected_rows`), numbering
   rows as the local executor does.
2. One task plans every stage from those row numbers (`mix_all`, the local arithmetic and seeds) and lays
   the mix out as places: (stage, split, output shard, position, row).
3. Each shard task emits its planned rows, once per place, with the record as JSON to travel; a Ray Data
   group-by brings every output shard's rows together on a worker, which orders and writes them.

The driver holds shard offsets, object refs and the plans' counts; the records and the rows' places stay
on the workers and in the object store.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa

from ..export import SPLITS, part_path, parts_of, write_part
from ..mixture import SELECTED, StageMix, mix_all, selected_rows
from ..recipe.model import Stage
from ..workdir import Entry
from .shards import shards_in, shards_of
from .stored import Stored

if TYPE_CHECKING:
    from .ray_executor import RayExecutor

PLACES = pa.schema([("stage", pa.int32()), ("split", pa.int32()), ("part", pa.int32()), ("pos", pa.int64()),
                    ("row", pa.int64()), ("replay", pa.bool_())])


def select_shards(batch: dict[str, Any], stages: dict[str, Stage], tags_of: dict[str, list[str]],
                  offsets: dict[int, int]) -> pa.Table:
    tables = [selected_rows(stages, shard.records(), tags_of, offsets[shard.index]) for shard in shards_in(batch)]
    return pa.concat_tables(tables) if tables else SELECTED.empty_table()


def plan(selected: Stored, stages: dict[str, Stage], seed: int, shard_size: int) -> tuple[dict[str, StageMix],
                                                                                       pa.Table]:
    """The stages' plans (without their rows, for the driver) and every place in the output, by row."""
    mixes = mix_all(stages, selected.table() or SELECTED.empty_table(), seed=seed)
    places = [PLACES.empty_table()]
    for s, mix in enumerate(mixes.values()):
        for split, (rows, replay) in mix.splits().items():
            pos = np.arange(len(rows), dtype=np.int64)
            places.append(pa.table({"stage": np.full(len(rows), s, dtype=np.int32),
                                    "split": np.full(len(rows), SPLITS.index(split), dtype=np.int32),
                                    "part": (pos // shard_size).astype(np.int32), "pos": pos, "row": rows,
                                    "replay": replay}, schema=PLACES))
    table = pa.concat_tables(places).sort_by("row")
    return {name: mix.without_rows() for name, mix in mixes.items()}, table


def emit(batch: dict[str, Any], places: Stored, offsets: dict[int, int]) -> pa.Table:
    """The shards' planned rows, once per place, each with its record."""
    table = places.table() or PLACES.empty_table()
    rows = table["row"].to_numpy()
    out = [pa.Table.from_batches([], schema=PLACES.append(pa.field("record", pa.binary())))]
    for shard in shards_in(batch):
        first = offsets[shard.index]
        lo, hi = np.searchsorted(rows, [first, first + shard.rows])
        if hi == lo:
            continue
        mine = table.slice(lo, hi - lo)
        records = shard.records()
        payload = [orjson.dumps(records[r - first]) for r in mine["row"].to_numpy()]
        out.append(mine.append_column("record", pa.array(payload, pa.binary())))
    return pa.concat_tables(out)


def write_group(group: pa.Table, out: str, names: list[str], replay_from: list[str | None],
                parts: dict[tuple[int, int], int]) -> pa.Table:
    """One output shard: its rows in output order, written as the local executor writes them."""
    group = group.sort_by("pos")
    stage, split, part = (int(group[c][0].as_py()) for c in ("stage", "split", "part"))
    records = [orjson.loads(b) for b in group["record"].to_pylist()]
    write_part(records, group["replay"].to_pylist(), replay_from[stage],
               part_path(Path(out), names[stage], SPLITS[split], part, parts[(stage, split)]))
    return pa.table({"rows": [group.num_rows]})


def write_mixture(ex: RayExecutor, inputs: list[Entry], stages: dict[str, Stage], seed: int,
                  tags_of: dict[str, list[str]], out: Path, shard_size: int) -> dict[str, StageMix]:
    ray = ex.ray
    shards = shards_of(inputs)
    starts = np.r_[0, np.cumsum([s.rows for s in shards])].astype(np.int64)
    offsets = {s.index: int(starts[k]) for k, s in enumerate(shards)}
    items = ray.data.from_items([asdict(s) for s in shards], override_num_blocks=max(1, len(shards)))
    selected = Stored(())
    if shards:
        selected = Stored(tuple(items.map_batches(select_shards, fn_args=(stages, tags_of, offsets),
                                                  batch_size=1).to_arrow_refs()))
    plans, places = ray.remote(num_returns=2)(plan).remote(selected, stages, seed, shard_size)
    mixes: dict[str, StageMix] = ray.get(plans)
    names = list(mixes)
    parts = {(s, SPLITS.index(split)): parts_of(n, shard_size)
             for s, mix in enumerate(mixes.values()) for split, n in mix.split_sizes().items()}
    if any(mix.report["train"] or mix.report["validation"] for mix in mixes.values()):
        emitted = items.map_batches(emit, fn_args=(Stored((places,)), offsets), batch_size=1)
        partitions = max(1, min(ex.workers * 4, sum(parts.values())))
        written = emitted.groupby(["stage", "split", "part"], num_partitions=partitions).map_groups(
            write_group, fn_args=(str(out), names, [m.replay_from for m in mixes.values()], parts),
            batch_format="pyarrow", scheduling_strategy=ex.here)  # the output folder is on the driver's node
        written.materialize()
    for (s, split), n in parts.items():  # splits without records still have their one (empty) shard
        path = part_path(out, names[s], SPLITS[split], 0, n)
        if not path.exists():
            write_part([], [], None, path)
    return mixes
