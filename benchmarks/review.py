"""Review app latency: a queue of 100,000 records, two reviewers at once over loopback, and the CSV export.

Run: .venv/bin/python benchmarks/review.py [--records 100000] [--actions 400]

Each reviewer is a thread with its own HTTP client, asking for its next record and storing a decision, as
the page does; the app is the real one (`medcurate review serve`, uvicorn on 127.0.0.1). Reported: median
and 99th percentile of each action. Then every record gets a decision (written in bulk, as a finished
review would leave the store) and the whole queue is exported to CSV. Targets from the issue: under 50 ms
median and 200 ms p99 per action, export under 10 s; the issue cites Label Studio exports of 50,000 records
taking minutes and Argilla taking 24 s to open 38,000 records.
"""

from __future__ import annotations

import argparse
import random
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._corpus import medical_sentence  # noqa: E402
from curation.record import make_record  # noqa: E402
from curation.review import QueuePolicy, ReviewStore  # noqa: E402
from curation.review.app import make_app  # noqa: E402
from curation.review.offline import export_queue  # noqa: E402
from curation.review.store import now_iso  # noqa: E402


def records(n: int) -> list[dict]:
    rng = random.Random(0)
    return [make_record("bench", "instruction", lang="en", messages=[
        {"role": "user", "content": medical_sentence(rng, 8, 16) + "?"},
        {"role": "assistant", "content": ". ".join(medical_sentence(rng, 10, 20) for _ in range(3)) + "."}])
        for _ in range(n)]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) >= 100 else max(values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--actions", type=int, default=400, help="Records each reviewer decides.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = ReviewStore(Path(tmp) / "review.sqlite")
        recs = records(args.records)
        start = time.perf_counter()
        policy = QueuePolicy(select="all", size=None)
        store.create("bench", recs, list(range(len(recs))), policy, "benchmark")
        created = time.perf_counter() - start
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        token = "bench-token"
        server = uvicorn.Server(uvicorn.Config(make_app(store, "bench", token), host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        timings: dict[str, list[float]] = {"next record": [], "store a decision": []}
        lock = threading.Lock()

        def reviewer(name: str) -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-Review-Token": token}) as c:
                for k in range(args.actions):
                    t0 = time.perf_counter()
                    item = c.get("/api/next", params={"reviewer": name}).json()["item"]
                    t1 = time.perf_counter()
                    decision = "reject" if k % 5 == 0 else "accept"
                    r = c.post("/api/decide", json={"record_id": item["record_id"], "reviewer": name,
                                                    "content_hash": item["content_hash"], "decision": decision,
                                                    "reason": "incomplete answer" if decision == "reject" else None})
                    t2 = time.perf_counter()
                    assert r.status_code == 200, r.text
                    with lock:
                        timings["next record"].append(t1 - t0)
                        timings["store a decision"].append(t2 - t1)

        threads = [threading.Thread(target=reviewer, args=(n,)) for n in ("ana", "bo")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        server.should_exit = True
        thread.join()
        done, total = store.progress("bench")
        assert done == 2 * args.actions, (done, total)
        # the rest of the queue decided in bulk, then everything exported
        db = sqlite3.connect(store.path)
        db.executemany("INSERT OR IGNORE INTO decisions SELECT queue, record_id, 'cy', 'accept', NULL, NULL, NULL, "
                       "content_hash, ? FROM items WHERE queue='bench' AND record_id=?",
                       [(now_iso(), r["id"]) for r in recs])
        db.commit()
        db.close()
        start = time.perf_counter()
        rows = export_queue(store, "bench", Path(tmp) / "decisions.csv")
        exported = time.perf_counter() - start
    print(f"\nqueue of {args.records:,} records created in {created:.1f} s; two reviewers, {args.actions} records "
          f"each, over loopback\n")
    print("| action | median ms | p99 ms | target |\n|---|---:|---:|---|")
    for action, values in timings.items():
        print(f"| {action} | {1000 * statistics.median(values):.1f} | {1000 * pct(values, 99):.1f} | "
              f"< 50 median, < 200 p99 |")
    print(f"| export of {rows:,} decisions to CSV | {exported:.2f} s | | < 10 s |")


if __name__ == "__main__":
    main()
