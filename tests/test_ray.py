"""The Ray executor on a local Ray instance: the same output as the local executor, byte for byte; a worker
killed mid-step loses and duplicates nothing; LLM actors share one rate limit and the run's cache."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from curation.executors import ExecutorConfig
from curation.recipe import load_recipe
from curation.run import run_recipe
from curation.storage import Location

from .conftest import ROOT, qa
from .s3_server import s3_server

ray = pytest.importorskip("ray")
RAY = ExecutorConfig(type="ray")


@pytest.fixture(scope="module")
def s3():
    with s3_server() as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def ray_instance(s3):
    """Started after the S3 server, so that its workers have the storage credentials in their environment."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_into(recipe: Path, work: Path | str, out: Path, executor: ExecutorConfig | None = None, **kw):
    """`work`: a folder, or a URI for the steps' outputs (SQLite stores then go beside `out`)."""
    state = work if isinstance(work, Path) else out.with_name(out.name + "-state")
    loaded = dataclasses.replace(load_recipe(recipe), work_dir=state, output=out, work=Location.of(work))
    return run_recipe(loaded, executor=executor, **kw)


def test_demo_recipe_on_ray_exports_the_same_bytes_as_locally(tmp_path, s3):
    """With the work dir on object storage (an S3 API), as on a cluster whose nodes share no disk."""
    demo = ROOT / "recipes" / "demo.yaml"
    local = run_into(demo, tmp_path / "work-local", tmp_path / "out-local")
    on_ray = run_into(demo, s3.uri(s3.bucket(), "demo/work"), tmp_path / "out-ray", RAY)
    assert "dedupe" in on_ray.ran and "translate" in on_ray.ran
    a, b = tree_digest(tmp_path / "out-local"), tree_digest(tmp_path / "out-ray")
    assert a.keys() == b.keys() and "rejects.jsonl" in a and "manifest.json" in a
    assert a == b  # records, ids, rejects, ledger, charts and cards
    assert local.ledger.to_dict() == on_ray.ledger.to_dict()
    assert on_ray.ledger.to_dict()["dedupe"]["rejected"] > 0
    # the sharded steps wrote their output as parts, one per shard; the export read them back in order
    entry = next(s.entry for s in on_ray.plan.steps if s.id == "pii")
    assert (entry.path / "records.parquet").is_dir()


QA = [
    ("en", "What is the first-line treatment for uncomplicated hypertension in adults?",
     "Thiazide diuretics, ACE inhibitors, ARBs or calcium channel blockers; the choice depends on age, "
     "ethnicity and comorbidities such as diabetes or chronic kidney disease."),
    ("es", "¿Cuál es la dosis inicial habitual de metformina en la diabetes tipo 2?",
     "Se suele empezar con 500 mg una o dos veces al día con las comidas y aumentar cada semana según la "
     "tolerancia gastrointestinal, hasta 2000 mg al día."),
    ("zh", "成人社区获得性肺炎的常见病原体有哪些？",
     "最常见的病原体是肺炎链球菌，其次是流感嗜血杆菌、肺炎支原体、肺炎衣原体和呼吸道病毒，重症患者需考虑金黄色葡萄球菌。"),
    ("ar", "ما هي علامات التحذير من السكتة الدماغية؟",
     "تدلي الوجه المفاجئ وضعف الذراع أو الساق في جانب واحد وصعوبة الكلام وفقدان الرؤية المفاجئ والصداع الشديد."),
]


