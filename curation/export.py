"""Export: one Hugging Face dataset config per training stage, with a dataset card, charts and other formats.

The mixture's rows are first written as the parquet shards of data/ (by the executor, where the records are);
everything else is made from those files, streamed, so the export never needs a split in memory and gives
the same bytes whichever executor wrote the shards.

Layout of the output folder:
  README.md                          dataset card; its YAML front matter declares one config per stage,
                                     so `datasets.load_dataset(out, "stage1")` works
  data/<stage>/<split>-NNNNN-of-NNNNN.parquet
  disk/<stage>/                      `DatasetDict.save_to_disk`, for `datasets.load_from_disk`
  jsonl/<stage>/<split>.<format>.jsonl   OpenAI messages or Alpaca, when asked for
  charts/<stage>/*.png               language, source and task mix, length distributions

A preference stage's shards carry TRL's columns instead of the canonical record (`prompt`, `chosen`,
`rejected`; or `prompt`, `completion`, `label`, all conversational), so TRL's trainers and LLaMA-Factory load
them unchanged; its statistics are taken from the canonical shards before they are rewritten.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from .errors import MedcurateError
from .mixture import StageMix
from .preference import trl_rows
from .recipe.model import Export
from .record import ARROW_SCHEMA, canonical, cut_tables, from_table, to_table
from .stats import compute_stats, lengths, plot_stats, preference_stats
from .steps.base import Record
from .storage import Location
from .workdir import SHARD_ROWS, file_digest, fingerprint

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


TURNS = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
TAIL = [("id", pa.string()), ("lang", pa.string()), ("origin", pa.string()), ("margin", pa.float64())]
TRL_SCHEMAS = {
    "paired": pa.schema([("prompt", TURNS), ("chosen", TURNS), ("rejected", TURNS), *TAIL]),
    "unpaired": pa.schema([("prompt", TURNS), ("completion", TURNS), ("label", pa.bool_()), *TAIL]),
}


def trl_table(records: list[Record], kind: str, stage: str) -> pa.Table:
    """A preference stage's records in TRL's columns; an unpaired record cannot train a paired objective."""
    if kind == "paired":
        single = sum(1 for r in records if (r.get("preference") or {}).get("chosen") is None)
        if single:
            raise MedcurateError(f"stage '{stage}' is paired but {single} of its records are unpaired (completion "
                                 "and label, for KTO): set `preference: unpaired`, or select only pairs")
    rows = [row for r in records for row in trl_rows(r, kind)]
    return pa.Table.from_pylist(rows, schema=TRL_SCHEMAS[kind])


def to_trl(files: list[Path], kind: str, stage: str) -> None:
    """Rewrite a preference stage's canonical shards in place, in TRL's columns (same names, same order)."""
    for path in files:
        table = trl_table(from_table(pq.read_table(path)), kind, stage)
        pq.write_table(table, path, compression="zstd")


def clear(out: Path) -> None:
    for sub in ("data", "disk", "jsonl", "charts"):
        shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def parts_of(rows: int, shard_size: int) -> int:
    return max(1, -(-rows // shard_size))


def part_path(out: Path, stage: str, split: str, k: int, n: int) -> Path:
    return out / "data" / stage / f"{split}-{k:05d}-of-{n:05d}.parquet"


def write_part(records: list[Record], replay: Iterable[bool], replay_from: str | None, path: Path) -> None:
    """One shard of a split from records; replayed records say which stage they were replayed from."""
    write_part_table(to_table(records), list(replay), replay_from, path)


def write_part_table(table: pa.Table, replay: list[bool], replay_from: str | None, path: Path) -> None:
    """One shard of a split from rows in the canonical Arrow form (the local mixture cuts them from the work
    dir's shards, so no row becomes a Python record and back). Only replayed rows' meta is rewritten."""
    table = canonical(table)
    if any(replay):
        at = table.schema.get_field_index("meta")
        meta = table["meta"].to_pylist()
        for k, again in enumerate(replay):
            if again:
                marked = {**(orjson.loads(meta[k]) if meta[k] else {}), "replay_from": replay_from}
                meta[k] = orjson.dumps(marked, option=orjson.OPT_SORT_KEYS).decode()
        table = table.set_column(at, "meta", pa.array(meta, pa.string()))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.combine_chunks(), path, compression="zstd")


def split_files(out: Path, stage: str, split: str) -> list[Path]:
    return sorted((out / "data" / stage).glob(f"{split}-*.parquet"))


def batches(files: list[Path] | list[Location], rows: int | None = None) -> Iterator[pa.Table]:
    """The files' records as tables, in order; with `rows`, every table but the last has exactly that many
    rows (in one chunk), so what is written from them does not depend on how the files were cut."""
    tables = (pa.Table.from_batches([batch]) for path in files
              for batch in Location.of(path).parquet().iter_batches(batch_size=rows or 65_536))
    return tables if rows is None else cut_tables(tables, rows)


def _save_to_disk(files: dict[str, list[Path]], folder: Path) -> None:
    """`DatasetDict.save_to_disk` over memory-mapped copies of the shards, so no split is loaded whole."""
    import datasets
    from datasets.table import MemoryMappedTable

    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".arrow-") as scratch:
        splits = {}
        for split, paths in files.items():
            arrow = str(Path(scratch) / f"{split}.arrow")
            schema = pq.read_schema(paths[0]) if paths else ARROW_SCHEMA  # TRL's columns in a preference stage
            with pa.OSFile(arrow, "wb") as sink, pa.ipc.new_stream(sink, schema) as stream:
                for table in batches(paths):
                    stream.write_table(table)
            # a fingerprint from the content keeps save_to_disk byte-identical across runs and executors
            fp = fingerprint("export", folder.name, split, [file_digest(p) for p in paths])
            splits[split] = datasets.Dataset(MemoryMappedTable.from_file(arrow), fingerprint=fp)
        shown = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()  # the run has its own progress display
        try:
            datasets.DatasetDict(splits).save_to_disk(str(folder))
        finally:
            if shown:
                datasets.enable_progress_bars()
        del splits


def _write_jsonl(files: list[Path], path: Path, fmt: str) -> None:
    row = ROW_FORMATS[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for table in batches(files):
            fh.write(b"".join(orjson.dumps(row(rec), option=orjson.OPT_APPEND_NEWLINE) for rec in from_table(table)))


def _write_curated(parts: list[Location], path: Path) -> None:
    with pq.ParquetWriter(path, ARROW_SCHEMA, compression="zstd") as writer:
        for table in batches(parts, SHARD_ROWS):
            writer.write_table(table)


def export_stages(mixes: dict[str, StageMix], out: Path, cfg: Export, title: str, description: str | None,
                  licenses: dict[str, str | None], curated: list[Location] | None) -> dict[str, Any]:
    """Everything but the shards, from the shards (and `curated`: the final records' parquet files); returns
    per-stage statistics for the manifest."""
    configs, stats = [], {}
    for name, mix in mixes.items():
        files = {split: split_files(out, name, split) for split in mix.split_sizes()}
        configs.append({"config_name": name, "data_files": [{"split": split, "path": f"data/{name}/{split}-*.parquet"}
                                                            for split in files]})
        measured = {split: lengths(paths) for split, paths in files.items()}
        stats[name] = {split: compute_stats(paths, measured[split]) for split, paths in files.items()}
        if cfg.charts and mix.report["train"]:
            plot_stats(files["train"], out / "charts" / name, measured["train"])
        if mix.kind is not None:  # measured on the canonical shards, then rewritten in TRL's columns
            for split, paths in files.items():
                stats[name][split]["preference"] = preference_stats(paths)
                to_trl(paths, mix.kind, name)
        _save_to_disk(files, out / "disk" / name)
        for fmt in cfg.formats if mix.kind is None else ():  # chat formats have no place for a rejected reply
            for split, paths in files.items():
                _write_jsonl(paths, out / "jsonl" / name / f"{split}.{fmt}.jsonl", fmt)
    if curated is not None:
        _write_curated(curated, out / "curated.parquet")
    card = dataset_card(title, description, configs, mixes, stats, licenses, cfg)
    (out / "README.md").write_text(card, encoding="utf-8")
    return stats


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"
    lines = ["| " + " | ".join(headers) + " |", rule]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def preference_card(kind: str, st: dict[str, Any]) -> list[str]:
    """A preference stage's part of the card: where its preferences came from, their margins, languages."""
    pref = st["train"].get("preference") or {}
    held = (st.get("validation") or {}).get("preference") or {}
    columns = "`prompt`, `chosen`, `rejected`" if kind == "paired" else "`prompt`, `completion`, `label`"
    n = max(1, pref.get("records", 0))
    lines = [f"### Preferences ({kind})", "",
             f"TRL's conversational columns {columns}, with `id`, `lang`, `origin` and `margin`. "
             f"{pref.get('records', 0):,} training and {held.get('records', 0):,} validation preference records; "
             "validation holds out whole prompts.", "",
             _table(["origin", "records", "share"], [[k, f"{v:,}", f"{v / n:.1%}"]
                                                    for k, v in pref.get("by_origin", {}).items()]), "",
             _table(["language", "records", "share"], [[k, f"{v:,}", f"{v / n:.1%}"]
                                                      for k, v in pref.get("by_lang", {}).items()]), ""]
    m = pref.get("margin")
    if m:
        lines += [f"Judge margins (score gap on the 1-5 scale): min {m['min']:g}, median {m['p50']:g}, "
                  f"90th percentile {m['p90']:g}, max {m['max']:g}; {pref['without_margin']:,} records "
                  "(human or dataset preferences) have none.", ""]
    else:
        lines += ["No judge margins: every preference here is human or from a dataset.", ""]
    return lines


def dataset_card(title: str, description: str | None, configs: list[dict[str, Any]], mixes: dict[str, StageMix],
                 stats: dict[str, Any], licenses: dict[str, str | None], cfg: Export) -> str:
    used = sorted({c.source for m in mixes.values() for c in m.cells if c.taken or c.validation})
    known = {licenses.get(s) for s in used if licenses.get(s)}
    front = {"configs": configs, "language": sorted({c.lang for m in mixes.values() for c in m.cells
                                                     if c.lang != "unknown"}),
             "license": "other" if len(known) != 1 else next(iter(known)),
             "tags": ["medical", "instruction-tuning", "medcurate"]
             + (["preference", "dpo"] if any(m.kind for m in mixes.values()) else [])}
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
                  f"{mix.report['train']:,} training and {mix.report['validation']:,} validation records"
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
        if mix.kind is not None:
            parts += preference_card(mix.kind, st)
        if train.get("words"):
            w = train["words"]
            parts += [f"Length in words: median {w['p50']:g}, 90th percentile {w['p90']:g}, max {w['max']:,}.", ""]
        if cfg.charts and mix.report["train"]:
            parts += [f"![languages](charts/{name}/lang.png) ![sources](charts/{name}/source.png) "
                      f"![lengths](charts/{name}/length_words.png)", ""]
    return "\n".join(parts)
