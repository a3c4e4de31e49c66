"""The request cache: SQLite in the work dir, one row per reply, committed as each reply arrives.

Committing per reply is what makes a killed run cheap to resume: at most the requests in flight at the
moment of the kill are asked again. WAL mode keeps those commits fast.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import orjson


def request_key(model: str, template_hash: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """Model, template content, messages and sampling parameters; never the endpoint's URL or key."""
    blob = orjson.dumps([model, template_hash, messages, params], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()


class ReplyCache:
    def __init__(self, path: Path | None):
        self.path = path
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply BLOB NOT NULL)")

    def get(self, key: str) -> dict[str, Any] | None:
        if self._db is None:
            return None
        row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, key: str, reply: dict[str, Any]) -> None:
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?)", (key, orjson.dumps(reply)))

    def __len__(self) -> int:
        return 0 if self._db is None else self._db.execute("SELECT count(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