def write_corpus(path: Path, n: int) -> None:
    """Multilingual medical Q&A: every 20th record an exact copy, every 7th a near copy (one word changed),
    some with a phone number or e-mail, and a few broken lines."""
    lines = []
    for i in range(n):
        lang, q, a = QA[i % 4]
        if i % 20 == 19:
            lines.append(lines[i - 11])
            continue
        case = i if i % 7 else i - 1
        tail = f" Patient {case}: follow up in {case % 9 + 1} weeks."
        if i % 7 == 0 and i:
            tail = tail.replace("follow", "review")
        answer = a + tail + (" Call +1 415 555 0199 or write to jane.doe@example.org." if i % 13 == 0 else "")
        lines.append(json.dumps(qa(f"{q} (case {case})", answer), ensure_ascii=False))
    for k in range(3):
        lines.insert(k * 1000 + 5, '{"messages": [{"role": "user", "content": "broken')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def corpus_recipe(folder: Path, n: int) -> Path:
    write_corpus(folder / "corpus.jsonl", n)
    recipe = {"name": "ray-kill", "seed": 3, "work_dir": "work", "output": "out",
              "sources": [{"path": "corpus.jsonl", "license": "CC-BY-4.0", "tags": ["qa"]}],
              "steps": [{"step": "normalize"}, {"step": "langid"}, {"step": "pii"},
                        {"step": "dedupe", "config": {"threshold": 0.8, "report": str(folder / "clusters.md"),
                                                      "report_clusters": 5}}],
              "mixture": {"stage1": {"validation": 0.05},
                          "stage2": {"langs": ["es", "zh", "ar"], "temperature": 2.0, "size": 30_000,
                                     "max_upsample": 2, "replay": {"stage": "stage1", "fraction": 0.1}}},
              "export": {"shard_size": 4000, "formats": ["openai", "alpaca"]}}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def shard_worker_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if b"ShardWorker" in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def test_a_worker_killed_mid_step_loses_and_duplicates_nothing(tmp_path):
    recipe = corpus_recipe(tmp_path, 40_000)
    killed: list[int] = []

    def kill_one_when_langid_is_half_done() -> None:
        deadline = time.time() + 300
        while time.time() < deadline and not killed:
            parts = list((tmp_path / "work-ray" / "steps").glob("*langid*/records.parquet/part-*.parquet"))
            pids = shard_worker_pids()
            if parts and pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.2)

    killer = threading.Thread(target=kill_one_when_langid_is_half_done)
    killer.start()
    on_ray = run_into(recipe, tmp_path / "work-ray", tmp_path / "out-ray", RAY)
    killer.join()
    assert killed, "no worker was killed: the step finished before any shard was written"
    ray_report = (tmp_path / "clusters.md").rename(tmp_path / "clusters-ray.md").read_text(encoding="utf-8")
    local = run_into(recipe, tmp_path / "work-local", tmp_path / "out-local")
    # the largest clusters are reported as locally: the same members, ids and texts in the same order
    assert ray_report == (tmp_path / "clusters.md").read_text(encoding="utf-8")
    assert ray_report.count("## Cluster of") == 5
    for step in ("langid", "pii", "dedupe"):
        ray_entry = next(s.entry for s in on_ray.plan.steps if s.id == step)
        local_entry = next(s.entry for s in local.plan.steps if s.id == step)
        assert ray_entry.table().equals(local_entry.table()), step
        assert ray_entry.rejects_path.read_bytes() == local_entry.rejects_path.read_bytes(), step
    ids = next(s.entry for s in on_ray.plan.steps if s.id == "dedupe").table()["id"]
    assert len(set(ids.to_pylist())) == len(ids)
    ledger = on_ray.ledger.to_dict()
    assert ledger == local.ledger.to_dict()
    assert ledger["read:corpus"]["rejected"] == 3 and ledger["dedupe"]["rejected"] > 2000
    # the mixture, planned and gathered on the workers: shards, upsampled and replayed rows, as locally
    assert tree_digest(tmp_path / "out-ray") == tree_digest(tmp_path / "out-local")
    stages = on_ray.manifest["stages"]
    assert len(list((tmp_path / "out-ray" / "data" / "stage1").glob("train-*.parquet"))) > 5
    assert stages["stage2"]["replayed"] > 0 and max(c["passes"] for c in stages["stage2"]["cells"]) > 1


