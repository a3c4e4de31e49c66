"""Benchmark decontamination: every field of an item, short fields as phrases, normalisation, the report."""

import json

import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.ledger import Ledger
from curation.pipeline import build_steps, run_steps
from curation.record import make_record
from curation.rejects import RejectWriter, read_rejects
from curation.steps.decontaminate import Decontaminate, DecontaminateConfig
from tests.conftest import write_jsonl


def qa(user, assistant="Let us work through it.", lang=None):
    return make_record("train", "instruction", lang=lang, messages=[
        {"role": "user", "content": user}, {"role": "assistant", "content": assistant}])


def decontaminate(records, tmp_path, **options):
    """Kept records and rejects rows, through the runner as a recipe runs the step."""
    path = tmp_path / "rejects.jsonl"
    rw = RejectWriter(path)
    ledger = Ledger()
    kept = run_steps(records, build_steps([("decontaminate", options)]), rejects=rw, ledger=ledger)
    rw.close()
    ledger.check()
    return kept, read_rejects(path)


def by_user(rejects):
    return {r["record"]["messages"][0]["content"]: r for r in rejects}


STEMI = ("A 62-year-old woman has had crushing central chest pain for one hour, with ST elevation in leads "
         "V1 to V4. Which artery is most likely occluded?")
STEMI_OPTIONS = {"A": "Right coronary artery", "B": "Left anterior descending artery",
                 "C": "The left circumflex artery, which in a left-dominant circulation also supplies the "
                      "posterior descending branch", "D": "None of the above"}
STEMI_WHY = ("Anterior leads V1 to V4 look at the territory of the left anterior descending artery, so ST "
             "elevation there points to its occlusion.")
ES_SHORT = "¿Qué fármaco revierte la intoxicación por heparina?"  # 7 words: a phrase, not a 13-gram
ES_OPTIONS = {"A": "Vitamina K", "B": "Sulfato de protamina por vía intravenosa lenta", "C": "Idarucizumab",
              "D": "Ninguna de las anteriores"}
ZH_Q = "患者男，58岁，突发胸骨后压榨性疼痛2小时，心电图示V1至V4导联ST段抬高，最可能闭塞的血管是"
ZH_SHORT = "治疗呕吐的主穴是哪一个穴位"  # 13 characters: a phrase
AR_Q = ("مريض يبلغ من العمر خمسين عاماً يعاني من ألم شديد في الصدر منذ ساعة مع ارتفاع في مقطع ST "
        "في الاشتقاقات الأمامية، ما هو الشريان المسدود على الأرجح؟")


@pytest.fixture
def mcq_bench(tmp_path):
    return write_jsonl(tmp_path / "med_mcq.jsonl", [
        {"question": STEMI, "options": STEMI_OPTIONS, "answer": "B", "explanation": STEMI_WHY},
        {"question": ES_SHORT, "options": ES_OPTIONS, "answer": "B"},
        {"question": ZH_Q, "options": ["右冠状动脉", "左前降支", "左回旋支", "以上都不是"], "answer": 1},
        {"question": ZH_SHORT, "options": ["内关", "足三里", "中脘", "合谷"], "answer": "A"},
        {"question": AR_Q, "options": ["الشريان التاجي الأيمن", "الشريان الأمامي النازل الأيسر"], "answer": "B"},
        {"question": "Virus is cultured in:", "options": ["HeLa cells", "Blood agar", "Nutrient broth"],
         "answer": "A"},
    ])


PUBMED_CONTEXT = [
    "Delirium is common after hip fracture surgery in older adults and is associated with longer hospital "
    "stays, institutionalisation and death.",
    "We randomised 212 patients aged 70 years or older to a fascia iliaca block before surgery or to usual "
    "analgesia, and assessed delirium daily with the Confusion Assessment Method for five days.",
]
PUBMED_QUESTION = "Does a fascia iliaca block prevent postoperative delirium?"  # 8 words
PUBMED_LONG = ("A preoperative fascia iliaca block reduced the incidence of delirium in older patients with hip "
               "fracture and lowered opioid consumption, without adding complications.")


@pytest.fixture
def pubmed_bench(tmp_path):
    path = tmp_path / "pubmedqa.json"
    path.write_text(json.dumps({"31000001": {"QUESTION": PUBMED_QUESTION, "CONTEXTS": PUBMED_CONTEXT,
                                             "LONG_ANSWER": PUBMED_LONG, "final_decision": "yes"}}))
    return path


