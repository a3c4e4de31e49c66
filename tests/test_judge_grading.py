"""Probability-weighted (G-Eval) grading: the embedded model and a llama.cpp server grade from the
probabilities of the score tokens, and a grade without enough mass on them rejects its record with the reason."""

from __future__ import annotations

import math

import pytest

from curation.llm.config import Endpoint
from curation.llm.grading import expected_score
from curation.record import make_record

from .conftest import qa
from .llm_server import MODEL
from .test_llm import run_step

pytestmark = pytest.mark.timeout(900)

ROWS = [
    (qa("What is the usual starting dose of metformin for type 2 diabetes?",
        "Metformin is usually started at 500 mg once daily with food, increased slowly."), "en"),
    (qa("¿Qué es la hipertensión arterial?", "Es una presión arterial sostenida de 140/90 mmHg o más."), "es"),
    (qa("什么是贫血？", "贫血是指血液中血红蛋白低于正常水平，常见原因是缺铁。"), "zh"),
    (qa("ما هي أعراض الربو؟", "ضيق التنفس والسعال والصفير، وتزداد الأعراض ليلاً أو مع الجهد."), "ar"),
]


def records() -> list[dict]:
    return [make_record("qa", "instruction", messages=r["messages"], lang=lang) for r, lang in ROWS]


def test_expected_score_renormalises_the_mass_on_the_score_tokens():
    score, mass = expected_score({"4": math.log(0.3), " 4": math.log(0.1), "2": math.log(0.2), "yes": math.log(0.4)})
    assert mass == pytest.approx(0.6)
    assert score == pytest.approx((4 * 0.4 + 2 * 0.2) / 0.6)
    assert expected_score({"no": 0.0}) == (None, 0.0)
    assert expected_score(None) == (None, 0.0)


def check_logprob_grades(kept: list[dict], rejects: list[dict], total: int, min_mass: float) -> None:
    assert len(kept) + len(rejects) == total
    for rec in kept:
        j = rec["meta"]["judge"]
        assert j["grading"] == "logprob"
        assert all(1.0 <= j[k] <= 5.0 for k in ("accuracy", "helpfulness", "safety", "language"))
        assert all(m >= min_mass for m in j["mass"].values())
    for r in rejects:
        assert r["reason"] == "judge reply invalid"
        assert "probability on the score tokens" in r["detail"]["why"] and r["detail"]["mass"]


def test_embedded_model_grades_by_probability_in_four_languages(tmp_path):
    recs = records()
    kept, rejects, step, _ = run_step("judge", recs, {"min_overall": None, "min_scores": {}}, Endpoint(),
                                      tmp_path / "c.sqlite", tmp_path / "r.jsonl")
    check_logprob_grades(kept, rejects, len(recs), 0.5)
    assert len(kept) >= 3, rejects  # SmolLM2 puts ~0.7-0.8 of its mass on "1".."5" after the score prompt
    assert step.summary()["records"]["graded by logprob"] == len(recs)


def test_a_minimum_mass_above_what_the_model_gives_rejects_every_grade_with_it(tmp_path):
    recs = records()[:2]
    kept, rejects, _, _ = run_step("judge", recs, {"min_overall": None, "min_scores": {}, "min_mass": 0.999},
                                   Endpoint(), tmp_path / "c.sqlite", tmp_path / "r.jsonl")
    assert kept == []
    check_logprob_grades(kept, rejects, len(recs), 0.999)


def test_json_grading_is_still_chosen_by_name(tmp_path):
    recs = records()[:1]
    kept, rejects, step, _ = run_step("judge", recs, {"grading": "json", "max_tokens": 40, "repairs": 0},
                                      Endpoint(), tmp_path / "c.sqlite", tmp_path / "r.jsonl")
    assert len(kept) + len(rejects) == 1
    assert step.summary()["records"]["graded by json"] == 1


def test_llama_server_top_logprobs_grade_like_the_embedded_model(server, tmp_path):
    recs = records()
    ep = Endpoint(base_url=server.base_url, model=MODEL, concurrency=4, timeout=60, backoff=0.05)
    # the server's chat endpoint starts a fresh assistant turn rather than continuing the "Score: " prefill, so
    # less of the first token's mass falls on the digits than on the embedded model: a lower minimum here
    options = {"grading": "logprob", "min_overall": None, "min_scores": {}, "min_mass": 0.02}
    kept, rejects, step, _ = run_step("judge", recs, options, ep, tmp_path / "c.sqlite", tmp_path / "r.jsonl")
    check_logprob_grades(kept, rejects, len(recs), 0.02)
    assert kept, rejects
    assert step.summary()["llm"]["requests"] == 4 * len(recs)  # one request per criterion and record
