"""Locations: files and folders on any filesystem pyarrow supports, so the work dir can be a local folder or
object storage (`s3://bucket/prefix`, `gs://...`, `hdfs://...`) that every node of a cluster reaches.

Object stores have no folders and no atomic folder rename, so everything built on a `Location` commits the
way they allow: a file appears whole (written under a temporary name and moved, or uploaded in one piece)
and a folder is complete once its marker file exists.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .errors import MedcurateError

SECRET_OPTIONS = ("access_key", "secret_key", "session_token")


def is_uri(where: str | Path) -> bool:
    return "://" in str(where) and not str(where).startswith("file://")


def check_uri(uri: str) -> str | None:
    """Why a storage URI is refused (credentials in it: they would end up in logs and manifests), or None."""
    parts = urlsplit(uri)
    if parts.username or parts.password or any(k in parse_qs(parts.query) for k in SECRET_OPTIONS):
        return ("credentials do not belong in the URI; set them in the environment (AWS_ACCESS_KEY_ID, "
                "AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, ...)")
    return None


@dataclass(frozen=True)
class Location:
    """A file or folder: a filesystem and a path on it. `uri` (with the filesystem's options, e.g. an S3
    endpoint) rebuilds it in another process; `str()` is the short form for messages."""

    fs: pafs.FileSystem
    path: str
    scheme: str = ""
    options: str = ""

    @classmethod
    def of(cls, where: str | Path | Location) -> Location:
        if isinstance(where, Location):
            return where
        if not is_uri(where):
            path = str(where).removeprefix("file://")
            return cls(pafs.LocalFileSystem(), os.path.abspath(path))
        uri = str(where)
        if why := check_uri(uri):
            parts = urlsplit(uri)  # named without what it carries
            raise MedcurateError(f"{parts.scheme}://{parts.hostname or ''}{parts.path}: {why}")
        try:
            fs, path = pafs.FileSystem.from_uri(uri)
        except (pa.ArrowException, ValueError, OSError) as e:
            raise MedcurateError(f"{uri}: not a location pyarrow can open: {e}") from None
        parts = urlsplit(uri)
        return cls(fs, path.rstrip("/"), parts.scheme, parts.query)

    @property
    def local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    @property
    def uri(self) -> str:
        if self.local:
            return self.path
        return f"{self.scheme}://{self.path}" + (f"?{self.options}" if self.options else "")

    def __str__(self) -> str:
        return self.path if self.local else f"{self.scheme}://{self.path}"

    def __truediv__(self, name: str) -> Location:
        return Location(self.fs, posixpath.join(self.path, name), self.scheme, self.options)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def parent(self) -> Location:
        return Location(self.fs, posixpath.dirname(self.path), self.scheme, self.options)

    def with_name(self, name: str) -> Location:
        return self.parent / name

    def kind(self) -> pafs.FileType:
        """File, Directory or NotFound: one request on object storage, so ask once and compare."""
        return self.fs.get_file_info(self.path).type

    def exists(self) -> bool:
        return self.kind() != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self.kind() == pafs.FileType.Directory

    def list(self, pattern: str = "*") -> list[Location]:
        """What the folder holds directly whose name matches `pattern`, sorted by name; [] when it is absent."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        names = sorted(posixpath.basename(i.path) for i in infos)
        return [self / n for n in names if fnmatch.fnmatchcase(n, pattern)]

    def mkdir(self) -> None:
        self.fs.create_dir(self.path, recursive=True)

    def remove(self) -> None:
        """The file or the folder with all it holds; nothing when it is absent."""
        kind = self.kind()
        if kind == pafs.FileType.Directory:
            self.fs.delete_dir(self.path)
        elif kind == pafs.FileType.File:
            self.fs.delete_file(self.path)

    def move(self, to: Location) -> None:
        """A file to another name, replacing what is there."""
        self.fs.move(self.path, to.path)

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.path) as fh:
            return fh.read()

    def chunks(self, size: int = 1 << 22) -> Iterator[bytes]:
        """The file's bytes in pieces, for copying files larger than memory."""
        with self.fs.open_input_stream(self.path) as fh:
            while chunk := fh.read(size):
                yield chunk

    @contextmanager
    def whole(self) -> Iterator[Location]:
        """Where to write this file so that it appears whole: a name beside it, one per process (a task run
        twice never shares it), moved onto it once written. Readers see the old content or the new."""
        tmp = self.with_name(f"{self.name}.tmp-{os.getpid()}")
        tmp.parent.mkdir()
        yield tmp
        tmp.move(self)

    def write_bytes(self, data: bytes) -> None:
        with self.whole() as tmp, tmp.fs.open_output_stream(tmp.path) as fh:
            fh.write(data)

    def open_input(self) -> Any:
        """A seekable file (parquet needs to seek to its footer)."""
        return self.fs.open_input_file(self.path)

    def open_output(self) -> Any:
        self.parent.mkdir()
        return self.fs.open_output_stream(self.path)

    def parquet(self) -> pq.ParquetFile:
        return pq.ParquetFile(self.open_input())

    def read_table(self, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.path, filesystem=self.fs, columns=columns)

    def write_table(self, table: pa.Table, **options: Any) -> None:
        with self.whole() as tmp:
            pq.write_table(table, tmp.path, filesystem=tmp.fs, **options)

