"""Repetition rules on realistic records: curated QA and exam items are kept, copy-paste and loops are caught."""

from __future__ import annotations

import pytest

from curation.steps.quality import Quality

REPETITION = {"repeated lines", "repeated paragraphs", "looping text", "duplicated n-grams"} | {
    f"repeated {n}-gram" for n in (2, 3, 4)}


def qa(question: str, answer: str, task: str = "instruction") -> dict:
    return {"id": "x", "task": task, "messages": [{"role": "user", "content": question},
                                                   {"role": "assistant", "content": answer}], "meta": {}}


def mcq(question: str, options: dict[str, str], answer: str) -> dict:
    user = question + "\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
    rec = qa(user, f"{answer}. {options[answer]}", task="mcq")
    rec["mcq"] = {"question": question, "options": options, "answer": answer, "explanation": None, "context": None}
    return rec


def repetition_fails(record: dict) -> set[str]:
    step = Quality()
    return set(step.decide(step.measure(record), record.get("task"))) & REPETITION


KEY_POINTS = (
    "Key points:\n- Iron deficiency anaemia is caused by low iron stores.\n- It is treated with oral iron tablets.\n"
    "- Heavy periods and poor diet are the most common causes.\n\n"
    "Iron deficiency anaemia is caused by low iron stores. Iron is needed to make haemoglobin, the protein in red "
    "blood cells that carries oxygen. Heavy periods and poor diet are the most common causes, and in older adults "
    "bleeding from the gut must be ruled out. It is treated with oral iron tablets, usually ferrous sulfate 200 mg "
    "once or twice a day, for three months after the haemoglobin returns to normal. Tablets can cause constipation "
    "or dark stools; taking them with food helps. A blood test after four weeks shows whether treatment works.")
ABSTRACT = (
    "Patients with type 2 diabetes and chronic kidney disease have a high risk of cardiovascular events. We "
    "studied 412 patients with type 2 diabetes and chronic kidney disease treated with SGLT2 inhibitors and 398 "
    "patients with type 2 diabetes and chronic kidney disease treated with usual care. Among patients with type 2 "
    "diabetes and chronic kidney disease, SGLT2 inhibitors reduced hospitalisation for heart failure (hazard ratio "
    "0.71) and slowed the decline of eGFR. Does SGLT2 inhibition protect patients with type 2 diabetes and chronic "
    "kidney disease?")


@pytest.mark.parametrize("record", [
    mcq("Which of the following is true of the management of hypokalaemia?",
        {"A": "Increasing the potassium intake above 3 grams per day is always required",
         "B": "Increasing the potassium intake above 3 grams per day is never required",
         "C": "Increasing the potassium intake above 3 grams per day is required when serum potassium is below 2.5",
         "D": "Increasing the potassium intake above 3 grams per day is required in every diuretic user"}, "C"),
    mcq("La escala de coma de Glasgow:",
        {"A": "Es la suma del resultado de la evaluación de 3 áreas: apertura ocular, respuesta verbal y motora",
         "B": "Es la suma del resultado de la evaluación de 3 áreas: apertura ocular, respuesta pupilar y motora",
         "C": "Es la suma del resultado de la evaluación de 4 áreas: apertura ocular, respuesta verbal y motora",
         "D": "Puntúa de 0 a 15"}, "A"),
    mcq("下列关于糖尿病酮症酸中毒治疗的叙述，正确的是",
        {"A": "糖尿病酮症酸中毒治疗应首先大量补液", "B": "糖尿病酮症酸中毒治疗应首先大量补碱",
         "C": "糖尿病酮症酸中毒治疗应首先静脉推注胰岛素", "D": "糖尿病酮症酸中毒治疗应首先补钾"}, "A"),
    mcq("تفاعلات الكيناز:", {"A": "تتضمن إضافة مجموعة الفوسفات إلى البروتين", "B": "تتضمن إزالة مجموعة الفوسفات من البروتين",
                             "C": "تتضمن إضافة مجموعة الفوسفات إلى الدهون", "D": "لا تتضمن الفوسفات"}, "A"),
    mcq("पाइरुवेट डिहाइड्रोजनेज़ कंप्लेक्स:", {"A": "पाइरुवेट को एसिटिल CoA में बदलता है", "B": "पाइरुवेट को लैक्टेट में बदलता है",
                                         "C": "पाइरुवेट को ऑक्सालोएसीटेट में बदलता है", "D": "पाइरुवेट को एलानिन में बदलता है"}, "A"),
    mcq("Parmi les propositions suivantes, une seule est fausse, laquelle ?",
        {"A": "L'émission de lumière après excitation est la fluorescence", "B": "L'émission de lumière après "
         "excitation est plus lente pour la phosphorescence", "C": "L'émission de lumière après excitation "
         "est toujours de même longueur d'onde", "D": "La fluorescence est utilisée en immunologie"}, "C"),
    qa("What is iron deficiency anaemia and how is it treated?", KEY_POINTS),
    qa(ABSTRACT, "Yes. SGLT2 inhibitors reduced heart failure admissions and slowed the loss of kidney function."),
])
def test_curated_qa_and_exam_items_are_not_repetitive(record):
    assert repetition_fails(record) == set()


