"""Round trip through a spreadsheet: export a queue (records and any decisions) to CSV or JSONL, import the
filled-in file back with every row checked before anything is stored."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson

from ..errors import MedcurateError
from .store import DECISIONS, ReviewError, ReviewStore, check_edit

COLUMNS = ("record_id", "content_hash", "source", "lang", "task", "prompt", "response", "reviewer", "decision",
           "reason", "note", "edited")


def _text(record: dict[str, Any], role: str) -> str:
    if record.get("messages"):
        return "\n\n".join(m["content"] for m in record["messages"] if m["role"] == role)
    return record.get("text") or "" if role == "user" else ""


def export_queue(store: ReviewStore, queue: str, path: Path) -> int:
    """One row per decision, and one per record nobody has decided yet (for reviewers to fill in)."""
    store.policy(queue)
    decided: dict[str, list[dict[str, Any]]] = {}
    for d in store.decisions(queue):
        decided.setdefault(d["record_id"], []).append(d)
    rows = []
    for item in store.items(queue):
        rec = item.record
        base = {"record_id": item.record_id, "content_hash": item.content_hash, "source": rec.get("source"),
                "lang": rec.get("lang"), "task": rec.get("task"), "prompt": _text(rec, "user"),
                "response": _text(rec, "assistant")}
        for d in decided.get(item.record_id, []) or [{}]:
            rows.append({**base, "reviewer": d.get("reviewer", ""), "decision": d.get("decision", ""),
                         "reason": d.get("reason") or "", "note": d.get("note") or "",
                         "edited": orjson.dumps(d["edited"]).decode() if d.get("edited") else ""})
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(rows)
    elif path.suffix == ".jsonl":
        with open(path, "wb") as f:
            for r in rows:
                f.write(orjson.dumps(r) + b"\n")
    else:
        raise MedcurateError(f"{path}: export to .csv or .jsonl")
    return len(rows)


def _read(path: Path) -> list[tuple[str, dict[str, Any]]]:
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [(f"row {n}", row) for n, row in enumerate(csv.DictReader(f), start=2)]
    if path.suffix == ".jsonl":
        out = []
        for n, line in enumerate(path.read_bytes().splitlines(), start=1):
            if line.strip():
                try:
                    out.append((f"line {n}", orjson.loads(line)))
                except orjson.JSONDecodeError as e:
                    raise MedcurateError(f"{path}, line {n}: not JSON ({e})") from None
        return out
    raise MedcurateError(f"{path}: import from .csv or .jsonl")


def import_decisions(store: ReviewStore, queue: str, path: Path, reviewer: str | None = None) -> int:
    """Store the rows that carry a decision; any bad row stops the import before anything is written."""
    reasons = store.policy(queue).reasons
    hashes = {item.record_id: item.content_hash for item in store.items(queue)}
    todo, problems = [], []
    for where, row in _read(path):
        decision = str(row.get("decision") or "").strip().lower()
        if not decision:
            continue  # not decided yet
        rid = str(row.get("record_id") or "").strip()
        who = str(row.get("reviewer") or "").strip() or reviewer
        reason = str(row.get("reason") or "").strip() or None
        edited = row.get("edited") or None
        problem = None
        if rid not in hashes:
            problem = ("record_id", f"'{rid}' is not in queue '{queue}'")
        elif decision not in DECISIONS:
            problem = ("decision", f"'{decision}' is not one of {', '.join(DECISIONS)}")
        elif not who:
            problem = ("reviewer", "empty (fill the column or pass --reviewer)")
        elif decision == "reject" and reason not in reasons:
            problem = ("reason", f"'{reason or ''}' is not one of: {'; '.join(reasons)}")
        elif decision == "edit":
            try:
                edited = orjson.loads(edited) if isinstance(edited, str) else edited
                check_edit(edited)
            except (ReviewError, orjson.JSONDecodeError) as e:
                problem = ("edited", str(e))
        if problem:
            problems.append(f"{path}, {where}, field {problem[0]}: {problem[1]}")
            continue
        seen = str(row.get("content_hash") or "").strip() or hashes[rid]
        todo.append((rid, who, decision, seen, reason, str(row.get("note") or "").strip() or None, edited))
    if problems:
        raise MedcurateError(f"{len(problems)} bad row(s), nothing imported:\n  " + "\n  ".join(problems[:20]))
    for rid, who, decision, seen, reason, note, edited in todo:
        try:
            store.decide(queue, rid, who, decision, seen_hash=seen, reason=reason, note=note, edited=edited,
                         reasons=reasons)
        except ReviewError as e:
            raise MedcurateError(f"{path}: record {rid}: {e}") from None
    return len(todo)

