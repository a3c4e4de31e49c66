"""The vectorised quality statistics give the record-by-record numbers, key order and decisions exactly."""

from __future__ import annotations

import re
import string
import sys

import pytest

from curation.io import read_records
from curation.quality_stats import PY_SPACE, case_variants, superset_pattern
from curation.record import make_record
from curation.steps.quality import DANGLING, REFUSAL, Quality
from tests.conftest import SAMPLE_FILES


def qa(question: str, answer: str, task: str = "instruction") -> dict:
    return make_record("t", task, messages=[{"role": "user", "content": question},
                                            {"role": "assistant", "content": answer}])


def doc(text: str) -> dict:
    return make_record("t", "text", text=text)


def mcq(question: str, options: dict[str, str], answer: str, explanation: str | None = None) -> dict:
    user = question + "\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
    rec = qa(user, f"{answer}. {options[answer]}", task="mcq")
    rec["mcq"] = {"question": question, "options": options, "answer": answer, "explanation": explanation,
                  "context": None}
    return rec


EN_DOC = ("Sepsis is a life-threatening organ dysfunction caused by a dysregulated host response to infection. "
          "Early antibiotics within one hour, fluid resuscitation with 30 ml/kg of crystalloid for hypotension, "
          "and lactate measurement are the first steps of the sepsis bundle.\n\n")
ES_LOOP = "El paciente debe tomar el antibiótico cada ocho horas durante siete días con abundante agua. "
FR_DOC = ("L'insuffisance cardiaque se traduit par une dyspnée d'effort, des œdèmes des membres inférieurs et une "
          "fatigue. Le traitement associe un IEC, un bêtabloquant et un diurétique de l'anse. ")
HI_DOC = ("मधुमेह एक दीर्घकालिक रोग है जिसमें रक्त में शर्करा का स्तर बढ़ जाता है। इंसुलिन की कमी या उसके प्रति "
          "प्रतिरोध इसका कारण है। नियमित व्यायाम, संतुलित आहार और दवाएँ रक्त शर्करा को नियंत्रित करती हैं। ")
AR_LINE = "يجب قياس ضغط الدم مرتين يوميا وتسجيل القراءات في دفتر خاص لعرضها على الطبيب"
ZH_LOOP = "患者应每日服用二甲双胍两次并监测血糖水平。"

RECORDS = [
    qa("What are the symptoms of measles?", "\n".join(["Fever, cough, runny nose and a rash."] * 3)),
    qa("What is the first-line treatment of sepsis?", EN_DOC.strip()),
    qa("How is atrial fibrillation managed?", "Rate control with a beta blocker, and anticoagulation with a DOAC "
       "when the CHA2DS2-VASc score is 2 or more, and"),
    qa("Can you diagnose my chest pain?", "As an AI language model, I cannot provide medical advice."),
    qa("Is ibuprofen safe in pregnancy?", "I'M SORRY, BUT I CAN'T answer that; ask your midwife or doctor."),
    qa("Is this rash dangerous?", "As an aı model I cannot examine you."),  # Python's re.I: ı matches i
    qa("What is the dose of amoxicillin for otitis media?", "What is the dose of amoxicillin for otitis media?"),
    qa("¿Cómo se toma el antibiótico?", ES_LOOP * 5),
    qa("¿Qué es la hipertensión?", "Como modelo de lenguaje no puedo dar consejos médicos; consulte a su médico."),
    qa("¿Cuándo se vacuna contra la gripe?", "En otoño, antes de la temporada de gripe, sobre todo en mayores de "
       "65 años y embarazadas (ver calendario"),
    qa("二甲双胍怎么吃？", "二甲双胍随餐服用。" + ZH_LOOP * 6),
    qa("高血压的诊断标准是什么？", "作为一个人工智能语言模型，我不能提供医疗建议。"),
    qa("糖尿病患者应如何监测血糖？", "空腹及餐后两小时测血糖，并记录结果和"),
    qa("كيف أراقب ضغط الدم؟", "\n".join([AR_LINE] * 4)),
    qa("ما علاج فقر الدم؟", "بصفتي نموذجًا لغويًا لا أستطيع تقديم نصيحة طبية."),
    qa("Comment traiter l'insuffisance cardiaque ?", FR_DOC * 4),
    qa("Quels sont les signes d'un AVC ?", "Une faiblesse d'un côté du corps, des troubles de la parole et une "
       "déviation de la bouche, et"),
    qa("मधुमेह क्या है?", HI_DOC),
    qa("मधुमेह क्या है?", "\n\n".join([HI_DOC] * 3)),
    # Broken lines, unusual whitespace (file separator, no-break and ideographic spaces) and a looping answer.
    qa("What is asthma?", "Asthma is a chronic\ninflammatory disease\x1cof the airways\u00a0with wheeze\u3000and "
       "cough.\r\n\r\nIt is treated with inhaled\n corticosteroids.\n\n\n\n"),
    qa("How is gout treated?", ("Allopurinol lowers urate levels over months of daily use and prevents flares. "
                                * 4).strip()),
    mcq("Which drug reverses warfarin?", {"A": "Vitamin K", "B": "Protamine", "C": "Idarucizumab",
                                          "D": "Andexanet alfa"}, "A", "Vitamin K restores the clotting factors."),
    mcq("下列哪项是糖尿病的典型症状", {"A": "多饮", "B": "多尿", "C": "多食", "D": "以上都是"}, "D"),
    mcq("¿Cuál es el tratamiento de la anafilaxia?", {"A": "Adrenalina intramuscular", "B": "Antihistamínicos",
                                                      "C": "Corticoides", "D": "Salbutamol"}, "A"),
    doc(EN_DOC * 3),
    doc(EN_DOC + "Stewardship helps. " * 40),
    doc(FR_DOC * 3 + HI_DOC),
    doc(HI_DOC * 4),
    doc("## Heart failure\n\n" + "Furosemide 40 mg ... " * 30),
    doc(ZH_LOOP * 20),
    doc(""),
    make_record("t", "chat", messages=[
        {"role": "system", "content": "You are a careful clinical assistant."},
        {"role": "user", "content": "My child has a fever of 39 °C."},
        {"role": "assistant", "content": "Give paracetamol 15 mg/kg and fluids."},
        {"role": "user", "content": "And if it lasts more than three days?"},
        {"role": "assistant", "content": "See a doctor: a fever lasting more than three days needs an examination."}]),
]