def test_each_field_of_a_multiple_choice_item_is_matched_and_named(tmp_path, mcq_bench):
    records = [
        qa("Please help me with this exam question and explain it. " + STEMI + " Thanks."),
        qa("Which coronary artery supplies the posterior descending branch?",
           "In a left-dominant heart it is the left circumflex artery, which in a left-dominant circulation also "
           "supplies the posterior descending branch of the heart."),
        qa("Why do anterior ST changes matter?", "Because " + STEMI_WHY.lower()),
        qa("What is the first-line treatment for community-acquired pneumonia in adults?",
           "Oral amoxicillin for five days in most adults without comorbidities."),
    ]
    kept, rejects = decontaminate(records, tmp_path, benchmarks=[str(mcq_bench)])
    assert [r["messages"][0]["content"] for r in kept] == [records[3]["messages"][0]["content"]]
    fields = [r["detail"]["field"] for r in rejects]
    assert fields == ["question", "option C", "explanation"]
    assert {r["reason"] for r in rejects} == {"benchmark overlap (n-gram)"}
    detail = rejects[0]["detail"]
    assert detail["benchmark"] == str(mcq_bench) and detail["item"] == "line 1"
    assert detail["text"].startswith("A 62-year-old woman has had crushing central chest pain")


def test_pubmedqa_context_passages_long_answer_and_short_question(tmp_path, pubmed_bench):
    records = [
        qa(PUBMED_CONTEXT[1] + "\n\nSummarise the design of this trial."),
        qa("A colleague wrote: " + PUBMED_LONG + " Do you agree?"),
        qa("For my journal club: does a fascia iliaca block prevent postoperative delirium? What do trials show?"),
        qa("Does a fascia iliaca block help with pain after hip fracture?"),  # the topic, not the item
    ]
    kept, rejects = decontaminate(records, tmp_path, benchmarks=[str(pubmed_bench)])
    got = {r["record"]["id"]: (r["reason"], r["detail"]["field"], r["detail"]["item"]) for r in rejects}
    assert got == {records[0]["id"]: ("benchmark overlap (n-gram)", "context", "key 31000001"),
                   records[1]["id"]: ("benchmark overlap (n-gram)", "explanation", "key 31000001"),
                   records[2]["id"]: ("benchmark overlap (phrase)", "question", "key 31000001")}
    assert [r["id"] for r in kept] == [records[3]["id"]]


def test_user_and_assistant_turns_of_a_conversation_benchmark(tmp_path):
    bench = write_jsonl(tmp_path / "chat_eval.jsonl", [{"messages": [
        {"role": "user", "content": "Mi hijo de tres años tiene fiebre de 39 grados desde ayer y no quiere comer, "
                                    "¿cuándo debo llevarlo a urgencias?"},
        {"role": "assistant", "content": "Acuda a urgencias si el niño está decaído, tiene dificultad para "
                                         "respirar, manchas en la piel que no desaparecen al presionar o no orina."}]}])
    records = [
        qa("Pregunta de un foro: mi hijo de tres años tiene fiebre de 39 grados desde ayer y no quiere comer, "
           "¿cuándo debo llevarlo a urgencias?", "Depende de su estado general.", lang="es"),
        qa("¿Qué signos de alarma tiene la fiebre infantil?", "Acuda a urgencias si el niño está decaído, tiene "
           "dificultad para respirar, manchas en la piel que no desaparecen al presionar o no orina.", lang="es"),
        qa("¿Cuánto paracetamol puede tomar un niño de tres años?", "Unos 15 mg por kilo cada seis horas.", lang="es"),
    ]
    kept, rejects = decontaminate(records, tmp_path, benchmarks=[str(bench)])
    assert [r["detail"]["field"] for r in rejects] == ["user", "assistant"]
    assert [r["id"] for r in kept] == [records[2]["id"]]


def test_short_fields_are_phrases_above_the_minimum_only(tmp_path, mcq_bench):
    records = [
        qa("Repaso de farmacología: ¿qué fármaco revierte la intoxicación por heparina? Explícalo.", lang="es"),
        qa("请问治疗呕吐的主穴是哪一个穴位？谢谢老师。", lang="zh"),
        # the words of the short question, but not contiguous: no phrase
        qa("¿Qué fármaco, en la práctica, revierte la intoxicación por heparina?", lang="es"),
        # an option shorter than the n-gram is no evidence on its own, even one above the phrase minimum
        qa("¿Ninguna de las anteriores? El antídoto es sulfato de protamina por vía intravenosa lenta.", lang="es"),
        # below the minimum: a four-word question alone names no item
        qa("Virus is cultured in: which media? Explain the difference between cell lines."),
    ]
    kept, rejects = decontaminate(records, tmp_path, benchmarks=[str(mcq_bench)])
    assert [(r["reason"], r["detail"]["item"]) for r in rejects] == [
        ("benchmark overlap (phrase)", "line 2"), ("benchmark overlap (phrase)", "line 4")]
    assert len(kept) == 3


