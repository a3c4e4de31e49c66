"""The work dir: every read and step output stored under a fingerprint of what produced it.

A fingerprint covers the input (the previous fingerprint, or a source file's content), the step's config
and the step's code, so a change anywhere invalidates exactly what depends on it. An entry is complete once
its `done.json` is written, last: a run killed midway leaves an entry without it, which the next run
discards and writes again, resuming after the last finished one. The work dir is a local folder or any
location pyarrow opens (`s3://...`), which is what a cluster's workers share.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import xxhash
from pyarrow.fs import FileType

from . import __version__
from .errors import MedcurateError
from .io.writers import ParquetWriter
from .ledger import Ledger
from .record import empty_table, from_table, to_table
from .rejects import RejectWriter
from .steps.base import Record
from .storage import Location

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
    """The package version and the source of the modules that define `objs` (or of module files named by path,
    for a module the caller must not import): editing a step's code reruns it."""
    h = xxhash.xxh3_64(__version__.encode())
    for obj in objs:
        h.update((obj if isinstance(obj, Path) else Path(inspect.getsourcefile(obj) or "")).read_bytes())
    return h.hexdigest()


class Entry:
    """One cached output: records.parquet, rejects.jsonl, ledger.json and done.json (written last).

    records.parquet is one file (written by one process) or a folder of parts whose sorted names give the
    record order (written by many workers at once).
    """

    def __init__(self, path: Location):
        self.path = path

    @property
    def done(self) -> bool:
        return (self.path / DONE).exists()

    def info(self) -> dict[str, Any]:
        return orjson.loads((self.path / DONE).read_bytes())

    def parts(self) -> list[Location]:
        path = self.path / "records.parquet"
        kind = path.kind()
        if kind == FileType.Directory:
            return path.list("*.parquet")
        return [path] if kind == FileType.File else []

    def table(self) -> pa.Table:
        tables = [p.read_table() for p in self.parts()]
        return pa.concat_tables(tables) if tables else empty_table()

    def records(self) -> list[Record]:
        return from_table(self.table())

    def ledger(self) -> dict[str, Any]:
        return orjson.loads((self.path / "ledger.json").read_bytes())

    @property
    def rejects_path(self) -> Location:
        return self.path / "rejects.jsonl"


class Pending:
    """An entry being written, in its own place; `commit` marks it done. What an earlier, unfinished or
    outdated attempt left there is removed first. Used as `with work.pending(entry) as p:`, anything that
    fails inside the block removes the half-written entry, so no later run mistakes it for a result."""

    def __init__(self, entry: Entry):
        self.entry = entry
        self.folder = entry.path
        self.folder.remove()
        self.folder.mkdir()
        self.rejects = RejectWriter(self.folder / "rejects.jsonl")

    def commit(self, records: list[Record], ledger: Ledger, info: dict[str, Any]) -> Entry:
        writer = ParquetWriter(self.folder / "records.parquet", row_group_size=SHARD_ROWS)
        writer.write(to_table(records))
        writer.close()
        return self.commit_written(len(records), ledger, info)

    def commit_written(self, count: int, ledger: Ledger, info: dict[str, Any]) -> Entry:
        """Commit records already written into the entry's folder (a parquet file, or a folder of parts)."""
        self.rejects.close()
        (self.folder / "ledger.json").write_bytes(orjson.dumps(ledger.to_dict(), option=orjson.OPT_INDENT_2))
        done = {**info, "records": count, "finished": time.time()}
        (self.folder / DONE).write_bytes(orjson.dumps(done, option=orjson.OPT_INDENT_2))
        return self.entry

    def abandon(self) -> None:
        self.rejects.close()
        self.folder.remove()

    def __enter__(self) -> Pending:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if kind is not None:
            self.abandon()


class WorkDir:
    def __init__(self, root: Location):
        self.root = root

    def check(self, create: bool = False) -> None:
        """Fail early, with the work dir named, when it cannot be reached (a wrong bucket or endpoint, missing
        credentials, no permission), rather than with a storage error in the middle of a step. A run creates
        it (`create`) and then plans, which reads it: one request each."""
        try:
            if create:
                self.root.mkdir()
            else:
                self.root.list()
        except OSError as e:
            raise MedcurateError(f"work dir {self.root}: cannot be {'written' if create else 'read'}: {e}") from None

    def read_entry(self, source: str, fp: str) -> Entry:
        return Entry(self.root / "read" / f"{source}-{fp}")

    def step_entry(self, index: int, step_id: str, fp: str) -> Entry:
        return Entry(self.root / "steps" / f"{index:02d}-{step_id}-{fp}")

    def latest_step_entry(self, index: int, step_id: str) -> Entry | None:
        """The most recently finished output of this step under any fingerprint: what a plan compares with."""
        folder = self.root / "steps"
        prefix = f"{index:02d}-{step_id}-"
        done = [Entry(p) for p in (folder.list() if folder.exists() else []) if p.name.startswith(prefix)]
        done = [e for e in done if e.done]
        return max(done, key=lambda e: e.info().get("finished", 0), default=None)

    def pending(self, entry: Entry) -> Pending:
        return Pending(entry)

    def prune(self, keep: set[str]) -> None:
        """Drop entries (by path) of earlier configurations and leftovers of killed runs."""
        for sub in ("read", "steps"):
            for p in (self.root / sub).list():
                if p.path not in keep and (p.name.startswith(".") or not (p / DONE).exists()):
                    p.remove()
