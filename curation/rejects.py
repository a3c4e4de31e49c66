"""The rejects file: every record a reader or step did not keep, with where it came from and why."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import orjson


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


class RejectWriter:
    """Appends rejects as JSON lines; the file is created on first use and always exists after close."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.count = 0
        self._fh: IO[bytes] | None = None

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "wb")
        option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS  # the same bytes however a record was built
        for row in rows:
            self._fh.write(orjson.dumps(row, default=str, option=option) + b"\n")
        self.count += len(rows)

    def append_file(self, path: Path) -> None:
        """Rejects another writer wrote (a worker's shard), copied as they are."""
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "wb")
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 22):
                self._fh.write(chunk)
                self.count += chunk.count(b"\n")

    def close(self) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(b"")
        else:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RejectWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_rejects(path: str | Path) -> list[dict[str, Any]]:
    with open(path, "rb") as fh:
        return [orjson.loads(line) for line in fh if line.strip()]
