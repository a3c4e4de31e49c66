"""Containers: each yields raw rows (parsed values) with a locator, or a parse error for that row.

A row is a tuple `(locator, value, raw, error)`: locator is "line N", "item N" or "row N"; value is the
parsed row (dict, list or str); raw is the text as read when there is one (for the rejects file); error
is a reason string when the row could not be parsed at all.
"""

from __future__ import annotations

import codecs
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


# ---------------------------------------------------------------- encodings

ENCODING_SAMPLE = 1 << 20
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# GB18030 is a superset of GBK and GB2312: a file detected as either may hold characters only GB18030 has.
SUPERSETS = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030", "euc_cn": "gb18030"}
# Encodings whose bytes for '\n' can be part of another character: a file in one cannot be cut into lines as bytes.
WIDE = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")


def canonical_encoding(name: str) -> str:
    """Python's codec name for an encoding ('GBK' -> 'gb18030', 'UTF8' -> 'utf-8'); unknown names fail clearly."""
    try:
        norm = codecs.lookup(name).name
    except LookupError:
        raise MedcurateError(f"unknown encoding '{name}' (use a Python codec name: utf-8, gb18030, big5, "
                             "shift_jis, cp1252, utf-16, ...)") from None
    return SUPERSETS.get(norm, norm)


def is_wide(encoding: str) -> bool:
    return canonical_encoding(encoding) in WIDE


def _decodes_as_utf8(head: bytes) -> bool:
    """True when the head is UTF-8, allowing a few broken bytes (they become rejects, line by line).

    Legacy CJK or code-page text read as UTF-8 yields several invalid bytes for each valid non-ASCII character
    (measured: 3-5 for GB18030, Big5 and Shift-JIS, none valid for cp1252), while a UTF-8 file with a damaged line
    has far more valid characters than broken bytes. A character cut at the end of the sample does not count.
    """
    text = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape").decode(head, final=False)
    broken = sum(1 for c in text if "\udc80" <= c <= "\udcff")
    if not broken:
        return True
    valid = sum(1 for c in text if ord(c) > 127) - broken
    return valid > 2 * broken


def _guess(head: bytes) -> str:
    """charset-normalizer's guess, preferring Windows-1252 among single-byte code pages that fit as well.

    On short Spanish or French samples the detector's coherence score often ties cp1252 with Baltic or Central
    European pages that differ on a few accented letters; cp1252 is by far the likelier one for such text.
    """
    from charset_normalizer import from_bytes

    matches = from_bytes(head)
    best = matches.best()
    if best is None:
        return "utf-8"
    for m in matches:
        if "cp1252" in m.could_be_from_charset and m.chaos <= best.chaos + 0.02:
            return "cp1252"
    return best.encoding


def detect_encoding(path: Path) -> str:
    """The encoding of a text file from its head: a BOM first, then UTF-8 when it decodes, then charset-normalizer."""
    with open_binary(path) as fh:
        head = fh.read(ENCODING_SAMPLE)
    for bom, name in BOMS:
        if head.startswith(bom):
            return name
    if _decodes_as_utf8(head):
        return "utf-8"
    return canonical_encoding(_guess(head))


def _raw_text(line: bytes, encoding: str = "utf-8") -> str:
    return line.decode(encoding, errors="backslashreplace")


def _undecodable(encoding: str, e: UnicodeDecodeError) -> str:
    name = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
    return f"invalid {name} (at byte {e.start})"


def parse_jsonl_line(n: int, line: bytes, encoding: str = "utf-8") -> RawRow:
    """One JSON line to a row, or to a parse error that says whether the JSON or the encoding is broken. The line
    ending is not part of the record: without it a truncated record reads "unexpected end of data" whether the
    file was read whole or in byte ranges (the encodings that reach here never use these bytes in a character)."""
    line = line.rstrip(b"\r\n")
    if encoding not in ("utf-8", "utf-8-sig"):
        try:
            text = line.decode(encoding)
        except UnicodeDecodeError as ue:
            return f"line {n}", None, _raw_text(line, encoding), _undecodable(encoding, ue)
        try:
            return f"line {n}", orjson.loads(text), None, None
        except orjson.JSONDecodeError as e:
            return f"line {n}", None, text, f"malformed JSON ({e})"
    try:
        return f"line {n}", orjson.loads(line), None, None
    except orjson.JSONDecodeError as e:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as ue:
            reason = _undecodable("utf-8", ue)
        else:
            reason = f"malformed JSON ({e})"
        return f"line {n}", None, _raw_text(line), reason


