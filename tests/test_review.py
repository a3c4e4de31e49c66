"""Human review: queue policies, the store under two reviewers, the web app's actions and token, restarts,
the spreadsheet round trip, agreement, and the recipe's review step."""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from curation.cli import app as cli
from curation.errors import MedcurateError
from curation.io.reader import read_records
from curation.review import QueuePolicy, ReviewStore
from curation.review.app import COOKIE, make_app
from curation.review.offline import export_queue, import_decisions
from curation.review.policy import select
from curation.review.stats import cohen_kappa, queue_stats
from curation.review.store import ReviewError

from .conftest import SAMPLE
from .llm_server import free_port

pytestmark = pytest.mark.timeout(600)
FILES = {"en_openai.jsonl": "en", "es_sharegpt.json": "es", "zh_alpaca.json": "zh", "ar_alpaca.csv": "ar",
         "mcq_en.jsonl": "en"}


@pytest.fixture
def records() -> list[dict]:
    """The sample data in four languages (Arabic among them), as the langid step would label it."""
    return [dict(r, lang=lang) for name, lang in FILES.items() for r in read_records(str(SAMPLE / name))]


def make_queue(tmp_path: Path, records: list[dict], name: str = "clinic", **policy) -> ReviewStore:
    store = ReviewStore(tmp_path / "review.sqlite")
    p = QueuePolicy(**{"size": 12, "seed": 5, **policy})
    store.create(name, records, select(records, p), p, "test")
    return store


