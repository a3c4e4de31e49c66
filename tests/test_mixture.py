"""Mixture arithmetic: weights, upsampling caps, temperature over languages, epochs, replay, splits."""

from __future__ import annotations

from collections import Counter

import pytest

from curation.mixture import largest_remainder, mix_all, selected_rows
from curation.recipe.model import Stage

QUESTIONS = {
    "en": "What is the first-line treatment for uncomplicated hypertension in adults?",
    "es": "¿Cuál es el tratamiento de primera línea de la hipertensión no complicada?",
    "zh": "成人单纯性高血压的一线治疗是什么？",
    "ar": "ما هو العلاج الأولي لارتفاع ضغط الدم غير المعقد عند البالغين؟",
}


def records(source: str, lang: str, n: int, task: str = "instruction", **meta) -> list[dict]:
    return [{"id": f"{source}-{lang}-{i}", "source": source, "lang": lang, "task": task,
             "messages": [{"role": "user", "content": f"{QUESTIONS[lang]} #{i}"},
                          {"role": "assistant", "content": "ACE inhibitor or thiazide."}], "meta": dict(meta)}
            for i in range(n)]


def mix_stages(stages: dict[str, Stage], recs: list[dict], seed: int = 1, tags_of: dict | None = None):
    """Planned as an executor plans: from which cell each record falls in, by row number."""
    return mix_all(stages, selected_rows(stages, recs, tags_of or {}), seed=seed)


def mix(stage: dict, recs: list[dict], seed: int = 1, tags_of: dict | None = None):
    return mix_stages({"s": Stage(**stage)}, recs, seed, tags_of)["s"]


def taken(m) -> dict[tuple[str, str], int]:
    return {(c.source, c.lang): c.taken for c in m.cells}


def test_largest_remainder_sums_exactly():
    out = largest_remainder({("a", "en"): 1, ("b", "en"): 1, ("c", "en"): 1}, 100)
    assert sum(out.values()) == 100 and sorted(out.values()) == [33, 33, 34]


def test_weights_share_the_target_size_within_a_language():
    recs = records("a", "en", 100) + records("b", "en", 100)
    m = mix({"size": 400, "weights": {"a": 3}, "max_upsample": 5}, recs)
    assert taken(m) == {("a", "en"): 300, ("b", "en"): 100}
    assert len(m.train) == 400 and m.shortfall == 0
    counts = Counter(recs[i]["id"] for i in m.train if recs[i]["source"] == "a")
    assert set(counts.values()) == {3}  # whole passes, not a skewed sample


def test_upsampling_cap_moves_the_rest_to_other_cells_then_reports_a_shortfall():
    recs = records("small", "en", 100) + records("big", "en", 1000)
    m = mix({"size": 600, "weights": {"small": 5}}, recs)  # small would get 200 but may give only 100
    assert taken(m) == {("small", "en"): 100, ("big", "en"): 500}
    assert [c.capped for c in m.cells] == [False, True]  # cells sorted by (source, lang): big, small
    m = mix({"size": 1000, "max_upsample": 2}, records("a", "en", 100) + records("b", "es", 100))
    assert taken(m) == {("a", "en"): 200, ("b", "es"): 200} and m.shortfall == 600


@pytest.mark.parametrize("temperature,expected_es", [(1.0, 40), (2.0, 100), (1000.0, 200)])
def test_temperature_balances_languages(temperature, expected_es):
    recs = records("en_qa", "en", 900) + records("es_qa", "es", 100)
    m = mix({"size": 400, "temperature": temperature, "max_upsample": 4}, recs)
    got = taken(m)
    assert got[("es_qa", "es")] == pytest.approx(expected_es, abs=1)
    assert sum(got.values()) == 400


def test_temperature_over_four_languages_including_arabic_and_chinese():
    recs = (records("en", "en", 800) + records("es", "es", 200) + records("zh", "zh", 50) + records("ar", "ar", 50))
    flat = mix({"size": 1100, "temperature": 1.0}, recs)
    balanced = mix({"size": 1100, "temperature": 3.0, "max_upsample": 4}, recs)
    share = lambda m, lang: sum(c.taken for c in m.cells if c.lang == lang) / len(m.train)  # noqa: E731
    assert share(flat, "ar") == pytest.approx(50 / 1100, abs=0.002)
    assert share(balanced, "ar") > 2 * share(flat, "ar") and share(balanced, "en") < share(flat, "en")


def test_epochs_fix_a_source_count_and_respect_the_cap():
    recs = records("dialogues", "en", 30, "dialogue") + records("qa", "en", 100)
    m = mix({"epochs": {"dialogues": 2}, "max_upsample": 3}, recs)
    assert taken(m) == {("dialogues", "en"): 60, ("qa", "en"): 100}
    m = mix({"epochs": {"dialogues": 5}, "max_upsample": 3}, recs)
    assert taken(m)[("dialogues", "en")] == 90 and m.cells[0].capped


def test_validation_is_stratified_and_disjoint_from_training():
    recs = records("a", "en", 200) + records("a", "zh", 50) + records("b", "ar", 100)
    m = mix({"validation": 0.1, "max_upsample": 2, "size": 700}, recs)
    per_cell = Counter((recs[i]["source"], recs[i]["lang"]) for i in m.validation)
    assert per_cell == {("a", "en"): 20, ("a", "zh"): 5, ("b", "ar"): 10}
    assert len(set(m.validation.tolist())) == len(m.validation)
    assert not set(m.validation.tolist()) & set(m.train.tolist())


def test_replay_adds_the_stated_share_of_earlier_training_records():
    recs = records("general", "en", 300) + records("mcq", "es", 90, "mcq")
    tags = {"general": ["qa"], "mcq": ["exam"]}
    mixes = mix_stages({"stage1": Stage(tags=["qa"]),
                        "stage2": Stage(tags=["exam"], replay={"stage": "stage1", "fraction": 0.1})},
                       recs, seed=5, tags_of=tags)
    s2 = mixes["stage2"]
    replayed = s2.train[s2.replay]
    assert len(replayed) == s2.replayed == 10 and len(s2.train) == 100 and s2.replay_from == "stage1"
    assert set(replayed.tolist()) <= set(mixes["stage1"].train.tolist())
    assert {recs[i]["source"] for i in s2.train[~s2.replay]} == {"mcq"}
    assert not mixes["stage1"].replay.any()  # the earlier stage is untouched


def test_filters_by_task_language_and_score():
    recs = records("a", "en", 10, judge=5) + records("a", "ar", 10, judge=2) + records("b", "es", 5, "mcq", judge=5)
    for r in recs:
        r["meta"] = {"judge": {"overall": r["meta"]["judge"]}}
    m = mix({"min_scores": {"meta.judge.overall": 4}, "tasks": ["instruction"]}, recs)
    assert taken(m) == {("a", "en"): 10}
    m = mix({"langs": ["ar", "es"]}, recs)
    assert set(taken(m)) == {("a", "ar"), ("b", "es")}


def test_same_seed_same_mix_and_another_seed_another():
    recs = records("a", "en", 100) + records("b", "zh", 40)
    stage = {"size": 150, "temperature": 2.0, "max_upsample": 3, "validation": 0.1}
    one, two, other = mix(stage, recs, seed=9), mix(stage, recs, seed=9), mix(stage, recs, seed=10)
    assert one.train.tolist() == two.train.tolist() and one.validation.tolist() == two.validation.tolist()
    assert one.train.tolist() != other.train.tolist()
