"""LLM steps against a real OpenAI-compatible server (llama.cpp serving SmolLM2-135M), with and without faults.

The model is tiny, so its outputs are often wrong: these tests assert that every record ends kept or
rejected with a known reason, that the cache, the budget and the accounting hold, and that the checks
catch bad output, not that the model is good.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curation.context import RunContext
from curation.io.reader import read_records
from curation.ledger import Ledger
from curation.llm.client import LLM, BudgetExceeded, Request
from curation.llm.config import Endpoint
from curation.llm.limits import parse_duration
from curation.pipeline import run_steps
from curation.record import make_record
from curation.rejects import RejectWriter, read_rejects
from curation.steps import get_step
from curation.steps.translate import Translate, TranslateConfig

from .conftest import qa, write_jsonl
from .llm_server import MODEL, FaultProxy

pytestmark = pytest.mark.timeout(900)

EN = [
    qa("What is the usual starting dose of metformin for type 2 diabetes?",
       "Metformin is usually started at 500 mg once daily with food, increased slowly to limit stomach upset."),
    qa("How should a fever of 39 °C in an adult be managed at home?",
       "Rest, fluids and paracetamol 1 g up to four times a day; seek care if it lasts more than 3 days."),
    qa("What blood pressure counts as hypertension?",
       "A clinic blood pressure of 140/90 mmHg or higher on repeated readings is hypertension."),
    qa("Which vaccine protects against measles?",
       "The MMR vaccine, given in two doses, protects against measles, mumps and rubella."),
    qa("What are warning signs of a stroke?",
       "Sudden face drooping, arm weakness and slurred speech: call emergency services at once."),
    qa("What is the normal range of fasting glucose?",
       "A fasting plasma glucose of 3.9 to 5.5 mmol/L is normal; 7.0 mmol/L or more suggests diabetes."),
]
OTHER = [
    qa("¿Qué es la hipertensión arterial?", "Es una presión arterial sostenida de 140/90 mmHg o más."),
    qa("什么是贫血？", "贫血是指血液中血红蛋白低于正常水平，常见原因是缺铁。"),
    qa("ما هي أعراض الربو؟", "ضيق التنفس والسعال والصفير، وتزداد الأعراض ليلاً أو مع الجهد."),
]
TRANSLATE_REASONS = {"empty translation", "copy of the source", "wrong language", "length ratio out of bounds",
                     "numbers or units not preserved", "glossary term missing", "llm request failed"}


def records_of(rows: list[dict], lang: str, source: str = "qa") -> list[dict]:
    return [make_record(source, "instruction", messages=r["messages"], lang=lang) for r in rows]


def endpoint(url: str, **kw) -> Endpoint:
    return Endpoint(base_url=url, model=MODEL, **{"concurrency": 4, "timeout": 60, "backoff": 0.05, **kw})


def run_step(name: str, records: list[dict], options: dict, ep: Endpoint, cache: Path, rejects: Path):
    step = get_step(name).from_dict(options)
    step.setup(RunContext(endpoints={"local": ep}, llm_cache=cache))
    ledger = Ledger()
    with RejectWriter(rejects) as rw:
        kept = run_steps(records, [step], rejects=rw, ledger=ledger)
    ledger.check()
    return kept, read_rejects(rejects), step, ledger


# --- verification without a model: the checks themselves --------------------------------------------------


def test_translation_checks_catch_each_kind_of_bad_output():
    step = Translate(TranslateConfig(to=["es"]))
    src = "Give amoxicillin 500 mg three times daily for 7 days; check the kidney function first."
    terms = [("kidney", "riñón")]
    good = "Administre amoxicilina 500 mg tres veces al día durante 7 días; compruebe primero la función del riñón."
    assert step.check(src, good, "en", "es", terms) is None
    assert step.check(src, src, "en", "es", terms) == "copy of the source"
    assert step.check(src, "The patient should take the medicine as told by the doctor.", "en", "es", terms
                      ).startswith("wrong language (en")
    assert step.check(src, "Amoxicilina 500 mg.", "en", "es", terms).startswith("length ratio")
    lost = good.replace("500 mg", "quinientos miligramos")
    assert step.check(src, lost, "en", "es", terms).startswith("numbers or units not preserved (500")
    no_term = good.replace("riñón", "renal")
    assert step.check(src, no_term, "en", "es", terms) == "glossary term missing (riñón)"
    # Chinese is judged by weighted length (a character counts as three), so a correct one passes
    zh = "阿莫西林 500 mg，每日三次，连用 7 天；先检查肾脏功能。"
    assert step.check(src, zh, "en", "zh", [("kidney", "肾脏")]) is None


def test_duration_headers_are_parsed():
    assert parse_duration("2") == 2.0 and parse_duration("0.5") == 0.5
    assert parse_duration("20ms") == pytest.approx(0.02) and parse_duration("6m0s") == 360.0
    assert parse_duration(None) is None and parse_duration("soon") is None


# --- against the real server ------------------------------------------------------------------------------


def test_translate_on_the_server_keeps_or_rejects_every_record_with_a_reason(server, tmp_path):
    records = records_of(EN[:4], "en")
    glossary = Path(__file__).resolve().parents[1] / "recipes" / "glossary.tsv"
    kept, rejects, step, ledger = run_step(
        "translate", records, {"to": ["es", "zh"], "glossary": str(glossary), "max_tokens": 96},
        endpoint(server.base_url), tmp_path / "cache.sqlite", tmp_path / "rejects.jsonl")
    translations = [r for r in kept if r["origin"]]
    assert len(records) + len(translations) == len(kept)  # originals kept beside their translations
    assert len(translations) + len(rejects) == 8  # 4 records x 2 languages, each kept or rejected
    assert {r["reason"] for r in rejects} <= TRANSLATE_REASONS
    for r in rejects:
        assert r["step"] == "translate" and r["record"]["parent_id"] in {x["id"] for x in records}
    for t in translations:
        assert t["lang"] in ("es", "zh") and t["parent_id"] in {x["id"] for x in records}
        assert [m["role"] for m in t["messages"]] == ["user", "assistant"]
    usage = step.summary()["llm"]
    assert usage["requests"] == 16 and usage["cache_hits"] == 0 and usage["prompt_tokens"] > 0
    e = ledger.to_dict()["translate"]
    assert e["in"] == 4 and e["added"] == 8 and e["kept"] + e["rejected"] == 12

    # the same step again: everything from the cache, identical outcome, zero requests
    again, rejects2, step2, _ = run_step(
        "translate", records_of(EN[:4], "en"), {"to": ["es", "zh"], "glossary": str(glossary), "max_tokens": 96},
        endpoint(server.base_url), tmp_path / "cache.sqlite", tmp_path / "rejects2.jsonl")
    assert step2.summary()["llm"]["requests"] == 0 and step2.summary()["llm"]["cache_hits"] == 16
    assert [r["id"] for r in again] == [r["id"] for r in kept]
    assert [r["reason"] for r in rejects2] == [r["reason"] for r in rejects]


def test_mcq_translation_keeps_options_and_answer_aligned(server, tmp_path):
    mcq = {"question": "Which drug is first-line for uncomplicated type 2 diabetes?",
           "options": {"A": "Insulin", "B": "Metformin", "C": "Warfarin", "D": "Aspirin"}, "answer": "B"}
    from curation.io.formats import render_mcq

    rec = make_record("exam", "mcq", mcq=mcq, messages=render_mcq(mcq), lang="en")
    kept, rejects, _, _ = run_step("translate", [rec], {"to": ["es"], "max_tokens": 48, "check_language": False,
                                                        "min_ratio": 0.05, "max_ratio": 20},
                                   endpoint(server.base_url), tmp_path / "c.sqlite", tmp_path / "r.jsonl")
    out = [r for r in kept if r["origin"]] or [r["record"] for r in rejects]
    t = out[0]
    assert list(t["mcq"]["options"]) == ["A", "B", "C", "D"] and t["mcq"]["answer"] == "B"
    assert t["messages"][1]["content"].startswith("B. ")


def test_judge_scores_into_meta_or_rejects_with_the_reason(server, tmp_path):
    records = records_of(EN[:3], "en") + records_of(OTHER, "es")
    kept, rejects, step, _ = run_step("judge", records, {"max_tokens": 80, "repairs": 1, "grading": "json"},
                                      endpoint(server.base_url),
                                      tmp_path / "c.sqlite", tmp_path / "r.jsonl")
    assert len(kept) + len(rejects) == len(records)
    for r in kept:
        j = r["meta"]["judge"]
        assert all(1 <= j[k] <= 5 for k in ("accuracy", "helpfulness", "safety", "language"))
        assert j["overall"] >= 3.0
    assert {r["reason"] for r in rejects} <= {"judge reply invalid", "judge: low safety", "judge: low overall score"}
    for r in rejects:
        if r["reason"] == "judge reply invalid":
            assert r["detail"]["attempts"] == 2 and r["detail"]["why"]
    assert step.summary()["llm"]["requests"] >= len(records)


@pytest.mark.parametrize("mode", ["qa", "mcq", "dialogue", "self-instruct"])
def test_synthesize_outputs_are_valid_or_rejected_with_the_reason(server, tmp_path, mode):
    passages = [make_record("corpus", "text", lang="en", text=(
        "Metformin is the first-line drug for type 2 diabetes. It lowers hepatic glucose production, rarely "
        "causes hypoglycaemia, and is stopped when eGFR falls below 30 mL/min because of lactic acidosis risk.")),
        make_record("corpus", "text", lang="en", text=(
            "A 58-year-old man has crushing chest pain for 40 minutes, sweating and nausea. ECG shows ST "
            "elevation in leads II, III and aVF, consistent with an inferior myocardial infarction."))]
    records = passages if mode != "self-instruct" else records_of(EN, "en")
    options = {"mode": mode, "max_tokens": 160, "repairs": 1, "count": 3, "limit": 2}
    kept, rejects, _, ledger = run_step("synthesize", records, options, endpoint(server.base_url),
                                        tmp_path / "c.sqlite", tmp_path / "r.jsonl")
    made = [r for r in kept if r["origin"] == f"synthesize:{mode}"]
    expected = 3 if mode == "self-instruct" else 2
    assert len(made) + len(rejects) == expected and len(kept) - len(made) == len(records)
    allowed = {"synthesize reply invalid", "answer not grounded in the passage", "not novel",
               "answer letter not among the options", "explanation does not check every option",
               "turns do not alternate patient/doctor"}
    assert {r["reason"] for r in rejects} <= allowed
    for r in made:
        assert r["parent_id"] in {p["id"] for p in records}
        if mode == "mcq":
            assert r["mcq"]["answer"] in r["mcq"]["options"]
        if mode == "dialogue":
            assert r["messages"][0]["role"] == "user" and r["messages"][-1]["role"] == "assistant"


def test_faults_retried_and_no_record_lost_or_duplicated(server, tmp_path):
    proxy = FaultProxy(server.port, ["429", "ok", "500", "ok", "slow", "ok", "drop", "ok", "malformed", "ok"],
                       slow_seconds=4.0)
    try:
        records = records_of(EN, "en")
        ep = endpoint(proxy.base_url, timeout=2.0, max_retries=8, concurrency=3)
        kept, rejects, step, _ = run_step("translate", records, {"to": ["es"], "max_tokens": 48}, ep,
                                          tmp_path / "c.sqlite", tmp_path / "r.jsonl")
    finally:
        proxy.stop()
    translations = [r for r in kept if r["origin"]]
    parents = sorted([t["parent_id"] for t in translations] + [r["record"]["parent_id"] for r in rejects])
    assert parents == sorted(r["id"] for r in records)  # each record exactly once: translated or rejected
    assert {r["reason"] for r in rejects} <= TRANSLATE_REASONS
    assert {"429", "500", "slow", "drop", "malformed"} <= set(proxy.seen)
    usage = step.summary()["llm"]
    assert usage["retries"] >= 5 and usage["requests"] + usage["failed"] == 12


def test_budget_stops_cleanly_and_a_rerun_resumes_from_the_cache(server, tmp_path):
    records = records_of(EN, "en")
    cache = tmp_path / "c.sqlite"
    options = {"to": ["es"], "max_tokens": 32, "max_budget_tokens": 300}
    ep = endpoint(server.base_url, concurrency=1)
    with pytest.raises(BudgetExceeded, match="raising the budget and running again resumes"):
        run_step("translate", records, options, ep, cache, tmp_path / "r.jsonl")
    done = sqlite3.connect(cache).execute("select count(*) from replies").fetchone()[0]
    assert 0 < done < 12
    _, _, step, _ = run_step("translate", records, {**options, "max_budget_tokens": None}, ep, cache,
                             tmp_path / "r2.jsonl")
    usage = step.summary()["llm"]
    assert usage["cache_hits"] == done and usage["requests"] == 12 - done


def test_dry_run_estimates_and_sends_nothing(server, tmp_path):
    llm = LLM(endpoint(server.base_url, prices={"prompt_per_1m": 1.0, "completion_per_1m": 2.0}),
              tmp_path / "c.sqlite", dry_run=True)
    replies = llm.complete([Request([{"role": "user", "content": "Translate: fever"}], {"max_tokens": 10})] * 3)
    assert all(r.error == "dry run" for r in replies) and llm.usage.requests == 0
    assert llm.estimate.requests == 3 and llm.estimate.completion_tokens == 30 and llm.estimate.cost > 0


def test_killed_cli_run_resumes_with_at_most_records_plus_concurrency_requests(server, tmp_path):
    rows = [qa(f"Case {i}: what dose of aspirin is given in suspected myocardial infarction?",
               f"Aspirin 300 mg chewed at once, case {i}, unless there is a true allergy.") for i in range(10)]
    src = write_jsonl(tmp_path / "in.jsonl", [{**r, "lang": "en"} for r in rows])
    proxy = FaultProxy(server.port, ["ok"])
    secret = "sk-test-DO-NOT-LEAK-7f3a9c"
    env = {**os.environ, "MEDCURATE_TEST_KEY": secret}
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "curation", "translate", str(src), str(out), "--to", "es", "--base-url",
           proxy.base_url, "--model", MODEL, "--api-key-env", "MEDCURATE_TEST_KEY", "--concurrency", "2",
           "--max-tokens", "40"]
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        cache = out.with_name(out.name + ".llm-cache.sqlite")
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                if sqlite3.connect(cache).execute("select count(*) from replies").fetchone()[0] >= 6:
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        first_log = proc.communicate()[0].decode()
        assert not out.exists(), "the run finished before it could be killed"
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        proxy.stop()
    needed = 10 * 2  # two pieces (question, answer) per record
    assert proxy.answered <= needed + 2  # at most the requests in flight at the kill are asked twice
    outputs = read_records(str(out))
    rejects = read_rejects(tmp_path / "out.rejects.jsonl")
    assert len([r for r in outputs if r["origin"]]) + len(rejects) == 10
    for f in (out, tmp_path / "out.rejects.jsonl", cache):
        assert secret.encode() not in f.read_bytes()
    assert secret not in first_log + done.stdout + done.stderr
    assert "cache hits" in done.stdout


def test_recipe_step_on_the_server_reports_usage_in_the_manifest(server, tmp_path):
    import yaml

    from curation.recipe import load_recipe
    from curation.run import run_recipe

    write_jsonl(tmp_path / "en.jsonl", [{**r, "lang": "en"} for r in EN[:3]])
    recipe = {"name": "llm", "work_dir": "work", "output": "out", "sources": [{"path": "en.jsonl"}],
              "llm": {"endpoints": {"srv": {"base_url": server.base_url, "model": MODEL, "api_key_env": "SRV_KEY",
                                            "prices": {"prompt_per_1m": 0.5, "completion_per_1m": 1.5}}},
                      "default": "srv"},
              "steps": [{"step": "translate", "config": {"to": ["es"], "max_tokens": 48}}],
              "mixture": {"stage1": {}}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    os.environ["SRV_KEY"] = "sk-recipe-secret-91b2"
    try:
        result = run_recipe(load_recipe(tmp_path / "r.yaml"))
    finally:
        del os.environ["SRV_KEY"]
    llm = result.manifest["llm"]
    assert llm["requests"] == 6 and llm["prompt_tokens"] > 0 and llm["cost"] > 0
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file():
            assert b"sk-recipe-secret-91b2" not in f.read_bytes(), f
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["steps"][0]["summary"]["llm"]["requests"] == 6


def test_llm_steps_detect_a_missing_language_and_reject_what_cannot_be_decided(server, tmp_path):
    """Records that never went through langid are neither skipped nor sent with a guess."""
    rows = [EN[0], EN[1], OTHER[0], OTHER[1], OTHER[2], qa("120/80 → 140/90 ?", "≥ 7.0 · 11.1 · 6.5 %")]
    src = write_jsonl(tmp_path / "in.jsonl", rows)  # no "lang" anywhere
    out = tmp_path / "out.jsonl"
    from typer.testing import CliRunner

    from curation.cli import app

    result = CliRunner().invoke(app, ["translate", str(src), str(out), "--to", "es", "--base-url", server.base_url,
                                      "--model", MODEL, "--max-tokens", "48"])
    assert result.exit_code == 0, result.output
    assert "records: language detected 5, rejected: language unknown 1, sent 4, skipped: already in es 1" \
        in result.output
    kept = read_records(str(out))
    sources = [r for r in kept if not r["origin"]]
    assert sorted(r["lang"] for r in sources) == ["ar", "en", "en", "es", "zh"]
    assert all(r["meta"]["langid"]["by"] == "translate" for r in sources)
    rejects = read_rejects(out.with_name("out.rejects.jsonl"))
    unknown = [r for r in rejects if r["reason"] == "language unknown"]
    assert len(unknown) == 1 and unknown[0]["record"]["messages"][0]["content"].startswith("120/80")
    translated = {r["parent_id"] for r in kept if r["origin"]} | {r["record"].get("parent_id") for r in rejects}
    assert {r["id"] for r in sources if r["lang"] != "es"} <= translated  # each sent, translated or rejected

    # judge names the detected language in its prompt, so it detects it too
    records = [make_record("qa", "instruction", messages=r["messages"]) for r in (EN[2], OTHER[1])]
    kept, rejects, step, _ = run_step("judge", records, {"max_tokens": 80, "repairs": 1, "grading": "json"},
                                      endpoint(server.base_url),
                                      tmp_path / "j.sqlite", tmp_path / "j.jsonl")
    assert sorted(r["lang"] for r in kept + [x["record"] for x in rejects]) == ["en", "zh"]
    assert step.summary()["records"] == {"language detected": 2, "sent": 2, "graded by json": 2}