class Server:
    """The review app on a real loopback port, in a thread, as `medcurate review serve` runs it."""

    def __init__(self, store: ReviewStore, queue: str, token: str = "secret-token"):
        self.port, self.token = free_port(), token
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(make_app(store, queue, token), host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-Review-Token": self.token}, timeout=10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# --- queues ---------------------------------------------------------------------------------------------

def test_policies_pick_what_they_say(records):
    for rec in records[:5]:
        rec["meta"]["judge"] = {"overall": 2}
    records[5]["meta"]["judge"] = {"overall": 5}
    low = select(records, QueuePolicy(select="below_score", size=None))
    assert {0, 1, 2, 3, 4} <= set(low) and 5 not in low  # unscored records count as below
    strat = select(records, QueuePolicy(select="stratified", size=8, seed=1))
    langs = {records[i]["lang"] for i in strat}
    assert len(strat) == 8 and {"en", "es", "zh", "ar"} <= langs
    assert select(records, QueuePolicy(size=10, seed=3)) == select(records, QueuePolicy(size=10, seed=3))
    assert select(records, QueuePolicy(size=10, seed=3)) != select(records, QueuePolicy(size=10, seed=4))
    derived = dict(records[0], id="child", parent_id=records[0]["id"], origin="translate")
    assert select([*records, derived], QueuePolicy(select="derived")) == [len(records)]
    assert len(select(records, QueuePolicy(select="all", size=None))) == len(records)


# --- the store and the API ------------------------------------------------------------------------------

def test_every_action_through_the_api_and_the_token(tmp_path, records):
    store = make_queue(tmp_path, records)
    srv = Server(store, "clinic")
    try:
        anon = httpx.Client(base_url=srv.url, timeout=10)
        assert anon.get("/api/next", params={"reviewer": "x"}).status_code == 403
        assert anon.get("/api/next", params={"reviewer": "x"}, headers={"X-Review-Token": "guess"}).status_code == 403
        assert anon.post("/api/decide", json={}).status_code == 403
        assert anon.get("/review").status_code == 403
        # the token, given once in the URL, becomes a cookie
        first = anon.get("/", params={"token": srv.token}, follow_redirects=False)
        assert first.status_code == 303 and first.cookies.get(COOKIE) == srv.token
        c = srv.client()
        seen = []
        for decision, extra in (("accept", {}), ("reject", {"reason": "unsafe advice", "note": "dose too high"}),
                                ("edit", {})):
            item = c.get("/api/next", params={"reviewer": "dr-lopez"}).json()["item"]
            seen.append(item["record_id"])
            body = {"record_id": item["record_id"], "content_hash": item["content_hash"], "reviewer": "dr-lopez",
                    "decision": decision, **extra}
            if decision == "edit":
                msgs = item["record"]["messages"]
                body["edited"] = {"messages": [*msgs[:-1], {"role": "assistant", "content": "Corrected: " +
                                                             msgs[-1]["content"]}]}
            assert c.post("/api/decide", json=body).json() == {"ok": True}
        assert len(set(seen)) == 3
        item = c.get("/api/next", params={"reviewer": "dr-lopez"}).json()["item"]
        base = {"record_id": item["record_id"], "content_hash": item["content_hash"], "reviewer": "dr-lopez"}
        bad = [({**base, "decision": "maybe"}, 400, "not one of"),
               ({**base, "decision": "reject", "reason": "I dislike it"}, 400, "reason"),
               ({**base, "decision": "edit", "edited": {"messages": [{"role": "doctor", "content": "x"}]}}, 400,
                "messages[0]"),
               ({**base, "record_id": "nope", "decision": "accept"}, 404, "not in queue"),
               ({**base, "content_hash": "0" * 16, "decision": "accept"}, 409, "changed since it was shown"),
               ({**base, "reviewer": " ", "decision": "accept"}, 400, "reviewer")]
        for body, status, text in bad:
            r = c.post("/api/decide", json=body)
            assert r.status_code == status and text in r.json()["error"], (body, r.text)
        stats = c.get("/api/stats").json()
        assert stats["decided"] == 3 and stats["by_decision"] == {"accept": 1, "reject": 1, "edit": 1}
        assert stats["reject_reasons"] == {"unsafe advice": 1}
    finally:
        srv.stop()
    rows = sqlite3.connect(tmp_path / "review.sqlite").execute(
        "SELECT decision, reason, note, reviewer, edited IS NOT NULL, content_hash FROM decisions").fetchall()
    assert sorted(r[0] for r in rows) == ["accept", "edit", "reject"]
    assert all(r[3] == "dr-lopez" and len(r[5]) == 16 for r in rows)
    assert ("reject", "unsafe advice", "dose too high") in [r[:3] for r in rows]


def test_two_reviewers_interleaved_lose_and_double_count_nothing_and_a_restart_keeps_everything(tmp_path, records):
    store = make_queue(tmp_path, records, size=40)
    total = sum(1 for _ in store.items("clinic"))  # the sample data repeats a few records: one item each
    assert total >= 35
    srv = Server(store, "clinic")
    decided: dict[str, list[str]] = {"ana": [], "bo": []}

    def work(name: str) -> None:
        with srv.client() as c:
            while True:
                item = c.get("/api/next", params={"reviewer": name}).json()["item"]
                if item is None:
                    return
                r = c.post("/api/decide", json={"record_id": item["record_id"], "content_hash": item["content_hash"],
                                                "reviewer": name, "decision": "accept"})
                assert r.status_code == 200, r.text
                decided[name].append(item["record_id"])
                if len(decided["ana"]) + len(decided["bo"]) == 20 and name == "ana":
                    return  # ana stops halfway; bo goes on until the queue is empty

    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in decided]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        srv.stop()
    every = decided["ana"] + decided["bo"]
    assert len(every) == total and len(set(every)) == total and decided["ana"] and decided["bo"]
    # a new server on the same store: every decision is there, and nothing is left to do
    srv = Server(ReviewStore(tmp_path / "review.sqlite"), "clinic")
    try:
        with srv.client() as c:
            stats = c.get("/api/stats").json()
            assert stats["decided"] == total and stats["decisions"] == total
            assert stats["reviewers"] == {"ana": len(decided["ana"]), "bo": len(decided["bo"])}
            assert c.get("/api/next", params={"reviewer": "cy"}).json()["item"] is None
    finally:
        srv.stop()


