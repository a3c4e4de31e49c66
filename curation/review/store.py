"""The review store: queues, items and decisions in one SQLite file in the work dir.

Every action is one short transaction, so reviewers working at once never lose or double-count a decision,
and a restarted server finds everything where it was. An item holds the content hash it was queued with; a
decision records the hash the reviewer saw, so a record that changed since is flagged, not silently decided.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import xxhash

from ..errors import MedcurateError
from .policy import QueuePolicy, group_key

DECISIONS = ("accept", "reject", "edit")
LEASE_SECONDS = 900  # a record shown to a reviewer is theirs this long, so two reviewers never get the same one
SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, created TEXT NOT NULL, origin TEXT NOT NULL,
                                   policy TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (queue TEXT NOT NULL, pos INTEGER NOT NULL, record_id TEXT NOT NULL,
    source TEXT, lang TEXT, origin TEXT, content_hash TEXT NOT NULL, record TEXT NOT NULL,
    needed INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0, claimed_by TEXT, claim_until REAL, parent TEXT,
    PRIMARY KEY (queue, record_id));
CREATE INDEX IF NOT EXISTS items_open ON items (queue, pos) WHERE done < needed;
CREATE TABLE IF NOT EXISTS decisions (queue TEXT NOT NULL, record_id TEXT NOT NULL, reviewer TEXT NOT NULL,
    decision TEXT NOT NULL, reason TEXT, note TEXT, edited TEXT, content_hash TEXT NOT NULL,
    decided_at TEXT NOT NULL, PRIMARY KEY (queue, record_id, reviewer));
"""


def content_hash(record: dict[str, Any]) -> str:
    """What a reviewer judges: the conversation or text and the MCQ, not ids or scores."""
    blob = orjson.dumps({k: record.get(k) for k in ("messages", "text", "mcq")}, option=orjson.OPT_SORT_KEYS)
    return xxhash.xxh3_64_hexdigest(blob)


