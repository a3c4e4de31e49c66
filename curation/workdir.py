"""The work dir: every read and step output stored under a fingerprint of what produced it.

A fingerprint covers the input (the previous fingerprint, or a source file's content), the step's config
and the step's code, so a change anywhere invalidates exactly what depends on it. An entry is written into
a temporary folder and renamed when complete: a run killed midway leaves no half-written entry behind,
and the next run resumes after the last finished one.
"""

from __future__ import annotations

import inspect
import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from . import __version__
from .io.writers import ParquetWriter
from .ledger import Ledger
from .record import empty_table, from_table, to_table
from .rejects import RejectWriter
from .steps.base import Record

DONE = "done.json"
SHARD_ROWS = 10_000  # rows per parquet row group: the unit a distributed executor hands to one task


def fingerprint(*parts: Any) -> str:
    blob = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)
    return xxhash.xxh3_128_hexdigest(blob)[:16]


def file_digest(path: Path) -> str:
    """Content hash of a file, or of every file in a folder (names included)."""
    h = xxhash.xxh3_128()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path)).encode() if path.is_dir() else b"")
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()


def code_version(*objs: Any) -> str:
    """The package version and the source of the modules that define `objs`: editing a step's code reruns it."""
    h = xxhash.xxh3_64(__version__.encode())
    for obj in objs:
        h.update(Path(inspect.getsourcefile(obj) or "").read_bytes())
    return h.hexdigest()


class Entry:
    """One cached output: records.parquet, rejects.jsonl, ledger.json and done.json (written last).

    records.parquet is one file (written by one process) or a folder of parts whose sorted names give the
    record order (written by many workers at once).
    """

    def __init__(self, path: Path):
        self.path = path

    @property
    def done(self) -> bool:
        return (self.path / DONE).exists()

    def info(self) -> dict[str, Any]:
        return orjson.loads((self.path / DONE).read_bytes())

    def parts(self) -> list[Path]:
        path = self.path / "records.parquet"
        return sorted(path.glob("*.parquet")) if path.is_dir() else [path]

    def table(self) -> pa.Table:
        tables = [pq.read_table(p) for p in self.parts()]
        return pa.concat_tables(tables) if tables else empty_table()

    def records(self) -> list[Record]:
        return from_table(self.table())

    def ledger(self) -> dict[str, Any]:
        return orjson.loads((self.path / "ledger.json").read_bytes())

    @property
    def rejects_path(self) -> Path:
        return self.path / "rejects.jsonl"


class Pending:
    """An entry being written; `commit` makes it visible in one rename."""

    def __init__(self, entry: Entry):
        self.entry = entry
        self.tmp = entry.path.with_name(f".{entry.path.name}.tmp-{os.getpid()}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.rejects = RejectWriter(self.tmp / "rejects.jsonl")

    def commit(self, records: list[Record], ledger: Ledger, info: dict[str, Any]) -> Entry:
        writer = ParquetWriter(self.tmp / "records.parquet", row_group_size=SHARD_ROWS)
        writer.write(to_table(records))
        writer.close()
        return self.commit_written(len(records), ledger, info)

    def commit_written(self, count: int, ledger: Ledger, info: dict[str, Any]) -> Entry:
        """Commit records already written into the temporary folder (a parquet file, or a folder of parts)."""
        self.rejects.close()
        (self.tmp / "ledger.json").write_bytes(orjson.dumps(ledger.to_dict(), option=orjson.OPT_INDENT_2))
        (self.tmp / DONE).write_bytes(orjson.dumps({**info, "records": count}, option=orjson.OPT_INDENT_2))
        shutil.rmtree(self.entry.path, ignore_errors=True)
        os.replace(self.tmp, self.entry.path)
        return self.entry

    def abandon(self) -> None:
        self.rejects.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class WorkDir:
    def __init__(self, root: Path):
        self.root = root

    def read_entry(self, source: str, fp: str) -> Entry:
        return Entry(self.root / "read" / f"{source}-{fp}")

    def step_entry(self, index: int, step_id: str, fp: str) -> Entry:
        return Entry(self.root / "steps" / f"{index:02d}-{step_id}-{fp}")

    def pending(self, entry: Entry) -> Pending:
        return Pending(entry)

    def prune(self, keep: set[Path]) -> None:
        """Drop entries of earlier configurations and leftovers of killed runs."""
        for sub in ("read", "steps"):
            folder = self.root / sub
            if folder.exists():
                for p in folder.iterdir():
                    if p not in keep and (p.name.startswith(".") or not (p / DONE).exists()):
                        shutil.rmtree(p, ignore_errors=True)