def sample_records() -> list[dict]:
    return [r for p in SAMPLE_FILES for r in read_records(str(p))]


def assert_same(records: list[dict], step: Quality) -> None:
    batch = step.measure_batch(records)
    assert batch is not None
    for rec, q in zip(records, batch):
        assert list(q.items()) == list(step.measure(rec).items()), rec["id"]


def test_sample_data_measures_the_same_both_ways():
    records = sample_records()
    assert len(records) > 100
    step = Quality()
    step.load_resources()
    assert_same(records, step)


def test_sample_data_as_documents_measures_the_same_both_ways():
    """Read as documents, the sample's long texts also go through Gopher's n-gram statistics."""
    records = [dict(r, task="text") for r in sample_records()]
    step = Quality(Quality.Config(gopher_ngrams=True))
    assert_same(records, step)
    assert any("top_ngram" in q for q in step.measure_batch(records))


@pytest.mark.parametrize("ngrams", [False, True])
def test_written_records_measure_and_decide_the_same_both_ways(ngrams):
    step = Quality(Quality.Config(gopher_ngrams=ngrams))
    assert_same(RECORDS, step)
    scalar = []
    for rec in RECORDS:
        try:
            scalar.append(step.process(rec))
        except Exception as r:
            scalar.append(r)
    batch = step.process_batch(RECORDS)
    assert [None if o is None else (o.reason, o.detail["failed"]) for o in batch] == [
        None if o is None else (o.reason, o.detail["failed"]) for o in scalar]
    reasons = {o.reason for o in batch if o is not None}
    assert {"repeated lines", "looping text", "refusal or model boilerplate", "truncated answer",
            "answer restates the question"} <= reasons
    assert sum(o is None for o in batch) >= 5  # the clean ones are kept


def test_other_thresholds_measure_the_same_both_ways():
    step = Quality(Quality.Config(loop_ngram=4, ngram_min_words=10, gopher_tasks=["text", "instruction"],
                                  gopher_ngrams=True,
                                  max_top_ngram_frac={2: 0.1, 5: 0.1}, max_dup_ngram_frac={3: 0.1}))
    assert_same(RECORDS, step)


@pytest.mark.parametrize("odd", ["Fever and a rash \ud83d for three days.", "Fever\x00and a rash."])
def test_batches_polars_cannot_take_are_measured_record_by_record(odd):
    """A lone surrogate is not UTF-8 and NUL marks paragraph breaks inside the vectorised path."""
    records = [qa("What are the signs of measles in children?", odd), *RECORDS[:3]]
    step = Quality()
    assert step.measure_batch(records) is None
    outcomes = step.process_batch(records)
    assert len(outcomes) == 4
    assert all("quality" in r["meta"] for r in records)


def test_whitespace_is_pythons():
    assert "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()) == PY_SPACE


def test_case_variants_are_pythons_ignorecase():
    """Every code point matching an ASCII letter case-insensitively, against the table the Rust pattern uses."""
    letters = re.compile("[a-z]", re.I)
    found: dict[str, set[str]] = {c: set() for c in string.ascii_lowercase}
    for x in range(sys.maxunicode + 1):
        ch = chr(x)
        if letters.fullmatch(ch):
            for c in string.ascii_lowercase:
                if re.fullmatch(c, ch, re.I):
                    found[c].add(ch)
    assert all(found[c] == set(case_variants(c)) for c in string.ascii_lowercase)


@pytest.mark.parametrize("pattern", [REFUSAL, DANGLING])
def test_superset_patterns_compile_for_polars(pattern):
    import polars as pl

    texts = ["As an AI model, I cannot help.", "Take it with food and", "作为人工智能", "Done."]
    rust = pl.Series(texts).str.contains(superset_pattern(pattern.pattern)).to_list()
    assert all(r or not pattern.search(t) for r, t in zip(rust, texts))


@pytest.mark.parametrize("text", [
    "".join(chr(i) for i in range(128)),
    "Is METFORMIN (500 mg) safe in CKD stage 3b?  -- yes; eGFR >= 30 mL/min/1.73 m2!",
    "snake_case_word\x1cfile\x1fsep\x0bvt\x0cff\r\n\ttab",
    "¿Es segura la metformina? Sí, con TFG ≥ 30.",
    "二甲双胍（500 mg）安全吗？", "هل الميتفورمين آمن؟", "Straße — ŉ ǰ ß",
])
def test_norm_of_ascii_text_equals_the_pattern_replacement(text):
    """`norm` takes a byte table for ASCII text; it must give what casefolding and the pattern give, on every ASCII
    character (controls, the ones str.split treats as spaces, underscore) and on text in other scripts."""
    from curation.steps.quality import norm

    assert norm(text) == " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())