class ReviewError(MedcurateError):
    """A decision that cannot be stored; `status` is the HTTP status the web app answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class QueueItem:
    record_id: str
    pos: int
    content_hash: str
    record: dict[str, Any]
    needed: int
    done: int
    parent: dict[str, Any] | None = None  # the record a translation or synthesis was made from, shown beside it


ITEM_COLUMNS = "record_id, pos, content_hash, record, needed, done, parent"


def _item(row: tuple) -> QueueItem:
    return QueueItem(row[0], row[1], row[2], orjson.loads(row[3]), row[4], row[5],
                     orjson.loads(row[6]) if row[6] else None)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class ReviewStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One connection per action (threads of the web server each get their own); writes take the lock
        first, so read-then-write actions are atomic."""
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            if write:
                db.execute("BEGIN IMMEDIATE")
            yield db
            if write:
                db.execute("COMMIT")
        except BaseException:
            if write and db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # queues ---------------------------------------------------------------------------------------------
    def create(self, name: str, records: list[dict[str, Any]], order: list[int], policy: QueuePolicy,
               origin: str, refresh: bool = False) -> dict[str, int]:
        """Queue records[order]; with `refresh`, an existing queue takes the records' current content, and a
        record that changed goes back to undecided (its old decisions stay, flagged as stale)."""
        import random

        doubles = set(random.Random(policy.seed + 1).sample(range(len(order)), round(policy.double * len(order))))
        counts = {"queued": 0, "changed": 0, "unchanged": 0}
        by_id = {r["id"]: r for r in records}
        with self.connect(write=True) as db:
            exists = db.execute("SELECT 1 FROM queues WHERE name=?", (name,)).fetchone()
            if exists and not refresh:
                raise MedcurateError(f"review queue '{name}' exists (use --refresh to update it from new records)")
            if not exists:
                db.execute("INSERT INTO queues VALUES (?,?,?,?)", (name, now_iso(), origin, policy.model_dump_json()))
            start = db.execute("SELECT COALESCE(MAX(pos), -1) + 1 FROM items WHERE queue=?", (name,)).fetchone()[0]
            for k, i in enumerate(order):
                rec = records[i]
                h = content_hash(rec)
                old = db.execute("SELECT content_hash FROM items WHERE queue=? AND record_id=?",
                                 (name, rec["id"])).fetchone()
                if old is None:
                    src, lang, org = (group_key(rec, ["source", "lang", "origin"]))
                    parent = by_id.get(rec.get("parent_id") or "")
                    db.execute("INSERT INTO items (queue, pos, record_id, source, lang, origin, content_hash, record,"
                               " needed, parent) VALUES (?,?,?,?,?,?,?,?,?,?)",
                               (name, start + k, rec["id"], src, lang, org, h, orjson.dumps(rec).decode(),
                                2 if k in doubles else 1, orjson.dumps(parent).decode() if parent else None))
                    counts["queued"] += 1
                elif old[0] != h:
                    db.execute("UPDATE items SET content_hash=?, record=?, done=(SELECT COUNT(*) FROM decisions d "
                               "WHERE d.queue=? AND d.record_id=? AND d.content_hash=?) WHERE queue=? AND record_id=?",
                               (h, orjson.dumps(rec).decode(), name, rec["id"], h, name, rec["id"]))
                    counts["changed"] += 1
                else:
                    counts["unchanged"] += 1
        return counts

    def policy(self, name: str) -> QueuePolicy:
        with self.connect() as db:
            row = db.execute("SELECT policy FROM queues WHERE name=?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.queues()) or "none"
            raise MedcurateError(f"no review queue '{name}' in {self.path} (queues: {known})")
        return QueuePolicy.model_validate_json(row[0])

    def queues(self) -> list[str]:
        with self.connect() as db:
            return [r[0] for r in db.execute("SELECT name FROM queues ORDER BY name")]

    # reviewing ------------------------------------------------------------------------------------------
    def next_item(self, queue: str, reviewer: str) -> QueueItem | None:
        """The first undecided record this reviewer has not decided and nobody else holds; now held by them."""
        if not reviewer.strip():
            raise ReviewError("a reviewer name is needed")
        now = time.time()
        with self.connect(write=True) as db:
            row = db.execute(
                f"SELECT {ITEM_COLUMNS} FROM items i WHERE queue=? AND "
                "done < needed AND (claimed_by IS NULL OR claimed_by=? OR claim_until < ?) AND NOT EXISTS "
                "(SELECT 1 FROM decisions d WHERE d.queue=i.queue AND d.record_id=i.record_id AND d.reviewer=? "
                "AND d.content_hash=i.content_hash) ORDER BY pos LIMIT 1", (queue, reviewer, now, reviewer)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE items SET claimed_by=?, claim_until=? WHERE queue=? AND record_id=?",
                       (reviewer, now + LEASE_SECONDS, queue, row[0]))
        return _item(row)

    def item(self, queue: str, record_id: str) -> QueueItem | None:
        with self.connect() as db:
            row = db.execute(f"SELECT {ITEM_COLUMNS} FROM items WHERE queue=? AND record_id=?",
                             (queue, record_id)).fetchone()
        return _item(row) if row else None

    def decide(self, queue: str, record_id: str, reviewer: str, decision: str, *, seen_hash: str,
               reason: str | None = None, note: str | None = None, edited: dict[str, Any] | None = None,
               reasons: list[str] | None = None) -> None:
        """Store one decision; a reviewer deciding the same record again replaces their earlier decision."""
        if not reviewer.strip():
            raise ReviewError("a reviewer name is needed")
        if decision not in DECISIONS:
            raise ReviewError(f"decision '{decision}' is not one of {', '.join(DECISIONS)}")
        if decision == "reject":
            allowed = reasons if reasons is not None else self.policy(queue).reasons
            if reason not in allowed:
                raise ReviewError(f"reject reason '{reason}' is not one of: {'; '.join(allowed)}")
        if decision == "edit":
            check_edit(edited)
        with self.connect(write=True) as db:
            row = db.execute("SELECT content_hash FROM items WHERE queue=? AND record_id=?",
                             (queue, record_id)).fetchone()
            if row is None:
                raise ReviewError(f"record {record_id} is not in queue '{queue}'", 404)
            if row[0] != seen_hash:
                raise ReviewError(f"record {record_id} changed since it was shown (content hash {seen_hash} is now "
                                  f"{row[0]}): look at it again", 409)
            had = db.execute("SELECT content_hash FROM decisions WHERE queue=? AND record_id=? AND reviewer=?",
                             (queue, record_id, reviewer)).fetchone()
            db.execute("INSERT INTO decisions VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (queue, record_id, reviewer) "
                       "DO UPDATE SET decision=excluded.decision, reason=excluded.reason, note=excluded.note, "
                       "edited=excluded.edited, content_hash=excluded.content_hash, decided_at=excluded.decided_at",
                       (queue, record_id, reviewer, decision, reason if decision == "reject" else None, note or None,
                        orjson.dumps(edited).decode() if decision == "edit" else None, seen_hash, now_iso()))
            counted = had is not None and had[0] == seen_hash
            db.execute("UPDATE items SET done = done + ?, claimed_by = NULL, claim_until = NULL WHERE queue=? AND "
                       "record_id=?", (0 if counted else 1, queue, record_id))

    # reading back ---------------------------------------------------------------------------------------
    def progress(self, queue: str) -> tuple[int, int]:
        """(records fully decided, records in the queue)."""
        with self.connect() as db:
            done, total = db.execute("SELECT SUM(done >= needed), COUNT(*) FROM items WHERE queue=?",
                                     (queue,)).fetchone()
        return int(done or 0), int(total)

    def decisions(self, queue: str) -> list[dict[str, Any]]:
        """Every decision with its item's current hash (stale: decided on content that has changed since)."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT d.record_id, d.reviewer, d.decision, d.reason, d.note, d.edited, d.content_hash, "
                "d.decided_at, i.content_hash, i.source, i.lang, i.origin FROM decisions d JOIN items i ON "
                "i.queue=d.queue AND i.record_id=d.record_id WHERE d.queue=? ORDER BY i.pos, d.reviewer",
                (queue,)).fetchall()
        keys = ("record_id", "reviewer", "decision", "reason", "note", "edited", "content_hash", "decided_at")
        out = []
        for r in rows:
            d = dict(zip(keys, r[:8]))
            d["edited"] = orjson.loads(d["edited"]) if d["edited"] else None
            d.update(stale=r[6] != r[8], source=r[9], lang=r[10], origin=r[11])
            out.append(d)
        return out

    def items(self, queue: str) -> Iterator[QueueItem]:
        with self.connect() as db:
            for row in db.execute(f"SELECT {ITEM_COLUMNS} FROM items WHERE queue=? ORDER BY pos", (queue,)):
                yield _item(row)

    def digest(self, queue: str) -> str:
        """Changes whenever a decision or an item does: part of the review step's cache key."""
        h = xxhash.xxh3_64()
        with self.connect() as db:
            for row in db.execute("SELECT record_id, reviewer, decision, reason, edited, content_hash, decided_at "
                                  "FROM decisions WHERE queue=? ORDER BY record_id, reviewer", (queue,)):
                h.update(orjson.dumps(row))
            for row in db.execute("SELECT record_id, content_hash FROM items WHERE queue=? ORDER BY pos", (queue,)):
                h.update(orjson.dumps(row))
        return h.hexdigest()


def check_edit(edited: dict[str, Any] | None) -> None:
    """An edited record keeps the canonical shape: non-empty messages with known roles, or text."""
    from ..record import ROLES

    if not isinstance(edited, dict):
        raise ReviewError("an edit needs the edited record")
    msgs = edited.get("messages")
    if msgs is not None:
        if not isinstance(msgs, list) or not msgs:
            raise ReviewError("edited record: messages must be a non-empty list")
        for n, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not str(m.get("content", "")).strip():
                raise ReviewError(f"edited record: messages[{n}] needs a role ({', '.join(ROLES)}) and content")
    elif not str(edited.get("text") or "").strip():
        raise ReviewError("edited record: needs messages or text")
