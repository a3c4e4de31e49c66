"""Containers: each yields raw rows (parsed values) with a locator, or a parse error for that row.

A row is a tuple `(locator, value, raw, error)`: locator is "line N", "item N" or "row N"; value is the
parsed row (dict, list or str); raw is the text as read when there is one (for the rejects file); error
is a reason string when the row could not be parsed at all.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ..errors import MedcurateError

RawRow = tuple[str, Any, "str | None", "str | None"]

CONTAINERS = ("jsonl", "json", "csv", "tsv", "parquet", "hf", "hf-parquet")


def container_of(path: Path) -> str:
    """The container format, from the path alone."""
    if path.is_dir():
        if (path / "state.json").exists() or (path / "dataset_dict.json").exists():
            return "hf"
        if any(path.rglob("*.parquet")):
            return "hf-parquet"
        raise MedcurateError(
            f"{path}: a folder, but neither a Hugging Face `save_to_disk` dataset (no state.json or "
            "dataset_dict.json) nor a folder of parquet files"
        )
    name = path.name.lower()
    for suffix in (".gz", ".zst", ".zstd"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    for ext, kind in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"), (".csv", "csv"),
                      (".tsv", "tsv"), (".parquet", "parquet")):
        if name.endswith(ext):
            return kind
    raise MedcurateError(
        f"{path}: unknown file type (expected .jsonl, .json, .csv, .tsv or .parquet, optionally .gz/.zst, "
        "or a Hugging Face dataset folder)"
    )


def open_binary(path: Path) -> IO[bytes]:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith((".zst", ".zstd")):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True))
    return open(path, "rb")


def _raw_text(line: bytes) -> str:
    return line.decode("utf-8", errors="backslashreplace").rstrip("\r\n")


def parse_jsonl_line(n: int, line: bytes) -> RawRow:
    """One JSON line to a row, or to a parse error that says whether the JSON or the UTF-8 is broken."""
    try:
        return f"line {n}", orjson.loads(line), None, None
    except orjson.JSONDecodeError as e:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as ue:
            reason = f"invalid UTF-8 (at byte {ue.start})"
        else:
            reason = f"malformed JSON ({e})"
        return f"line {n}", None, _raw_text(line), reason


def iter_jsonl(path: Path) -> Iterator[RawRow]:
    with open_binary(path) as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield parse_jsonl_line(n, line)


def iter_json(path: Path) -> Iterator[RawRow]:
    """A JSON array, or an object keyed by id (PubMedQA); a `.json` file holding JSON lines also works."""
    with open_binary(path) as fh:
        data = fh.read()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        first = data.lstrip()[:1]
        if first == b"{" and b"\n" in data.strip():
            yield from iter_jsonl(path)  # JSON lines saved as .json
            return
        raise MedcurateError(f"{path}: not valid JSON ({e})") from None
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            yield f"item {i}", item, None, None
    elif isinstance(doc, dict):
        if all(isinstance(v, dict) for v in doc.values()) and doc:
            for key, item in doc.items():
                yield f"key {key}", {"__key__": key, **item}, None, None
        else:
            yield "item 0", doc, None, None
    else:
        raise MedcurateError(f"{path}: top-level JSON is a {type(doc).__name__}, expected an array or object")


def iter_csv(path: Path, delimiter: str) -> Iterator[RawRow]:
    csv.field_size_limit(1 << 30)
    with open_binary(path) as fb:
        raw = fb.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise MedcurateError(f"{path}: line {line}: invalid UTF-8 at byte {e.start}") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [h.strip() for h in header]
    while True:
        line_no = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield f"line {line_no}", None, None, f"malformed CSV ({e})"
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield (f"line {line_no}", None, delimiter.join(cells),
                   f"malformed CSV ({len(cells)} cells where the header has {len(header)})")
            continue
        yield f"line {line_no}", {h: (c if c != "" else None) for h, c in zip(header, cells)}, None, None


def _iter_arrow_batches(batches: Iterator[Any]) -> Iterator[RawRow]:
    n = 0
    for batch in batches:
        for row in batch.to_pylist():
            yield f"row {n}", row, None, None
            n += 1


def iter_parquet(path: Path) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a corrupt file
        raise MedcurateError(f"{path}: not a readable parquet file ({e})") from None
    yield from _iter_arrow_batches(pf.iter_batches(batch_size=8192))


def iter_parquet_dir(path: Path) -> Iterator[RawRow]:
    files = sorted(path.rglob("*.parquet"))
    n = 0
    for f in files:
        for loc, row, raw, err in iter_parquet(f):
            yield f"{f.relative_to(path)}:{loc}", row, raw, err
            n += 1


def iter_hf(path: Path) -> Iterator[RawRow]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:
        raise MedcurateError(f"{path}: could not load the Hugging Face dataset ({e})") from None
    splits = ds.items() if isinstance(ds, datasets.DatasetDict) else [(None, ds)]
    for split, d in splits:
        for i, batch in enumerate(d.data.table.to_batches(max_chunksize=8192)):
            base = i * 8192
            for j, row in enumerate(batch.to_pylist()):
                loc = f"{split}:row {base + j}" if split else f"row {base + j}"
                if split and isinstance(row, dict):
                    row.setdefault("__split__", split)
                yield loc, row, None, None


def iter_rows(path: Path, container: str) -> Iterator[RawRow]:
    if container == "jsonl":
        return iter_jsonl(path)
    if container == "json":
        return iter_json(path)
    if container in ("csv", "tsv"):
        return iter_csv(path, "," if container == "csv" else "\t")
    if container == "parquet":
        return iter_parquet(path)
    if container == "hf-parquet":
        return iter_parquet_dir(path)
    if container == "hf":
        return iter_hf(path)
    raise MedcurateError(f"{path}: unknown container '{container}' (known: {', '.join(CONTAINERS)})")