def index_recipe(folder: Path, lines: list[str], index: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    recipe = {"name": "ray-index", "seed": 3, "work_dir": "work", "output": "out",
              "sources": [{"path": "corpus.jsonl", "license": "CC-BY-4.0"}],
              "steps": [{"step": "normalize"},
                        {"step": "dedupe", "config": {"threshold": 0.8, "index_dir": str(index),
                                                      "report": str(folder / "clusters.md"), "report_clusters": 3}}]}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_incremental_index_on_ray_dedupes_against_earlier_runs_as_locally(tmp_path):
    from curation.steps.dedupe import DedupeConfig, Index

    write_corpus(tmp_path / "all.jsonl", 3500)
    lines = (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()
    # the second delivery: near copies of records kept by the first, exact copies of others, and new records
    second = [line for i, line in enumerate(lines[1500:2000], 1500) if i % 7 == 0] + lines[1500:1700] + lines[2000:]
    runs = {}
    for executor in ("local", "ray"):
        index = tmp_path / f"index-{executor}"
        for k, delivery in enumerate((lines[:2000], second)):
            folder = tmp_path / executor / f"run{k}"
            result = run_into(index_recipe(folder, delivery, index), folder / "work", folder / "out",
                              RAY if executor == "ray" else None, until="dedupe")
            runs[(executor, k)] = (result, folder)
    for k in (0, 1):
        (local, lf), (on_ray, rf) = runs[("local", k)], runs[("ray", k)]
        local_entry, ray_entry = local.plan.steps[-1].entry, on_ray.plan.steps[-1].entry
        assert ray_entry.table().equals(local_entry.table()), k
        assert ray_entry.rejects_path.read_bytes() == local_entry.rejects_path.read_bytes(), k
        assert (rf / "clusters.md").read_text(encoding="utf-8") == (lf / "clusters.md").read_text(encoding="utf-8")
        assert on_ray.ledger.to_dict() == local.ledger.to_dict()
    first_ids = set(runs[("local", 0)][0].plan.steps[-1].entry.table()["id"].to_pylist())
    rejects = [json.loads(line)
               for line in runs[("ray", 1)][0].plan.steps[-1].entry.rejects_path.read_bytes().splitlines()]
    against_index = [r for r in rejects if r["detail"]["duplicate_of"] in first_ids]
    assert {r["reason"] for r in against_index} == {"exact duplicate", "near duplicate"}
    assert "(kept by an earlier run)" in (runs[("ray", 1)][1] / "clusters.md").read_text(encoding="utf-8")
    # both indexes hold the same records in the same order; Ray wrote this run's part shard by shard
    config = DedupeConfig(threshold=0.8)
    local_index, ray_index = (Index(Location.of(tmp_path / f"index-{e}"), config) for e in ("local", "ray"))
    assert len(local_index.parts()) == 2 and len(ray_index.parts()) >= 2
    for a, b in zip(local_index.load(), ray_index.load()):
        assert list(a) == list(b) if isinstance(a, list) else (a == b).all()


def test_llm_actors_share_one_rate_limit_and_the_runs_cache(tmp_path):
    from curation.llm.client import LLM, Request
    from curation.llm.config import Endpoint
    from curation.llm.shared import LLMPool

    from .llm_server import MODEL, LlamaServer

    server = LlamaServer()
    pool = LLMPool(actors=2)
    try:
        ep = Endpoint(base_url=server.base_url, model=MODEL, concurrency=4, rpm=120, timeout=60)
        requests = [Request([{"role": "user", "content": f"Name one symptom of {d}. One word."}],
                            {"max_tokens": 8, "temperature": 0.0})
                    for d in ("asthma", "anemia", "influenza", "migraine", "gout", "sepsis", "malaria", "measles")]
        llm = LLM(ep, tmp_path / "cache.sqlite", backends=pool)
        replies = llm.complete(requests)
        grants = sorted(pool.granted())
        again = LLM(ep, tmp_path / "cache.sqlite", backends=pool).complete(requests)
        after = pool.granted()
    finally:
        pool.close()
        server.stop()
    assert all(r.error is None and r.text for r in replies) and llm.usage.requests == 8
    assert len(grants) == 8
    gaps = [b - a for a, b in zip(grants, grants[1:])]
    assert min(gaps) >= 0.5 - 0.05, gaps  # 120 requests a minute across both actors: one every 0.5 s
    assert [r.text for r in again] == [r.text for r in replies] and all(r.cached for r in again)
    assert len(after) == 8  # the second pass was answered from the cache: nothing was sent again


def test_decontaminate_on_ray_rejects_and_reports_as_locally(tmp_path):
    """The step's phases (index, matches per shard, verdicts) on Ray, and its report written after them."""
    bench = [{"question": "A 58-year-old man has crushing chest pain and ST elevation in leads II, III and aVF. "
                          "Which coronary artery is most likely occluded?",
              "options": ["Left anterior descending", "Right coronary artery", "Left circumflex"], "answer": "B"},
             {"question": "¿Qué fármaco revierte la intoxicación por heparina no fraccionada en urgencias?",
              "options": ["Vitamina K", "Sulfato de protamina", "Idarucizumab"], "answer": "B"},
             {"question": "针灸治疗呕吐时最常用的主穴是哪一个穴位，应当如何取穴？",
              "options": ["内关", "合谷", "足三里"], "answer": "A"}]
    (tmp_path / "bench.jsonl").write_text("".join(json.dumps(b, ensure_ascii=False) + "\n" for b in bench),
                                          encoding="utf-8")
    write_corpus(tmp_path / "corpus.jsonl", 600)
    with open(tmp_path / "corpus.jsonl", "a", encoding="utf-8") as f:
        for b in bench:
            f.write(json.dumps(qa("Exam practice: " + b["question"], "The answer is " + b["options"][1] + "."),
                               ensure_ascii=False) + "\n")
    for executor in ("local", "ray"):
        recipe = {"name": "ray-decontam", "seed": 3, "work_dir": "work", "output": "out",
                  "sources": [{"path": "corpus.jsonl", "license": "CC-BY-4.0"}],
                  "steps": [{"step": "normalize"},
                            {"step": "decontaminate", "config": {"benchmarks": ["bench.jsonl"],
                                                                 "report": str(tmp_path / f"{executor}.md")}}]}
        (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
        result = run_into(tmp_path / "recipe.yaml", tmp_path / f"work-{executor}", tmp_path / f"out-{executor}",
                          RAY if executor == "ray" else None, until="decontaminate")
        entry = result.plan.steps[-1].entry
        (tmp_path / f"{executor}.rejects").write_bytes(entry.rejects_path.read_bytes())
        (tmp_path / f"{executor}.ledger").write_text(json.dumps(result.ledger.to_dict()))
    report = (tmp_path / "ray.md").read_text(encoding="utf-8")
    assert report == (tmp_path / "local.md").read_text(encoding="utf-8")
    assert "| **any field** | **3** |" in report  # every planted copy, whichever executor matched it
    assert (tmp_path / "ray.rejects").read_bytes() == (tmp_path / "local.rejects").read_bytes()
    assert (tmp_path / "ray.ledger").read_text() == (tmp_path / "local.ledger").read_text()