def _wide_lines(path: Path, encoding: str) -> Iterator[bytes]:
    """UTF-16/32 read whole and re-encoded as UTF-8 lines: their newline bytes cannot be found by splitting bytes."""
    with open_binary(path) as fh:
        data = fh.read()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise MedcurateError(f"{path}: not valid {encoding} at byte {e.start}") from None
    for line in text.splitlines(keepends=True):
        yield line.encode("utf-8", errors="surrogatepass")


def iter_jsonl(path: Path, encoding: str = "utf-8") -> Iterator[RawRow]:
    if is_wide(encoding):
        for n, line in enumerate(_wide_lines(path, encoding), 1):
            if line.strip():
                yield parse_jsonl_line(n, line)
        return
    with open_binary(path) as fh:
        for n, line in enumerate(fh, 1):
            if n == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8):]
            if line.strip():
                yield parse_jsonl_line(n, line, encoding)


def _decode_whole(path: Path, data: bytes, encoding: str) -> str:
    """A whole document as text; a JSON document cannot be read around a broken line, so this one fails clearly."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise MedcurateError(f"{path}: line {line}: {_undecodable(encoding, e)}; pass the right --encoding "
                             "(or `encoding:` in the recipe)") from None


def iter_json(path: Path, encoding: str = "utf-8") -> Iterator[RawRow]:
    """A JSON array, or an object keyed by id (PubMedQA); a `.json` file holding JSON lines also works."""
    with open_binary(path) as fh:
        data = fh.read()
    if encoding != "utf-8":
        data = _decode_whole(path, data, encoding).encode("utf-8", errors="surrogatepass")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        first = data.lstrip()[:1]
        if first == b"{" and b"\n" in data.strip():
            yield from iter_jsonl(path, encoding)  # JSON lines saved as .json
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


def _csv_text(path: Path, raw: bytes, encoding: str) -> tuple[str, dict[int, str]]:
    """The CSV as text, line by line, with each line that cannot be decoded blanked and its reason kept.

    A blank line keeps the csv module's line count, so the rows after it keep their true line numbers.
    """
    if is_wide(encoding):
        return _decode_whole(path, raw, encoding).lstrip("\ufeff"), {}
    lines, bad = [], {}
    for n, line in enumerate(raw.split(b"\n"), 1):
        try:
            lines.append(line.decode(encoding))
        except UnicodeDecodeError as e:
            bad[n] = _undecodable(encoding, e)
            lines.append("")
    return "\n".join(lines).lstrip("\ufeff"), bad


def iter_csv(path: Path, delimiter: str, encoding: str = "utf-8") -> Iterator[RawRow]:
    csv.field_size_limit(1 << 30)
    with open_binary(path) as fb:
        raw = fb.read()
    text, bad = _csv_text(path, raw, encoding)
    pending = sorted(bad)
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
            break
        except csv.Error as e:
            yield f"line {line_no}", None, None, f"malformed CSV ({e})"
            continue
        while pending and pending[0] <= reader.line_num:
            n = pending.pop(0)
            yield f"line {n}", None, None, bad[n]
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield (f"line {line_no}", None, delimiter.join(cells),
                   f"malformed CSV ({len(cells)} cells where the header has {len(header)})")
            continue
        yield f"line {line_no}", {h: (c if c != "" else None) for h, c in zip(header, cells)}, None, None
    for n in pending:
        yield f"line {n}", None, None, bad[n]


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


TEXT_CONTAINERS = ("jsonl", "json", "csv", "tsv")


def iter_rows(path: Path, container: str, encoding: str = "utf-8") -> Iterator[RawRow]:
    """The rows of a file; `encoding` applies to the text containers (parquet and Arrow carry UTF-8 by design)."""
    if container == "jsonl":
        return iter_jsonl(path, encoding)
    if container == "json":
        return iter_json(path, encoding)
    if container in ("csv", "tsv"):
        return iter_csv(path, "," if container == "csv" else "\t", encoding)
    if container == "parquet":
        return iter_parquet(path)
    if container == "hf-parquet":
        return iter_parquet_dir(path)
    if container == "hf":
        return iter_hf(path)
    raise MedcurateError(f"{path}: unknown container '{container}' (known: {', '.join(CONTAINERS)})")
