"""Writers for canonical records: JSONL (optionally .gz/.zst), Parquet, Hugging Face dataset folder."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO, Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import MedcurateError
from ..record import ARROW_SCHEMA, empty_table, from_table
from ..storage import Location

WRITE_FORMATS = ("jsonl", "parquet", "hf")


class Writer(Protocol):
    path: Path
    count: int

    def write(self, table: pa.Table) -> None: ...
    def close(self) -> None: ...


class JsonlWriter:
    """Records as JSON lines that validate against schemas/record.schema.json."""

    def __init__(self, path: Path):
        self.path, self.count = path, 0
        path.parent.mkdir(parents=True, exist_ok=True)
        name = path.name.lower()
        if name.endswith(".gz"):
            # mtime=0 and no file name in the header: the same records give the same bytes
            self._fh: IO[bytes] = gzip.GzipFile(filename="", fileobj=open(path, "wb"), mode="wb", mtime=0)
        elif name.endswith((".zst", ".zstd")):
            import zstandard

            self._fh = zstandard.ZstdCompressor().stream_writer(open(path, "wb"), closefd=True)
        else:
            self._fh = open(path, "wb")

    def write(self, table: pa.Table) -> None:
        dumps, opt = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        self._fh.write(b"".join(dumps(r, option=opt) for r in from_table(table)))
        self.count += table.num_rows

    def close(self) -> None:
        inner = getattr(self._fh, "fileobj", None)
        self._fh.close()
        if inner is not None:
            inner.close()


class ParquetWriter:
    def __init__(self, path: Path | Location, row_group_size: int | None = None):
        self.path, self.count = path, 0
        self.row_group_size = row_group_size
        where = Location.of(path)
        where.parent.mkdir()
        self._w = pq.ParquetWriter(where.path, ARROW_SCHEMA, compression="zstd", filesystem=where.fs)

    def write(self, table: pa.Table) -> None:
        self._w.write_table(table, row_group_size=self.row_group_size)
        self.count += table.num_rows

    def close(self) -> None:
        self._w.close()


class HFWriter:
    """A `datasets.save_to_disk` folder; tables are gathered in Arrow (compact) and saved once."""

    def __init__(self, path: Path):
        self.path, self.count = path, 0
        self._tables: list[pa.Table] = []

    def write(self, table: pa.Table) -> None:
        self._tables.append(table)
        self.count += table.num_rows

    def close(self) -> None:
        import datasets

        table = pa.concat_tables(self._tables) if self._tables else empty_table()
        datasets.Dataset(table).save_to_disk(str(self.path))


def format_of_output(path: Path, to: str | None) -> str:
    if to:
        if to not in WRITE_FORMATS:
            raise MedcurateError(f"unknown output format '{to}' (known: {', '.join(WRITE_FORMATS)})")
        return to
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst", ".ndjson")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if "." not in name:
        return "hf"
    raise MedcurateError(f"{path}: cannot tell the output format from the name; pass --to jsonl|parquet|hf")


def open_writer(path: str | Path, to: str | None = None) -> Writer:
    path = Path(path)
    kind = format_of_output(path, to)
    return {"jsonl": JsonlWriter, "parquet": ParquetWriter, "hf": HFWriter}[kind](path)