def test_a_record_shown_to_one_reviewer_is_not_shown_to_another_and_a_redecision_replaces(tmp_path, records):
    store = make_queue(tmp_path, records, size=3)
    a = store.next_item("clinic", "ana")
    assert store.next_item("clinic", "ana").record_id == a.record_id  # a reload shows the same record
    b = store.next_item("clinic", "bo")
    assert b.record_id != a.record_id
    store.decide("clinic", a.record_id, "ana", "accept", seen_hash=a.content_hash)
    store.decide("clinic", a.record_id, "ana", "reject", seen_hash=a.content_hash, reason="off-topic")
    assert store.progress("clinic") == (1, 3)
    assert [d["decision"] for d in store.decisions("clinic")] == ["reject"]


def test_double_review_gives_agreement_and_kappa(tmp_path, records):
    store = make_queue(tmp_path, records, size=10, double=1.0)
    plan = {"ana": "AARRAAARAA", "bo": "AARAAAARRA"}
    ids = [it.record_id for it in store.items("clinic")]
    for name, letters in plan.items():
        for rid, letter in zip(ids, letters):
            item = store.item("clinic", rid)
            store.decide("clinic", rid, name, "accept" if letter == "A" else "reject", seen_hash=item.content_hash,
                         reason=None if letter == "A" else "incomplete answer")
    stats = queue_stats(store, "clinic")
    assert stats["decided"] == 10 and stats["double_reviewed"] == 10 and stats["agreement"] == 0.8
    # by hand: they agree on 8 of 10 (p_o = 0.8); each accepts 7 and rejects 3: p_e = 0.49 + 0.09 = 0.58
    assert stats["kappa"] == pytest.approx((0.8 - 0.58) / (1 - 0.58))
    assert cohen_kappa([("accept", "accept")] * 3) == 1.0


def test_a_changed_record_is_flagged_not_silently_decided(tmp_path, records):
    store = make_queue(tmp_path, records, size=4, select="all")
    item = next(store.items("clinic"))
    store.decide("clinic", item.record_id, "ana", "accept", seen_hash=item.content_hash)
    changed = [dict(r) for r in records]
    target = next(r for r in changed if r["id"] == item.record_id)
    target["messages"] = [*target["messages"][:-1], {"role": "assistant", "content": "A different answer."}]
    counts = store.create("clinic", changed, [changed.index(target)], QueuePolicy(size=4), "test", refresh=True)
    assert counts["changed"] == 1
    with pytest.raises(ReviewError, match="changed since it was shown"):
        store.decide("clinic", item.record_id, "bo", "accept", seen_hash=item.content_hash)
    assert queue_stats(store, "clinic")["stale_decisions"] == 1
    assert store.progress("clinic")[0] == 0  # back to undecided


# --- the spreadsheet round trip -------------------------------------------------------------------------