def test_a_short_question_counts_with_its_answer_after_it(tmp_path, mcq_bench):
    records = [qa("Give me a flashcard.", "Virus is cultured in:\nAnswer: HeLa cells."),
               qa("Give me a flashcard.", "Virus is cultured in: blood agar is wrong, a cell line is needed.")]
    kept, rejects = decontaminate(records, tmp_path, benchmarks=[str(mcq_bench)])
    assert [(r["reason"], r["detail"]["field"], r["detail"]["item"]) for r in rejects] == [
        ("benchmark overlap (phrase)", "question and answer", "line 6")]
    assert [r["id"] for r in kept] == [records[1]["id"]]


def test_a_phrase_many_items_share_is_boilerplate(tmp_path):
    generic = "Which of the following statements is correct?"
    bench = write_jsonl(tmp_path / "generic.jsonl", [
        {"question": generic, "options": [f"Statement {i} about renal physiology", "Another statement"],
         "answer": "A"} for i in range(4)])
    record = qa(f"{generic} A. Loop diuretics act on the thick ascending limb. B. Thiazides raise calcium loss.")
    kept, rejects = decontaminate([record], tmp_path, benchmarks=[str(bench)], common_items=4)
    assert len(kept) == 1 and not rejects
    kept, rejects = decontaminate([dict(record)], tmp_path, benchmarks=[str(bench)], common_items=5)
    assert [r["detail"]["field"] for r in rejects] == ["question"]


@pytest.mark.parametrize("text", [
    STEMI.upper(),  # case
    "a 62 year old woman has had crushing central chest pain for one hour with st elevation in leads v1 to v4 "
    "which artery is most likely occluded",  # punctuation gone
    STEMI.replace("62-year-old", "62yearold").replace(", with", " - with"),  # inner punctuation removed
    STEMI.replace("62", "６２").replace("V1", "Ｖ１").replace("?", "？"),  # full width
])
def test_normalisation_of_case_punctuation_and_width(tmp_path, mcq_bench, text):
    _, rejects = decontaminate([qa("Exam practice: " + text)], tmp_path, benchmarks=[str(mcq_bench)])
    assert [(r["detail"]["item"], r["detail"]["field"]) for r in rejects] == [("line 1", "question")]


@pytest.mark.parametrize("text", [
    "请分析：" + ZH_Q + "？",  # Chinese by characters, inside a longer text
    "请分析：" + " ".join(ZH_Q.replace("，", "")),  # spaces between characters, punctuation gone
    "病例：" + ZH_Q.replace("58", "５８").replace("，", ",") + "。",  # width and punctuation
])
def test_chinese_is_matched_by_characters(tmp_path, mcq_bench, text):
    _, rejects = decontaminate([qa(text, "左前降支。", lang="zh")], tmp_path, benchmarks=[str(mcq_bench)])
    assert [r["detail"]["item"] for r in rejects] == ["line 3"]


def test_arabic_with_diacritics_and_tatweel_matches_the_plain_item(tmp_path, mcq_bench):
    voweled = AR_Q.replace("مريض", "مَرِيضٌ").replace("شديد", "شـديـد").replace("الصدر", "الصَّدْرِ")
    records = [qa("سؤال امتحان: " + voweled, lang="ar"),
               qa("ما هي أعراض نوبة الربو الحادة عند الأطفال وكيف تعالج في قسم الطوارئ؟", lang="ar")]
    kept, rejects = decontaminate(records, tmp_path, benchmarks=[str(mcq_bench)])
    assert [r["detail"]["item"] for r in rejects] == ["line 5"]
    assert [r["id"] for r in kept] == [records[1]["id"]]


