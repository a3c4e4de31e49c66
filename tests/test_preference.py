"""Preference records: the public shapes read, pairs built from review decisions and judged candidates, the
mixture split by prompt, and the export loaded by `datasets` in TRL's columns."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from curation.context import RunContext
from curation.io.reader import read_records
from curation.io.writers import open_writer
from curation.ledger import Ledger
from curation.pipeline import run_steps
from curation.preference import prompt_key
from curation.recipe import load_recipe
from curation.recipe.model import Stage
from curation.record import CanonicalRecord, from_table, make_record, to_table
from curation.rejects import RejectWriter, read_rejects
from curation.review import QueuePolicy, ReviewStore
from curation.review.store import content_hash
from curation.run import run_recipe
from curation.steps import get_step

from .conftest import write_jsonl

EN_Q = "What is the first-line drug for type 2 diabetes in adults?"
EN_GOOD = "Metformin, started at 500 mg daily with food, unless the eGFR is below 30 mL/min."
EN_BAD = "Insulin injections are always the first treatment for every adult with diabetes."
ES_Q = "¿Qué cifra de presión arterial se considera hipertensión?"
ES_GOOD = "Una presión arterial de 140/90 mmHg o más en mediciones repetidas en consulta."
ES_BAD = "Cualquier presión superior a 110/70 mmHg es hipertensión y requiere fármacos."
ZH_Q = "缺铁性贫血的常见症状有哪些？"
ZH_GOOD = "常见症状有乏力、面色苍白、头晕和活动后心悸，应查血红蛋白和铁蛋白。"
ZH_BAD = "缺铁性贫血没有任何症状，也不需要治疗。"
AR_Q = "ما هي الأعراض الشائعة للربو عند الأطفال؟"
AR_GOOD = "السعال الليلي وضيق التنفس والصفير، وتزداد الأعراض مع الجهد أو نزلات البرد."
AR_BAD = "الربو عند الأطفال يسبب الحمى دائماً ويعالج بالمضادات الحيوية."
FR_Q = "Quelle est la dose habituelle de paracétamol chez l'adulte ?"
FR_GOOD = "1 g toutes les 6 heures au maximum, sans dépasser 4 g par jour."
HI_Q = "उच्च रक्तचाप के रोगी को नमक कितना लेना चाहिए?"
HI_GOOD = "प्रतिदिन 5 ग्राम से कम नमक लेना चाहिए और पैकेटबंद भोजन से बचना चाहिए।"


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def bot(text: str) -> dict:
    return {"role": "assistant", "content": text}


def read_with_rejects(path: Path, tmp_path: Path) -> tuple[list[dict], list[dict]]:
    rejects = tmp_path / f"{path.stem}.rejects.jsonl"
    with RejectWriter(rejects) as rw:
        records = read_records(str(path), rejects=rw)
    return records, read_rejects(rejects)


# --- readers ------------------------------------------------------------------------------------------------


def test_every_public_preference_shape_reads_to_the_same_canonical_pair(tmp_path):
    rows = {
        "trl_standard": {"prompt": EN_Q, "chosen": EN_GOOD, "rejected": EN_BAD},
        "trl_conversational": {"prompt": [user(ES_Q)], "chosen": [bot(ES_GOOD)], "rejected": [bot(ES_BAD)]},
        "ultrafeedback": {"prompt": ZH_Q, "prompt_id": "zh-1", "chosen": [user(ZH_Q), bot(ZH_GOOD)],
                          "rejected": [user(ZH_Q), bot(ZH_BAD)], "messages": [user(ZH_Q), bot(ZH_GOOD)],
                          "score_chosen": 9.0, "score_rejected": 3.0},
        "hh_strings": {"chosen": f"\n\nHuman: {AR_Q}\n\nAssistant: {AR_GOOD}",
                       "rejected": f"\n\nHuman: {AR_Q}\n\nAssistant: {AR_BAD}"},
        "hh_messages": {"chosen": [user(FR_Q), bot("Bonjour."), user("Et chez l'enfant ?"), bot("15 mg/kg.")],
                        "rejected": [user(FR_Q), bot("Bonjour."), user("Et chez l'enfant ?"), bot("1 g.")]},
    }
    expected = {
        "trl_standard": ([user(EN_Q)], EN_GOOD, EN_BAD),
        "trl_conversational": ([user(ES_Q)], ES_GOOD, ES_BAD),
        "ultrafeedback": ([user(ZH_Q)], ZH_GOOD, ZH_BAD),
        "hh_strings": ([user(AR_Q)], AR_GOOD, AR_BAD),
        "hh_messages": ([user(FR_Q), bot("Bonjour."), user("Et chez l'enfant ?")], "15 mg/kg.", "1 g."),
    }
    for name, row in rows.items():
        records, rejects = read_with_rejects(write_jsonl(tmp_path / f"{name}.jsonl", [row]), tmp_path)
        assert not rejects, (name, rejects)
        (rec,) = records
        prompt, chosen, rejected = expected[name]
        assert rec["task"] == "preference" and rec["messages"] == prompt, name
        pref = rec["preference"]
        assert (pref["chosen"], pref["rejected"], pref["origin"], pref["margin"]) == (chosen, rejected, "dataset", None)
        assert rec["meta"]["prompt_key"] == prompt_key(prompt)
        CanonicalRecord.model_validate(rec)
    uf = read_records(str(tmp_path / "ultrafeedback.jsonl"))[0]
    assert uf["meta"]["extra"]["score_chosen"] == 9.0  # nothing the adapter does not use is lost


def test_unpaired_rows_read_as_kto_records_and_round_trip_through_arrow_and_our_own_output(tmp_path):
    rows = [{"prompt": HI_Q, "completion": HI_GOOD, "label": True, "lang": "hi"},
            {"prompt": [user(AR_Q)], "completion": [bot(AR_BAD)], "label": False},
            {"prompt": ES_Q, "completion": ES_BAD, "label": "false"}]  # a CSV cell cannot hold a bool
    records, rejects = read_with_rejects(write_jsonl(tmp_path / "kto.jsonl", rows), tmp_path)
    assert not rejects
    assert [(r["preference"]["completion"], r["preference"]["label"]) for r in records] == [
        (HI_GOOD, True), (AR_BAD, False), (ES_BAD, False)]
    assert records[0]["lang"] == "hi"
    assert from_table(to_table(records)) == records
    out = tmp_path / "canonical.jsonl"
    writer = open_writer(out)
    writer.write(to_table(records))
    writer.close()
    again = read_records(str(out))
    assert [r["id"] for r in again] == [r["id"] for r in records]
    assert [r["preference"] for r in again] == [r["preference"] for r in records]


def test_the_id_covers_the_replies_and_the_label():
    prompt = [user(EN_Q)]
    pair = make_record("s", "preference", messages=prompt, preference={"chosen": EN_GOOD, "rejected": EN_BAD,
                                                                         "origin": "dataset"})
    swapped = make_record("s", "preference", messages=prompt, preference={"chosen": EN_BAD, "rejected": EN_GOOD,
                                                                            "origin": "dataset"})
    good = make_record("s", "preference", messages=prompt, preference={"completion": EN_GOOD, "label": True,
                                                                         "origin": "dataset"})
    bad = make_record("s", "preference", messages=prompt, preference={"completion": EN_GOOD, "label": False,
                                                                        "origin": "dataset"})
    assert len({pair["id"], swapped["id"], good["id"], bad["id"]}) == 4


def test_bad_preference_rows_are_rejected_naming_file_line_and_field(tmp_path):
    rows = [{"prompt": EN_Q, "chosen": EN_GOOD, "rejected": EN_BAD},
            {"prompt": ES_Q, "chosen": "   ", "rejected": ES_BAD},
            {"prompt": ZH_Q, "chosen": ZH_GOOD, "rejected": f"  {ZH_GOOD}\n"},
            {"prompt": [bot(EN_GOOD)], "chosen": EN_GOOD, "rejected": EN_BAD},
            {"chosen": [user(ES_Q), bot(ES_GOOD)], "rejected": [user(ZH_Q), bot(ZH_BAD)]}]
    path = write_jsonl(tmp_path / "bad_pairs.jsonl", rows)
    records, rejects = read_with_rejects(path, tmp_path)
    assert len(records) == 1
    got = {(r["locator"], r["field"]): r["reason"] for r in rejects}
    assert got == {("line 2", "chosen"): "empty",
                   ("line 3", "rejected"): "same reply as chosen (after whitespace normalisation)",
                   ("line 4", "prompt"): "must end with a user turn (ends with assistant)",
                   ("line 5", "chosen"): "chosen and rejected share no prompt ending with a user turn"}
    assert all(r["source_file"] == str(path) for r in rejects)
    kto = write_jsonl(tmp_path / "bad_kto.jsonl", [{"prompt": AR_Q, "completion": AR_GOOD, "label": True},
                                                   {"prompt": AR_Q, "completion": AR_BAD, "label": 1},
                                                   {"prompt": ES_Q, "completion": "", "label": False}])
    records, rejects = read_with_rejects(kto, tmp_path)
    assert len(records) == 1
    assert {(r["locator"], r["field"]): r["reason"] for r in rejects} == {
        ("line 2", "label"): "expected true or false, got int (1)", ("line 3", "completion"): "empty"}


def test_a_preference_record_needs_its_replies_and_a_prompt_ending_with_the_user():
    base = {"id": "x", "source": "s", "task": "preference", "messages": [user(EN_Q)]}
    CanonicalRecord.model_validate({**base, "preference": {"chosen": EN_GOOD, "rejected": EN_BAD, "origin": "judge"}})
    for bad in ({**base},
                {**base, "preference": {"chosen": EN_GOOD, "rejected": EN_GOOD + " ", "origin": "judge"}},
                {**base, "preference": {"chosen": EN_GOOD, "completion": EN_BAD, "label": True, "origin": "judge"}},
                {**base, "messages": [user(EN_Q), bot(EN_GOOD)],
                 "preference": {"completion": EN_GOOD, "label": True, "origin": "dataset"}},
                {**base, "task": "instruction", "preference": {"completion": EN_GOOD, "label": True,
                                                               "origin": "dataset"}}):
        with pytest.raises(ValueError):
            CanonicalRecord.model_validate(bad)


# --- pairs from review decisions ---------------------------------------------------------------------------


def qa_record(source: str, lang: str, q: str, a: str, **meta) -> dict:
    return make_record(source, "instruction", messages=[user(q), bot(a)], lang=lang, meta=dict(meta))


def run_pairs(records: list[dict], options: dict, tmp_path: Path, work_dir: Path | None = None):
    step = get_step("pairs").from_dict(options)
    step.setup(RunContext(state_dir=work_dir))
    ledger = Ledger()
    with RejectWriter(tmp_path / "pairs.rejects.jsonl") as rw:
        kept = run_steps(records, [step], rejects=rw, ledger=ledger)
    ledger.check()
    return kept, read_rejects(tmp_path / "pairs.rejects.jsonl"), ledger


def queue(tmp_path: Path, records: list[dict]) -> ReviewStore:
    store = ReviewStore(tmp_path / "review.sqlite")
    policy = QueuePolicy(select="all", size=None)
    store.create("clinic", records, list(range(len(records))), policy, "test")
    return store


def decide(store: ReviewStore, rec: dict, decision: str, **kw) -> None:
    store.decide("clinic", rec["id"], kw.pop("reviewer", "ana"), decision, seen_hash=content_hash(rec), **kw)


def test_review_decisions_give_edit_pairs_accept_reject_pairs_and_kto_labels(tmp_path):
    en = qa_record("qa", "en", EN_Q, EN_BAD)
    es_a, es_r = qa_record("qa", "es", ES_Q, ES_GOOD), qa_record("qa-web", "es", ES_Q, ES_BAD)
    zh = qa_record("qa", "zh", ZH_Q, ZH_GOOD)
    ar = qa_record("qa", "ar", AR_Q, AR_BAD)
    records = [en, es_a, es_r, zh, ar]
    store = queue(tmp_path, records)
    decide(store, en, "edit", edited={"messages": [user(EN_Q), bot(EN_GOOD)]})
    decide(store, es_a, "accept")
    decide(store, es_r, "reject", reason="medically incorrect")
    decide(store, zh, "edit", edited={"messages": [user(ZH_Q), bot(ZH_GOOD.replace("，", ", ") + " ")]})
    decide(store, ar, "reject", reason="unsafe advice")

    kept, rejects, ledger = run_pairs(records, {"queue": "clinic", "unpaired": True}, tmp_path, tmp_path)
    assert [r["id"] for r in kept[: len(records)]] == [r["id"] for r in records]  # inputs pass through
    prefs = kept[len(records):]
    by = {(p["preference"]["origin"], p["lang"], p["preference"]["label"]): p for p in prefs}
    edit = by[("review-edit", "en", None)]
    assert (edit["preference"]["chosen"], edit["preference"]["rejected"]) == (EN_GOOD, EN_BAD)
    assert edit["parent_id"] == en["id"] and edit["preference"]["derived_from"] == [en["id"]]
    pair = by[("review-decision", "es", None)]
    assert (pair["preference"]["chosen"], pair["preference"]["rejected"]) == (ES_GOOD, ES_BAD)
    assert pair["preference"]["derived_from"] == [es_a["id"], es_r["id"]] and pair["preference"]["margin"] is None
    assert by[("review-decision", "es", True)]["preference"]["completion"] == ES_GOOD
    assert by[("review-decision", "es", False)]["preference"]["completion"] == ES_BAD
    assert by[("review-decision", "ar", False)]["preference"]["completion"] == AR_BAD
    assert len(prefs) == 5 and not any(p["lang"] == "zh" for p in prefs)
    assert [(r["reason"], r["record"]["lang"]) for r in rejects] == [
        ("pairs: edit changes only whitespace or punctuation", "zh")]
    assert ledger.entry("pairs").added == 6
    for p in prefs:
        CanonicalRecord.model_validate(p)


def test_pairs_after_the_review_step_hang_from_the_edit_and_the_surviving_reply(tmp_path):
    """After `review`, the edited original and the rejected reply are gone: the pairs still name an input."""
    en = qa_record("qa", "en", EN_Q, EN_BAD)
    es_a, es_r = qa_record("qa", "es", ES_Q, ES_GOOD), qa_record("qa", "es", ES_Q, ES_BAD)
    store = queue(tmp_path, [en, es_a, es_r])
    decide(store, en, "edit", edited={"messages": [user(EN_Q), bot(EN_GOOD)]})
    decide(store, es_a, "accept")
    decide(store, es_r, "reject", reason="medically incorrect")
    review = get_step("review").from_dict({"queue": "clinic"})
    review.setup(RunContext(state_dir=tmp_path))
    pairs = get_step("pairs").from_dict({"queue": "clinic"})
    pairs.setup(RunContext(state_dir=tmp_path))
    ledger = Ledger()
    with RejectWriter(tmp_path / "r.jsonl") as rw:
        kept = run_steps([en, es_a, es_r], [review, pairs], rejects=rw, ledger=ledger)
    ledger.check()
    prefs = {p["preference"]["origin"]: p for p in kept if p["task"] == "preference"}
    edited = next(r for r in kept if r.get("origin") == "review-edit" and r["task"] != "preference")
    assert prefs["review-edit"]["parent_id"] == edited["id"]
    assert prefs["review-edit"]["preference"]["derived_from"] == [en["id"], edited["id"]]
    assert prefs["review-decision"]["parent_id"] == es_a["id"]


def test_a_reviewers_decision_overrides_the_judges_pair_on_the_same_prompt(tmp_path):
    cands = [{"text": EN_BAD, "score": 4.75}, {"text": EN_GOOD, "score": 2.0}]  # the judge got it backwards
    en = qa_record("qa", "en", EN_Q, EN_BAD, candidates=cands)
    es = qa_record("qa", "es", ES_Q, ES_GOOD, candidates=[{"text": ES_GOOD, "score": 4.5},
                                                           {"text": ES_BAD, "score": 1.5}])
    store = queue(tmp_path, [en])
    decide(store, en, "edit", edited={"messages": [user(EN_Q), bot(EN_GOOD)]})
    kept, rejects, _ = run_pairs([en, es], {"queue": "clinic"}, tmp_path, tmp_path)
    prefs = [r for r in kept if r["task"] == "preference"]
    assert {(p["lang"], p["preference"]["origin"], p["preference"]["chosen"]) for p in prefs} == {
        ("en", "review-edit", EN_GOOD), ("es", "judge", ES_GOOD)}
    assert [(r["reason"], r["record"]["preference"]["chosen"]) for r in rejects] == [
        ("pairs: a reviewer decided on this prompt", EN_BAD)]


def test_pairs_needs_its_review_store():
    step = get_step("pairs").from_dict({"queue": "clinic", "db": "/nonexistent/review.sqlite"})
    step.setup(RunContext(base_dir=Path("/")))
    with pytest.raises(Exception, match="no review store"):
        step.apply([qa_record("qa", "en", EN_Q, EN_GOOD)])


# --- pairs from judged candidates --------------------------------------------------------------------------


def judged(lang: str, q: str, *scored: tuple[str, float | None]) -> dict:
    return qa_record("synthetic", lang, q, scored[0][0], candidates=[{"text": t, "score": s} for t, s in scored])


CANDIDATES = [
    judged("en", EN_Q, (EN_BAD, 2.0), (EN_GOOD, 4.5), ("Metformin.", 3.75)),  # best 4.5, worst 2.0
    judged("es", ES_Q, (ES_GOOD, 4.0), (ES_BAD, 4.0)),  # a tie
    judged("zh", ZH_Q, (ZH_GOOD, 4.0), (ZH_BAD, 3.5)),  # under the margin
    judged("ar", AR_Q, (AR_GOOD, 5.0), (AR_GOOD + "  ", 1.0)),  # the same reply, scored apart
    judged("fr", FR_Q, (FR_GOOD, 4.25), ("Autant que nécessaire.", None)),  # one scored: nothing to pair
    judged("hi", HI_Q, (HI_GOOD, 4.5), ("नमक की कोई सीमा नहीं है।", 1.25)),
]


def test_candidate_pairs_drop_ties_small_gaps_and_identical_replies_deterministically(tmp_path):
    kept, rejects, _ = run_pairs([dict(r, meta=json.loads(json.dumps(r["meta"]))) for r in CANDIDATES],
                                 {}, tmp_path)
    prefs = [r for r in kept if r["task"] == "preference"]
    assert [(p["lang"], p["preference"]["chosen"], p["preference"]["rejected"], p["preference"]["margin"])
            for p in prefs] == [("en", EN_GOOD, EN_BAD, 2.5), ("hi", HI_GOOD, "नमक की कोई सीमा नहीं है।", 3.25)]
    assert all(p["preference"]["origin"] == "judge" and p["parent_id"] == p["preference"]["derived_from"][0]
               for p in prefs)
    assert sorted((r["record"]["lang"], r["reason"]) for r in rejects) == [
        ("ar", "pairs: chosen and rejected are the same reply"), ("es", "pairs: tie"),
        ("zh", "pairs: score gap under margin")]
    again, rejects_again, _ = run_pairs([dict(r, meta=json.loads(json.dumps(r["meta"]))) for r in CANDIDATES],
                                        {}, tmp_path)
    assert [r["id"] for r in again] == [r["id"] for r in kept]
    assert [r["id"] for r in rejects_again] == [r["id"] for r in rejects]


def test_each_mode_and_the_margin_option(tmp_path):
    kept, rejects, _ = run_pairs([CANDIDATES[0], CANDIDATES[2]], {"rejected": "each", "margin": 0.5}, tmp_path)
    prefs = [(p["lang"], p["preference"]["rejected"], p["preference"]["margin"]) for p in kept
             if p["task"] == "preference"]
    assert prefs == [("en", "Metformin.", 0.75), ("en", EN_BAD, 2.5), ("zh", ZH_BAD, 0.5)]
    assert not rejects


# --- mixture and export --------------------------------------------------------------------------------------


def test_a_stage_takes_preference_records_or_others_never_both():
    with pytest.raises(ValueError, match="not both"):
        Stage(tasks=["preference", "instruction"])
    with pytest.raises(ValueError, match="only preference records"):
        Stage(preference="paired", tasks=["mcq"])
    assert Stage(tasks=["preference"]).kind() == "paired" and Stage(preference="unpaired").kind() == "unpaired"
    assert Stage(tags=["qa"]).kind() is None


def preference_rows() -> list[dict]:
    """Several pairs per prompt, in four languages, some from a judge with margins."""
    prompts = [(EN_Q, EN_GOOD, EN_BAD, "en"), (ES_Q, ES_GOOD, ES_BAD, "es"), (ZH_Q, ZH_GOOD, ZH_BAD, "zh"),
               (AR_Q, AR_GOOD, AR_BAD, "ar")]
    rows = []
    for i in range(5):
        for q, good, bad, lang in prompts:
            variant = f"{q} ({i + 1})" if lang in ("en", "es") else f"{q}（{i + 1}）"
            for k in range(3):
                rows.append({"prompt": variant, "chosen": good, "rejected": f"{bad} [{k}]", "lang": lang})
    return rows


def test_export_has_trl_columns_and_no_prompt_in_both_splits(tmp_path):
    import datasets

    data = tmp_path / "recipe" / "data"
    data.mkdir(parents=True)
    write_jsonl(data / "pairs.jsonl", preference_rows())
    write_jsonl(data / "qa.jsonl", [{"messages": [user(EN_Q), bot(EN_GOOD)]}, {"messages": [user(ES_Q),
                                                                                             bot(ES_GOOD)]}])
    recipe = {"name": "align", "seed": 3, "sources": [{"path": "data/pairs.jsonl", "tags": ["prefs"]},
                                                     {"path": "data/qa.jsonl", "tags": ["qa"]}],
              "mixture": {"sft": {"validation": 0.0},
                          "align": {"tags": ["prefs"], "preference": "paired", "validation": 0.3},
                          "kto": {"tasks": ["preference"], "preference": "unpaired", "validation": 0.3}},
              "export": {"charts": False, "formats": ["openai"]}}
    path = tmp_path / "recipe" / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True), encoding="utf-8")
    loaded = load_recipe(path)
    run_recipe(loaded)
    out = loaded.output

    sft = datasets.load_dataset(str(out), "sft")
    assert sft["train"].num_rows == 2  # the SFT stage never takes preference records
    align = datasets.load_dataset(str(out), "align")
    for split in ("train", "validation"):
        features = align[split].features
        assert list(features) == ["prompt", "chosen", "rejected", "id", "lang", "origin", "margin"]
        row = align[split][0]
        assert row["prompt"][-1]["role"] == "user" and [m["role"] for m in row["chosen"]] == ["assistant"]
        assert [m["role"] for m in row["rejected"]] == ["assistant"] and row["origin"] == "dataset"
    texts = {split: {json.dumps(r["prompt"], ensure_ascii=False) for r in align[split]}
             for split in ("train", "validation")}
    assert texts["validation"] and not texts["train"] & texts["validation"]
    assert align["train"].num_rows + align["validation"].num_rows == 60
    assert align["validation"].num_rows % 3 == 0  # whole prompts, each with its three pairs

    kto = datasets.load_dataset(str(out), "kto")
    assert list(kto["train"].features) == ["prompt", "completion", "label", "id", "lang", "origin", "margin"]
    assert kto["train"].num_rows + kto["validation"].num_rows == 120  # each pair unpaired in two rows
    assert set(kto["train"]["label"]) == {True, False}
    kto_texts = {split: {json.dumps(r["prompt"], ensure_ascii=False) for r in kto[split]}
                 for split in ("train", "validation")}
    assert not kto_texts["train"] & kto_texts["validation"]

    card = (out / "README.md").read_text(encoding="utf-8")
    assert "### Preferences (paired)" in card and "| dataset | 42 |" in card.replace(",", "")
    assert not (out / "jsonl" / "align").exists() and (out / "jsonl" / "sft").exists()
    assert pq.read_schema(next((out / "data" / "align").glob("train-*.parquet"))).names[:3] == [
        "prompt", "chosen", "rejected"]


def test_a_paired_stage_refuses_unpaired_records(tmp_path):
    data = tmp_path / "r" / "data"
    data.mkdir(parents=True)
    write_jsonl(data / "kto.jsonl", [{"prompt": EN_Q, "completion": EN_GOOD, "label": True},
                                     {"prompt": ES_Q, "completion": ES_BAD, "label": False}])
    path = tmp_path / "r" / "recipe.yaml"
    path.write_text(yaml.safe_dump({"name": "k", "sources": [{"path": "data/kto.jsonl"}],
                                    "mixture": {"align": {"preference": "paired"}}, "export": {"charts": False}}))
    with pytest.raises(Exception, match="set `preference: unpaired`"):
        run_recipe(load_recipe(path))


# --- candidates on the embedded model -----------------------------------------------------------------------

PAIR_REASONS = {"pairs: tie", "pairs: score gap under margin", "pairs: chosen and rejected are the same reply"}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_candidates_on_the_embedded_model_feed_the_pairs_step_and_rerun_from_the_cache(tmp_path):
    """SmolLM2-135M samples two replies per prompt and judges them; a 135M judge is often wrong or invalid,
    so this asserts the bookkeeping: seeded, scored or marked unscored, cached, and every pair made or dropped
    with a reason."""
    from curation.llm.config import Endpoint

    prompts = [qa_record("qa", "en", EN_Q, EN_GOOD), qa_record("qa", "es", ES_Q, ES_GOOD),
               qa_record("qa", "zh", ZH_Q, ZH_GOOD), qa_record("qa", "ar", AR_Q, AR_GOOD)]
    options = {"n": 2, "seed": 11, "max_tokens": 32, "judge_max_tokens": 48, "repairs": 0}

    def run(records):
        cand, pairs = get_step("candidates").from_dict(options), get_step("pairs").from_dict({"margin": 0.5})
        cand.setup(RunContext(endpoints={"local": Endpoint(batch_size=8)}, llm_cache=tmp_path / "llm.sqlite"))
        ledger = Ledger()
        with RejectWriter(tmp_path / "c.rejects.jsonl") as rw:
            kept = run_steps(records, [cand, pairs], rejects=rw, ledger=ledger)
        ledger.check()
        return kept, read_rejects(tmp_path / "c.rejects.jsonl"), cand.summary()

    kept, rejects, summary = run([dict(r, meta={}) for r in prompts])
    inputs = kept[: len(prompts)]
    assert [r["id"] for r in inputs] == [r["id"] for r in prompts]
    for rec in inputs:
        cands = rec["meta"]["candidates"]
        assert [c["seed"] for c in cands] == [11, 12]
        for c in cands:
            assert (c["score"] is None and c["error"]) or 1 <= c["score"] <= 5
    assert summary["llm"]["requests"] > 0 and summary["records"]["sent"] == len(prompts)
    # graded from the score tokens' probabilities: the 135M model gives valid grades where its JSON is invalid
    assert summary["records"]["graded by logprob"] == sum(c["text"] is not None for r in inputs
                                                          for c in r["meta"]["candidates"])
    assert summary["records"].get("scored candidates", 0) >= len(prompts)
    assert {r["reason"] for r in rejects} <= PAIR_REASONS
    made = [r for r in kept if r["task"] == "preference"]
    for p in made:
        assert p["preference"]["origin"] == "judge" and p["preference"]["margin"] >= 0.5
        assert p["parent_id"] in {r["id"] for r in prompts}
    again, rejects_again, summary_again = run([dict(r, meta={}) for r in prompts])
    assert [r["id"] for r in again] == [r["id"] for r in kept]
    assert summary_again["llm"]["cache_hits"] == summary["llm"]["requests"]
