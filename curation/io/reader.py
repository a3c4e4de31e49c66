"""The reader: container rows → format adapter → canonical records in Arrow batches, bad rows → rejects."""

from __future__ import annotations

import itertools
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from ..errors import MedcurateError, RecordError, StrictModeError, describe
from ..ledger import Ledger
from ..record import empty_table, from_table, to_table
from ..rejects import RejectWriter, reject
from .detect import detect_format
from .formats import FORMATS
from .sources import TEXT_CONTAINERS, RawRow, canonical_encoding, container_of, detect_encoding, iter_rows

DETECT_SAMPLE = 50
INDEX = re.compile(r"\[\d+\]")


class SourceSpec(BaseModel):
    """Where records come from and how to read them; the same model serves the CLI and recipes."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="A file or a Hugging Face dataset folder.")
    name: str | None = Field(None, description="Source name in records and reports; the file name by default.")
    format: str | None = Field(None, description="One of the known formats; detected when left out.")
    fields: dict[str, str] = Field(
        default_factory=dict, description="Canonical field name to the column name in this file."
    )
    lang: str | None = Field(None, description="Language of every record, when known in advance.")
    encoding: str | None = Field(
        None, description="Text encoding of a JSONL, JSON or CSV file (utf-8, gb18030, big5, shift_jis, cp1252, "
        "utf-16, ...); detected from the head of the file when left out."
    )
    license: str | None = None
    tags: list[str] = Field(default_factory=list)

    def source_name(self) -> str:
        if self.name:
            return self.name
        name = Path(self.path.rstrip("/")).name
        for ext in (".gz", ".zst", ".zstd", ".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet"):
            name = name[: -len(ext)] if name.endswith(ext) else name
        return name


def reason_key(field: str | None, reason: str) -> str:
    """The ledger counts reasons by kind: list indices and details in parentheses are dropped."""
    kind = reason.split(" (")[0]
    return kind if field is None else f"{INDEX.sub('[]', field)}: {kind}"


def _raw_of(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _map_fields(row: Any, fields: dict[str, str]) -> Any:
    if not fields or not isinstance(row, dict):
        return row
    row = dict(row)
    for canonical, column in fields.items():
        if column in row:
            row[canonical] = row.pop(column)
    return row


class Chunk:
    """The outcome of adapting a run of rows: kept records, rejects, and the counts for the ledger."""

    __slots__ = ("records", "rejects", "reasons", "n_in", "first_reject")

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.rejects: list[dict[str, Any]] = []
        self.reasons: Counter[str] = Counter()
        self.n_in = 0
        self.first_reject: str | None = None


def adapt_rows(rows: Iterable[RawRow], spec: SourceSpec, fmt_name: str, strict: bool = False) -> Chunk:
    """Map raw rows onto canonical records; a row that cannot be mapped becomes a reject, never an exception."""
    path = spec.path
    source = spec.source_name()
    adapt = FORMATS[fmt_name].adapt
    fields, lang, license_ = spec.fields, spec.lang, spec.license
    file_name = Path(path).name
    out = Chunk()
    records = out.records

    def bad(loc: str, field: str | None, reason: str, raw: str | None) -> None:
        msg = describe(path, loc, field, reason)
        if strict:
            raise StrictModeError(msg)
        out.first_reject = out.first_reject or msg
        out.reasons[reason_key(field, reason)] += 1
        out.rejects.append(reject("read", reason, source_file=path, locator=loc, field=field, raw=raw))

    for loc, value, raw, err in rows:
        out.n_in += 1
        if err is not None:
            bad(loc, None, err, raw)
            continue
        if fields:
            value = _map_fields(value, fields)
        try:
            rec = adapt(value, source)
        except RecordError as e:
            bad(loc, e.field, e.reason, _raw_of(value))
            continue
        except KeyError as e:
            bad(loc, str(e.args[0]), "missing required field", _raw_of(value))
            continue
        except (TypeError, AttributeError) as e:
            bad(loc, None, f"not a {fmt_name} record ({type(value).__name__}: {e})", _raw_of(value))
            continue
        if lang and not rec["lang"]:
            rec["lang"] = lang
        meta = rec["meta"]
        if "provenance" not in meta:  # records re-read from our own output keep their lineage
            meta["provenance"] = {"file": file_name, "locator": loc}
        if license_:
            meta["license"] = license_
        records.append(rec)
    return out


class Opened(NamedTuple):
    """A source ready to read: what it is, how it is encoded, and its rows from the start."""

    path: Path
    container: str
    format: str
    encoding: str | None  # None for containers that are not text (parquet, Hugging Face folders)
    rows: Iterator[RawRow]


def source_encoding(spec: SourceSpec, path: Path, container: str) -> str | None:
    """The encoding the spec names, or the one detected; None where the container has no text encoding."""
    if container not in TEXT_CONTAINERS:
        return None
    return canonical_encoding(spec.encoding) if spec.encoding else detect_encoding(path)


def open_source(spec: SourceSpec) -> Opened:
    """Check the path, find the container, encoding and format; returns the rows to read from the start."""
    path = Path(spec.path)
    if not path.exists():
        raise MedcurateError(f"{path}: no such file or folder")
    if not os.access(path, os.R_OK):
        raise MedcurateError(f"{path}: not readable (permission denied)")
    container = container_of(path)
    encoding = source_encoding(spec, path, container)
    rows = iter_rows(path, container, encoding or "utf-8")
    fmt_name = spec.format
    if fmt_name is None:
        head = list(itertools.islice(rows, DETECT_SAMPLE))
        sample = [(loc, _map_fields(v, spec.fields)) for loc, v, _, err in head if err is None]
        fmt_name = detect_format(str(path), sample)
        rows = itertools.chain(head, rows)
    if fmt_name not in FORMATS:
        raise MedcurateError(f"{path}: unknown format '{fmt_name}' (known: {', '.join(FORMATS)})")
    return Opened(path, container, fmt_name, encoding, rows)


class SourceTally:
    """Gathers chunk outcomes for one source and closes its ledger entry with the end-of-source checks."""

    def __init__(self, spec: SourceSpec, rejects: RejectWriter | None, ledger: Ledger | None):
        self.spec, self.rejects, self.ledger = spec, rejects, ledger
        self.n_in = self.kept = 0
        self.reasons: Counter[str] = Counter()
        self.first_reject: str | None = None

    def add(self, chunk: Chunk) -> None:
        self.n_in += chunk.n_in
        self.kept += len(chunk.records)
        self.reasons.update(chunk.reasons)
        self.first_reject = self.first_reject or chunk.first_reject
        if self.rejects is not None:
            self.rejects.write(chunk.rejects)

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.record(f"read:{self.spec.source_name()}", records_in=self.n_in, kept=self.kept,
                               reasons=self.reasons)
        if self.n_in == 0:
            raise MedcurateError(f"{self.spec.path}: contains no records")
        if self.kept == 0:
            where = f" (all rejects in {self.rejects.path})" if self.rejects is not None else ""
            raise MedcurateError(f"{self.spec.path}: every one of its {self.n_in} records was rejected; "
                                 f"the first: {self.first_reject}{where}")


def read_batches(
    spec: SourceSpec,
    *,
    rejects: RejectWriter | None = None,
    ledger: Ledger | None = None,
    strict: bool = False,
    batch_size: int = 10_000,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[pa.Table]:
    """Stream canonical records from one source; every input row ends up kept or in `rejects`."""
    opened = open_source(spec)
    fmt_name, rows = opened.format, opened.rows
    tally = SourceTally(spec, rejects, ledger)
    while True:
        chunk = adapt_rows(itertools.islice(rows, batch_size), spec, fmt_name, strict)
        if chunk.n_in == 0:
            break
        tally.add(chunk)
        if chunk.records:
            yield to_table(chunk.records)
        if on_progress:
            on_progress(chunk.n_in)
    tally.close()


def read_table(spec: SourceSpec | str, **kwargs: Any) -> pa.Table:
    """All records of a source in one Arrow table."""
    if isinstance(spec, str):
        spec = SourceSpec(path=spec)
    tables = list(read_batches(spec, **kwargs))
    return pa.concat_tables(tables) if tables else empty_table()


def read_records(spec: SourceSpec | str, **kwargs: Any) -> list[dict[str, Any]]:
    """All records of a source as dicts: convenient for small data and tests."""
    return from_table(read_table(spec, **kwargs))