def test_export_fill_in_and_import_with_bad_rows_named(tmp_path, records):
    store = make_queue(tmp_path, records, size=6)
    path = tmp_path / "queue.csv"
    assert export_queue(store, "clinic", path) == 6
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert {"record_id", "prompt", "response", "decision", "reason"} <= set(rows[0])
    assert any("\u0600" <= ch <= "\u06ff" for r in rows for ch in r["prompt"]) or any(r["lang"] for r in rows)
    rows[0].update(decision="accept", reviewer="dr-chen")
    rows[1].update(decision="reject", reason="medically incorrect", reviewer="dr-chen")
    rows[2].update(decision="edit", reviewer="dr-chen", edited=json.dumps(
        {"messages": [{"role": "user", "content": "¿Qué es la anemia?"},
                      {"role": "assistant", "content": "Una hemoglobina por debajo de lo normal."}]}))
    broken = [dict(rows[3], record_id="unknown-id", decision="accept", reviewer="x"),
              dict(rows[4], decision="approve", reviewer="x")]

    def write(rs: list[dict], name: str) -> Path:
        out = tmp_path / name
        with out.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rs)
        return out

    with pytest.raises(MedcurateError) as err:
        import_decisions(store, "clinic", write(rows[:3] + broken, "bad.csv"))
    message = str(err.value)
    assert "row 5, field record_id" in message and "row 6, field decision" in message
    assert store.decisions("clinic") == []  # nothing imported
    assert import_decisions(store, "clinic", write(rows, "good.csv")) == 3
    assert sorted(d["decision"] for d in store.decisions("clinic")) == ["accept", "edit", "reject"]
    res = CliRunner().invoke(cli, ["review", "stats", "clinic", "--work-dir", str(tmp_path)])
    assert res.exit_code == 0 and "3 of 6 records decided" in res.output
    res = CliRunner().invoke(cli, ["review", "export", "clinic", "--to", str(tmp_path / "all.jsonl"),
                                   "--work-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "all.jsonl").read_text().splitlines()) == 6


# --- the recipe's review step, and a real browser -------------------------------------------------------

def review_recipe(folder: Path, **step_config) -> Path:
    from .test_recipe import small_recipe

    steps = [{"step": "normalize"}, {"step": "langid"}, {"step": "pii"}, {"step": "quality"},
             {"step": "dedupe", "config": {"threshold": 0.7}},
             {"step": "review", "config": {"queue": "clinic", **step_config}}]
    mixture = {"stage1": {"tags": ["qa", "dialogue"]},
               "stage2": {"tags": ["qa", "dialogue", "mcq"], "reviewed": "accepted"}}
    return small_recipe(folder, steps=steps, mixture=mixture)


def rejects_of(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]


def curated(out: Path) -> list[dict]:
    import pyarrow.parquet as pq

    from curation.record import from_table

    return from_table(pq.read_table(out / "curated.parquet"))


def stage_records(out: Path, stage: str) -> list[dict]:
    import pyarrow.parquet as pq

    from curation.record import from_table

    return [r for f in sorted((out / "data" / stage).glob("*.parquet")) for r in from_table(pq.read_table(f))]


def test_a_real_browser_reviews_three_records_and_the_recipe_applies_them(tmp_path):
    from playwright.sync_api import sync_playwright

    from curation.recipe import load_recipe
    from curation.run import run_recipe

    recipe = review_recipe(tmp_path)
    run_recipe(load_recipe(recipe), until="dedupe")
    res = CliRunner().invoke(cli, ["review", "create", str(recipe), "--name", "clinic", "--select", "stratified",
                                   "--size", "3", "--seed", "2"])
    assert res.exit_code == 0 and "3 records queued" in res.output, res.output
    store = ReviewStore(tmp_path / "work" / "review.sqlite")
    srv = Server(store, "clinic")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page()
            assert page.goto(f"{srv.url}/review").status == 403  # no token, no page
            page.goto(f"{srv.url}/?token={srv.token}")
            page.fill("#reviewer", "Dr. Haddad")
            page.click("#start")
            shown = []
            # 1: accept with the keyboard
            shown.append(page.input_value("input[name=record_id]"))
            assert page.inner_text("#progress") == "0 / 3 decided"
            page.keyboard.press("a")
            page.wait_for_selector("text=1 / 3 decided")
            # 2: reject with the buttons, a reason and a note
            shown.append(page.input_value("input[name=record_id]"))
            page.click("#reject")
            page.select_option("#reason", "medically incorrect")
            page.fill("#note", "wrong first-line drug")
            page.click("#confirm-reject")
            page.wait_for_selector("text=2 / 3 decided")
            # 3: edit with the keyboard: the last message gets a sentence more
            shown.append(page.input_value("input[name=record_id]"))
            direction = page.get_attribute("#record", "dir")
            page.keyboard.press("e")
            last = page.locator("#editor textarea").last
            last.fill(last.input_value() + " Consult a physician.")
            page.keyboard.press("Control+Enter")
            page.wait_for_selector("#empty")
            assert page.inner_text("#progress") == "3 / 3 decided"
            browser.close()
    finally:
        srv.stop()
    assert len(set(shown)) == 3 and direction in ("rtl", "auto")
    rows = sqlite3.connect(tmp_path / "work" / "review.sqlite").execute(
        "SELECT record_id, reviewer, decision, reason, note, edited FROM decisions").fetchall()
    by_id = {r[0]: r for r in rows}
    assert [by_id[i][2] for i in shown] == ["accept", "reject", "edit"]
    assert all(r[1] == "Dr. Haddad" for r in rows)
    assert by_id[shown[1]][3:5] == ("medically incorrect", "wrong first-line drug")
    assert json.loads(by_id[shown[2]][5])["messages"][-1]["content"].endswith("Consult a physician.")

    result = run_recipe(load_recipe(recipe))
    assert "review" in result.ran
    out = tmp_path / "out"
    review_rejects = [r for r in rejects_of(out) if r["step"] == "review"]
    assert {r["record"]["id"]: r["reason"] for r in review_rejects} == {
        shown[1]: "review: medically incorrect", shown[2]: "review: replaced by its edit"}
    final = {r["id"]: r for r in curated(out)}
    assert shown[0] in final and shown[1] not in final and shown[2] not in final  # the edit replaced it
    edit = next(r for r in final.values() if r.get("parent_id") == shown[2])
    assert edit["origin"] == "review-edit" and edit["meta"]["review"]["reviewer"] == "Dr. Haddad"
    assert edit["messages"][-1]["content"].endswith("Consult a physician.")
    assert {r["id"] for r in stage_records(out, "stage2")} == {shown[0], edit["id"]}  # only accepted records
    ledger = result.manifest["ledger"]["review"]
    assert ledger["added"] == 1 and ledger["in"] + ledger["added"] == ledger["kept"] + ledger["rejected"]


def test_review_policies_in_the_recipe(tmp_path, records):
    from curation.recipe import load_recipe
    from curation.run import run_recipe

    recipe = review_recipe(tmp_path, min_progress=0.5)
    run_recipe(load_recipe(recipe), until="dedupe")
    assert CliRunner().invoke(cli, ["review", "create", str(recipe), "--name", "clinic", "--select", "all",
                                    "--size", "20", "--seed", "1"]).exit_code == 0
    store = ReviewStore(tmp_path / "work" / "review.sqlite")
    with pytest.raises(MedcurateError, match=r"review queue 'clinic' is 0% done \(0/20\)"):
        run_recipe(load_recipe(recipe))
    # reject every reviewed Spanish record: its source's sampled rejection rate is 100%
    for item in list(store.items("clinic"))[:10]:
        rec = item.record
        decision = "reject" if rec["source"] == "es_sharegpt" else "accept"
        store.decide("clinic", item.record_id, "ana", decision, seen_hash=item.content_hash,
                     reason="bad translation" if decision == "reject" else None)
    es_reviewed = sum(1 for d in store.decisions("clinic") if d["source"] == "es_sharegpt")
    recipe = review_recipe(tmp_path, min_progress=0.5, max_source_rejection_rate=0.5, min_source_reviews=1)
    result = run_recipe(load_recipe(recipe))
    reasons = {r["reason"] for r in rejects_of(tmp_path / "out") if r["step"] == "review"}
    assert es_reviewed > 0 and "review: source rejection rate too high" in reasons
    assert not [r for r in curated(tmp_path / "out") if r["source"] == "es_sharegpt"]
    summary = result.manifest["ledger"]["review"]
    assert summary["in"] == summary["kept"] + summary["rejected"]
    # the decisions are part of the step's cache key: unchanged, it is reused; one more, it runs again
    assert "review" in run_recipe(load_recipe(recipe)).reused
    item = list(store.items("clinic"))[10]
    store.decide("clinic", item.record_id, "bo", "accept", seen_hash=item.content_hash)
    assert "review" in run_recipe(load_recipe(recipe)).ran
