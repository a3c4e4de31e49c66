"""Export: one Hugging Face dataset config per training stage, with a dataset card, charts and other formats.

Layout of the output folder:
  README.md                          dataset card; its YAML front matter declares one config per stage,
                                     so `datasets.load_dataset(out, "stage1")` works
  data/<stage>/<split>-NNNNN-of-NNNNN.parquet
  disk/<stage>/                      `DatasetDict.save_to_disk`, for `datasets.load_from_disk`
  jsonl/<stage>/<split>.<format>.jsonl   OpenAI messages or Alpaca, when asked for
  charts/<stage>/*.png               language, source and task mix, length distributions
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from .mixture import StageMix
from .recipe.model import Export
from .record import ARROW_SCHEMA, to_table
from .stats import compute_stats, plot_stats
from .steps.base import Record
from .workdir import fingerprint

SPLITS = ("train", "validation")


def openai_row(rec: Record) -> dict[str, Any]:
    if rec.get("messages"):
        return {"messages": rec["messages"]}
    return {"text": rec.get("text") or ""}


def alpaca_row(rec: Record) -> dict[str, Any]:
    """Single-turn records map directly; longer conversations keep the earlier turns as `history`."""
    msgs = rec.get("messages") or []
    if not msgs:
        return {"text": rec.get("text") or ""}
    system = next((m["content"] for m in msgs if m["role"] == "system"), None)
    turns = [m for m in msgs if m["role"] != "system"]
    pairs, i = [], 0
    while i < len(turns):
        user = turns[i]["content"] if turns[i]["role"] == "user" else ""
        j = i + 1 if turns[i]["role"] == "user" else i
        answer = turns[j]["content"] if j < len(turns) and turns[j]["role"] == "assistant" else ""
        pairs.append([user, answer])
        i = j + 1
    last = pairs[-1] if pairs else ["", ""]
    row: dict[str, Any] = {"instruction": last[0], "input": "", "output": last[1]}
    if len(pairs) > 1:
        row["history"] = pairs[:-1]
    if system:
        row["system"] = system
    return row


ROW_FORMATS = {"openai": openai_row, "alpaca": alpaca_row}


def _write_shards(table: pa.Table, folder: Path, split: str, shard_size: int) -> list[str]:
    n = max(1, -(-table.num_rows // shard_size))
    names = []
    for k in range(n):
        name = f"{split}-{k:05d}-of-{n:05d}.parquet"
        pq.write_table(table.slice(k * shard_size, shard_size), folder / name, compression="zstd")
        names.append(name)
    return names


def _save_to_disk(tables: dict[str, pa.Table], folder: Path) -> None:
    import datasets

    # an explicit fingerprint from the content keeps save_to_disk byte-identical across runs
    dd = datasets.DatasetDict({
        split: datasets.Dataset(t, fingerprint=fingerprint("export", folder.name, split, t.num_rows,
                                                           t.column("id").to_pylist()))
        for split, t in tables.items()
    })
    shown = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # the run has its own progress display
    try:
        dd.save_to_disk(str(folder))
    finally:
        if shown:
            datasets.enable_progress_bars()


def _write_jsonl(records: list[Record], path: Path, fmt: str) -> None:
    row = ROW_FORMATS[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for rec in records:
            fh.write(orjson.dumps(row(rec), option=orjson.OPT_APPEND_NEWLINE))


def export_stages(mixes: dict[str, StageMix], out: Path, cfg: Export, *, title: str, description: str | None,
                  licenses: dict[str, str | None], curated: pa.Table | None) -> dict[str, Any]:
    """Write every stage; returns per-stage statistics for the manifest."""
    for sub in ("data", "disk", "jsonl", "charts"):
        shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    configs, stats = [], {}
    for name, mix in mixes.items():
        splits = {s: recs for s, recs in (("train", mix.train), ("validation", mix.validation)) if recs}
        if not splits:
            splits = {"train": []}
        folder = out / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        tables = {s: to_table(recs) if recs else ARROW_SCHEMA.empty_table() for s, recs in splits.items()}
        data_files = []
        for split, table in tables.items():
            _write_shards(table, folder, split, cfg.shard_size)
            data_files.append({"split": split, "path": f"data/{name}/{split}-*.parquet"})
        configs.append({"config_name": name, "data_files": data_files})
        _save_to_disk(tables, out / "disk" / name)
        for fmt in cfg.formats:
            for split, recs in splits.items():
                _write_jsonl(recs, out / "jsonl" / name / f"{split}.{fmt}.jsonl", fmt)
        stats[name] = {split: compute_stats(t) for split, t in tables.items()}
        if cfg.charts and tables["train"].num_rows:
            plot_stats(tables["train"], out / "charts" / name)
    if curated is not None:
        pq.write_table(curated, out / "curated.parquet", compression="zstd")
    card = dataset_card(title, description, configs, mixes, stats, licenses, cfg)
    (out / "README.md").write_text(card, encoding="utf-8")
    return stats


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"
    lines = ["| " + " | ".join(headers) + " |", rule]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def dataset_card(title: str, description: str | None, configs: list[dict[str, Any]], mixes: dict[str, StageMix],
                 stats: dict[str, Any], licenses: dict[str, str | None], cfg: Export) -> str:
    used = sorted({c.source for m in mixes.values() for c in m.cells if c.taken or c.validation})
    known = {licenses.get(s) for s in used if licenses.get(s)}
    front = {"configs": configs, "language": sorted({c.lang for m in mixes.values() for c in m.cells
                                                     if c.lang != "unknown"}),
             "license": "other" if len(known) != 1 else next(iter(known)),
             "tags": ["medical", "instruction-tuning", "medcurate"]}
    parts = ["---", yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
             f"# {title}", "", description or "A medical instruction dataset built with medcurate.", "",
             "## Loading", "", "```python", "import datasets", ""]
    for c in configs:
        parts.append(f'{c["config_name"]} = datasets.load_dataset("path/to/this/folder", "{c["config_name"]}")')
    parts += ["# or, without the card: datasets.load_from_disk(\"path/to/this/folder/disk/<stage>\")", "```", ""]
    parts += ["## Licenses of the sources", "", _table(["source", "license"], [[s, licenses.get(s) or "not given"]
                                                                               for s in used]), ""]
    for name, mix in mixes.items():
        st = stats[name]
        parts += [f"## Stage `{name}`", "",
                  f"{len(mix.train):,} training and {len(mix.validation):,} validation records"
                  + (f", of which {mix.replayed:,} replayed from an earlier stage" if mix.replayed else "")
                  + (f"; {mix.shortfall:,} short of the target size (upsampling cap)" if mix.shortfall else "") + ".",
                  ""]
        train = st["train"]
        for key, label in (("by_source", "source"), ("by_lang", "language"), ("by_task", "task")):
            parts += [f"### Training records by {label}", "",
                      _table([label, "records", "share"],
                             [[k, f"{v:,}", f"{v / max(1, train['records']):.1%}"] for k, v in train[key].items()]), ""]
        parts += ["### Mixture", "", _table(
            ["source", "language", "available", "validation", "taken", "passes", "capped"],
            [[c.source, c.lang, c.available, c.validation, c.taken, mix.report["cells"][i]["passes"],
              "yes" if c.capped else ""] for i, c in enumerate(mix.cells)]), "",
            "```yaml", yaml.safe_dump(mix.report["config"], sort_keys=False, allow_unicode=True).rstrip() or "{}",
            "```", ""]
        if train.get("words"):
            w = train["words"]
            parts += [f"Length in words: median {w['p50']:g}, 90th percentile {w['p90']:g}, max {w['max']:,}.", ""]
        if cfg.charts and len(mix.train):
            parts += [f"![languages](charts/{name}/lang.png) ![sources](charts/{name}/source.png) "
                      f"![lengths](charts/{name}/length_words.png)", ""]
    return "\n".join(parts)