LOOP = "The patient should take the medicine twice a day with food and plenty of water. " * 6
ZH_LOOP = "患者应每日服用二甲双胍两次并监测血糖水平。" * 6


@pytest.mark.parametrize("record,reason", [
    (qa("What are the symptoms of measles?", "\n".join(["Fever, cough, runny nose and a rash."] * 3)),
     "repeated lines"),
    (qa("¿Cómo se trata la migraña?", "\n\n".join(["Se trata con analgésicos como el ibuprofeno y con triptanes."]
                                                  * 3)), "repeated paragraphs"),
    (qa("How should metformin be taken?", "Metformin is taken with meals. " + LOOP), "looping text"),
    (qa("二甲双胍怎么吃？", "二甲双胍随餐服用。" + ZH_LOOP), "looping text"),
    (qa("كيف يعالج السكري؟", " ".join(["يجب على المريض تناول الدواء مرتين يوميا مع الطعام وشرب الكثير من الماء"] * 5)),
     "looping text"),
])
def test_copy_paste_and_looping_output_are_caught(record, reason):
    assert reason in repetition_fails(record)


def test_documents_keep_gophers_fraction_rules():
    para = ("Antimicrobial resistance arises when bacteria survive exposure to antibiotics that would normally kill "
            "them. Overuse in humans and animals and poor infection control all contribute.")
    doc = {"id": "d", "task": "text", "messages": None, "text": f"{para}\n\n{para}\n\nStewardship helps.", "meta": {}}
    assert "repeated paragraphs" in repetition_fails(doc)  # two of three paragraphs the same: a Gopher reject
    as_answer = qa("Why does antimicrobial resistance arise?", doc["text"])
    assert repetition_fails(as_answer) == set()  # in an answer, a paragraph said twice is not yet a loop


def test_gophers_ngram_rules_for_documents_when_asked():
    """With gopher_ngrams, a document that keeps saying one phrase fails Gopher's top n-gram rule, and the
    statistics are in meta; by default they are neither measured nor applied."""
    text = " ".join([
        "Blood pressure rises with age in most adults.", "Home blood pressure readings are more reliable.",
        "Blood pressure above 140/90 mmHg is hypertension.", "Salt raises blood pressure in many people.",
        "Blood pressure falls with regular walking.", "Measure blood pressure on both arms at first.",
        "Blood pressure drugs include ACE inhibitors.", "Night-time blood pressure predicts strokes.",
        "Blood pressure targets are lower in diabetes.", "Record blood pressure twice every morning."])
    record = {"id": "d", "task": "text", "messages": None, "text": text, "meta": {}}
    step = Quality(Quality.Config(gopher_ngrams=True))
    q = step.measure(record)
    assert q["top_ngram"]["2"] > step.config.max_top_ngram_frac[2]
    assert "repeated 2-gram" in step.decide(q, "text")
    assert "top_ngram" not in Quality().measure(record)
    assert repetition_fails(record) == set()
    assert not set(step.decide(step.measure(qa("How is blood pressure treated?", text)), "instruction")) & REPETITION