@pytest.mark.parametrize("lang, question, clean", [
    ("fr", "Quel est le traitement de première intention d'une pneumonie communautaire chez l'adulte sans "
           "comorbidité et sans signe de gravité ?",
     "Quels sont les signes de gravité d'une pneumonie chez l'enfant de moins de deux ans ?"),
    ("hi", "मधुमेह के रोगी में रक्त शर्करा की नियमित जांच क्यों आवश्यक है और इसे कितनी बार करना चाहिए जब रोगी "
           "इंसुलिन ले रहा हो?",
     "उच्च रक्तचाप के रोगी को नमक का सेवन कितना कम करना चाहिए?"),
])
def test_french_and_hindi_questions(tmp_path, lang, question, clean):
    bench = write_jsonl(tmp_path / f"{lang}.jsonl", [{"question": question, "options": ["1", "2"], "answer": "A"}])
    records = [qa("Question : " + question.lower(), lang=lang), qa(clean, lang=lang)]
    kept, rejects = decontaminate(records, tmp_path, benchmarks=[str(bench)])
    assert [r["record"]["id"] for r in rejects] == [records[0]["id"]]
    assert [r["id"] for r in kept] == [records[1]["id"]]


def test_report_counts_records_per_benchmark_and_field(tmp_path, mcq_bench, pubmed_bench):
    records = [qa("Exam: " + STEMI, "Left anterior descending. " + STEMI_WHY),
               qa(PUBMED_CONTEXT[0] + " Summarise."),
               qa("Repaso: ¿qué fármaco revierte la intoxicación por heparina?", lang="es"),
               qa("What is the normal serum sodium range in adults?", "135 to 145 mmol/L.")]
    md, js = tmp_path / "contamination.md", tmp_path / "contamination.json"
    decontaminate([dict(r) for r in records], tmp_path, benchmarks=[str(mcq_bench), str(pubmed_bench)],
                  report=str(md))
    decontaminate([dict(r) for r in records], tmp_path, benchmarks=[str(mcq_bench), str(pubmed_bench)],
                  report=str(js))
    rows = {(r["benchmark"], r["field"]): r["records"] for r in json.loads(js.read_text())}
    # the first record states the question with its answer right after it, and the explanation
    assert rows == {(str(mcq_bench), "question"): 2, (str(mcq_bench), "question and answer"): 1,
                    (str(mcq_bench), "explanation"): 1, (str(pubmed_bench), "context"): 1}
    text = md.read_text()
    assert f"| {mcq_bench} | question | 2 |" in text and f"| {mcq_bench} | **any field** | **2** |" in text
    assert f"| {pubmed_bench} | context | 1 |" in text


def test_cli_report_and_options(tmp_path, mcq_bench):
    data = write_jsonl(tmp_path / "train.jsonl", [
        {"messages": [{"role": "user", "content": "Exam practice. " + STEMI},
                      {"role": "assistant", "content": "The left anterior descending artery."}]},
        {"messages": [{"role": "user", "content": "老师您好，我最近在复习针灸学，请问治疗呕吐的主穴是哪一个穴位，"
                                                  "能否详细讲解一下取穴方法和注意事项？"},
                      {"role": "assistant", "content": "需要辨证取穴。"}]},
        {"messages": [{"role": "user", "content": "How is iron deficiency anaemia treated?"},
                      {"role": "assistant", "content": "Oral iron, and the cause is looked for."}]}])
    res = CliRunner().invoke(app, ["decontaminate", str(data), str(tmp_path / "out.jsonl"), "-b", str(mcq_bench),
                                   "--min-chars", "14", "--report", str(tmp_path / "r.md")])
    assert res.exit_code == 0, res.output
    assert f"| {mcq_bench} | question | 1 |" in res.output and (tmp_path / "r.md").exists()
    rejects = read_rejects(tmp_path / "out.rejects.jsonl")
    assert [r["detail"]["item"] for r in rejects] == ["line 1"], "13 characters are below --min-chars 14"


def test_benchmarks_are_named_files_and_shards_decide_as_the_whole(tmp_path, mcq_bench, pubmed_bench):
    config = DecontaminateConfig(benchmarks=[str(mcq_bench), str(pubmed_bench)])
    assert config.named_files() == [str(mcq_bench), str(pubmed_bench)]
    step = Decontaminate(config)
    records = [qa("Exam: " + STEMI), qa("Normal potassium?"), qa(PUBMED_LONG), qa("请问治疗呕吐的主穴是哪一个穴位")]
    state = step.prepare()
    whole = [(r["id"], j.reason, j.detail) for r, j in step.apply_shard(state, records).rejected]
    parts = [(r["id"], j.reason, j.detail) for part in (records[:2], records[2:])
             for r, j in step.apply_shard(state, part).rejected]
    assert whole == parts and len(whole) == 3
