"""The rejects file: every record a reader or step did not keep, with where it came from and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from .storage import Location


def reject(
    step: str,
    reason: str,
    *,
    source_file: str | None = None,
    locator: str | int | None = None,
    field: str | None = None,
    raw: Any = None,
    record: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One rejects row. `raw` is the input line as read (text), `record` the canonical record if any."""
    return {
        "step": step,
        "reason": reason,
        "source_file": source_file,
        "locator": None if locator is None else str(locator),
        "field": field,
        "id": record.get("id") if record else None,
        "detail": detail,
        "raw": raw,
        "record": record,
    }


def default_rejects_path(output: str | Path) -> Path:
    """`out.jsonl` -> `out.rejects.jsonl`; a folder output gets the file beside it."""
    out = Path(output)
    name = out.name
    for ext in (".jsonl.gz", ".jsonl.zst", ".jsonl", ".json", ".parquet", ".csv"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    return out.with_name(name + ".rejects.jsonl")


def reject_lines(rows: list[dict[str, Any]]) -> bytes:
    """Rejects rows as JSON lines, keys sorted: the same bytes however a record was built."""
    option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS
    return b"".join(orjson.dumps(row, default=str, option=option) + b"\n" for row in rows)


class RejectWriter:
    """Appends rejects as JSON lines; the file is created on first use and always exists after close."""

    def __init__(self, path: str | Path | Location):
        self.path = Location.of(path)
        self.count = 0
        self._fh: Any = None
        self.closed = False

    def _open(self) -> Any:
        if self._fh is None:
            self._fh = self.path.open_output()
        return self._fh

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self._open().write(reject_lines(rows))
        self.count += len(rows)

    def append_file(self, path: Location) -> None:
        """Rejects another writer wrote (a worker's shard), copied as they are."""
        out = self._open()
        for chunk in path.chunks():
            out.write(chunk)
            self.count += chunk.count(b"\n")

    def close(self) -> None:
        if not self.closed:
            self._open().close()
            self._fh, self.closed = None, True

    def __enter__(self) -> RejectWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_rejects(path: str | Path) -> list[dict[str, Any]]:
    with open(path, "rb") as fh:
        return [orjson.loads(line) for line in fh if line.strip()]
