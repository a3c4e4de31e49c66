"""Builds the shipped sample data from content.py, planting the problems later steps must catch.

Run from the project root: `python recipes/data/build_sample.py`. The output is deterministic, and
`planted.json` lists every planted problem with its file and locator, so tests can check each is caught.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from content import (  # noqa: E402
    AR_QA,
    DIALOGUES_AR,
    DIALOGUES_EN,
    DIALOGUES_ES,
    DIALOGUES_ZH,
    EN_QA,
    ES_QA,
    MCQ_EN,
    MCQ_ES,
    PUBMEDQA,
    TEXTS,
    ZH_QA,
)

planted: list[dict] = []


def plant(file: str, locator: str, problem: str, of: str | None = None, step: str | None = None) -> None:
    entry = {"file": file, "locator": locator, "problem": problem, "step": step}
    if of:
        entry["of"] = of
    planted.append(entry)


def mojibake(s: str) -> str:
    return s.encode("utf-8").decode("cp1252", errors="replace")


def msgs(q: str, a: str) -> list[dict]:
    return [{"role": "user", "content": q}, {"role": "assistant", "content": a}]


def dialogue(turns: list[str]) -> list[dict]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]


# ---------------------------------------------------------------- English, OpenAI messages, JSONL
def build_en() -> None:
    name = "en_openai.jsonl"
    lines: list[bytes] = []

    def add(obj, problem=None, of=None, step=None, raw: bytes | None = None):
        lines.append(raw if raw is not None else json.dumps(obj, ensure_ascii=False).encode())
        if problem:
            plant(name, f"line {len(lines)}", problem, of, step)

    for q, a in EN_QA:
        add({"messages": msgs(q, a)})
    q, a = EN_QA[0]
    add({"messages": msgs(q, a)}, "exact_duplicate", "line 1", "dedupe")
    q, a = EN_QA[3]
    add({"messages": msgs("  " + q.replace(" ", "  "), a + " ")}, "exact_duplicate_after_normalization",
        "line 4", "dedupe")
    q, a = EN_QA[1]
    add({"messages": msgs(q, a.replace("or higher", "or above") + " Screening is advised from age 40.")},
        "near_duplicate", "line 2", "dedupe")
    q, a = EN_QA[11]
    add({"messages": msgs(q.replace("?", " exactly?"), a.replace("prompt", "rapid"))},
        "near_duplicate", "line 12", "dedupe")
    add({"messages": msgs("I was born on 03/14/1962 and my MRN: 4839201. Can I take ibuprofen with lisinopril?",
                          "Ibuprofen can blunt the effect of lisinopril and, with a diuretic, harm the kidneys. "
                          "Please email dr.mendez@clinic-example.org or call +1 415-555-0132 to review your "
                          "medicines.")}, "pii", step="pii")
    add({"messages": msgs("My daughter (SSN 123-45-6789) has a rash after amoxicillin. What should we do?",
                          "Stop the amoxicillin and contact her doctor at (617) 555-0199 today. Seek emergency "
                          "care if she has swelling of the face, wheezing or difficulty breathing.")},
        "pii", step="pii")
    add({"messages": msgs("What is the normal resting heart rate for adults?",
                          "<p>A normal resting heart rate for adults is <b>60 to 100</b> beats per minute.</p>"
                          "<br/><p>Athletes may have rates below 60 &amp; still be healthy.</p>")},
        "html", step="normalize")
    add({"messages": msgs(mojibake("I don’t sleep well after starting prednisone – is that normal?"),
                          mojibake("Yes – insomnia is a common side effect of prednisone. Taking it in the "
                                   "morning helps; don’t stop it suddenly."))}, "mojibake", step="normalize")
    add(None, "broken_line", step="read",
        raw=b'{"messages": [{"role": "user", "content": "What is the treatment for scabies?"}, {"role": "assi')
    add({"messages": msgs("What is the dose of amoxicillin for otitis media in children?", "")},
        "empty_answer", step="read")
    add(None, "invalid_utf8", step="read",
        raw=b'{"messages": [{"role": "user", "content": "Dosis \xff\xfe de insulina?"}, '
            b'{"role": "assistant", "content": "Depende."}]}')
    add({"messages": msgs("Should I stop my blood thinner before a dental extraction?",
                          "As an AI language model, I cannot provide medical advice. Please consult a "
                          "healthcare professional.")}, "refusal", step="quality")
    add({"messages": msgs("What is the best way to cook spaghetti?",
                          "Bring a large pot of salted water to a rolling boil, add the spaghetti, stir and cook "
                          "for nine to eleven minutes until al dente, then drain and toss with the sauce.")},
        "not_medical", step="relevance")
    add({"messages": msgs("Is paracetamol safe in pregnancy?", "Yes.")}, "too_short", step="quality")
    add({"messages": msgs("What is the treatment of hyperkalemia?", "What is the treatment of hyperkalemia?")},
        "restates_question", step="quality")
    add({"messages": msgs("How is Lyme disease treated?",
                          "Early Lyme disease is usually treated with doxycycline for 10 to 21 days, and "
                          "children or pregnant women may receive amoxicillin or")}, "truncated", step="quality")
    add({"messages": msgs("What are the symptoms of measles?",
                          "\n".join(["Fever, cough, runny nose and a rash."] * 8))}, "repetition", step="quality")
    add({"messages": [{"role": "system", "content": "You are a careful medical assistant."}]
         + msgs("What is the first aid for a nosebleed?",
                "Sit up, lean forward and pinch the soft part of the nose for 10 to 15 minutes. Seek help if "
                "bleeding lasts more than 20 minutes.")})
    add({"messages": [{"role": "patient", "content": "My knee hurts."},
                      {"role": "assistant", "content": "Rest and ice it."}]}, "unknown_role", step="read")
    (HERE / name).write_bytes(b"\n".join(lines) + b"\n")


# ---------------------------------------------------------------- Spanish, ShareGPT, JSON array
def build_es() -> None:
    name = "es_sharegpt.json"
    items: list = []

    def add(obj, problem=None, of=None, step=None):
        items.append(obj)
        if problem:
            plant(name, f"item {len(items) - 1}", problem, of, step)

    def conv(q, a):
        return {"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]}

    for q, a in ES_QA:
        add(conv(q, a))
    q, a = ES_QA[1]
    add(conv(mojibake(q), mojibake(a)), "mojibake", step="normalize")
    q, a = ES_QA[0]
    add(conv(q, a.replace("Sed excesiva", "Mucha sed")), "near_duplicate", "item 0", "dedupe")
    add(conv("¿Puedo tomar ibuprofeno si tengo gastritis? Mi DNI es 12345678Z y mi teléfono 612 345 678.",
             "Es mejor evitarlo, porque puede empeorar la gastritis y causar úlceras. Consulte a su médico; "
             "puede escribir a consulta.garcia@centro-salud.es para pedir cita."), "pii", step="pii")
    add(conv("¿Cuáles son los efectos secundarios del omeprazol?",
             "Common side effects of omeprazole include headache, nausea, diarrhoea and abdominal pain. Long "
             "term use may lower magnesium and vitamin B12 levels."), "mixed_language", step="langid")
    add({"conversations": [{"from": "human", "value": "¿Qué es la gripe?"},
                           {"from": "robot", "value": "Una infección viral."}]}, "unknown_role", step="read")
    add({"conversations": [{"from": "human", "value": "¿Cuánto dura la varicela?"}]}, "no_answer", step="read")
    add({"conversations": [{"from": "human", "value": "¿Qué es la migraña?"},
                            {"from": "gpt", "value": 42}]}, "wrong_type", step="read")
    (HERE / name).write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")


# ---------------------------------------------------------------- Chinese, Alpaca, JSON array
def build_zh() -> None:
    name = "zh_alpaca.json"
    items: list = []

    def add(obj, problem=None, of=None, step=None):
        items.append(obj)
        if problem:
            plant(name, f"item {len(items) - 1}", problem, of, step)

    for q, a in ZH_QA:
        add({"instruction": q, "input": "", "output": a})
    q, a = ZH_QA[0]
    add({"instruction": q, "input": "", "output": a}, "exact_duplicate", "item 0", "dedupe")
    q, a = ZH_QA[1]
    add({"instruction": q, "input": "", "output": a.replace("部分患者没有明显症状", "有些患者没有明显症状")},
        "near_duplicate", "item 1", "dedupe")
    q, a = ZH_QA[4]
    add({"instruction": q.replace("什么情况下", "哪些情况下"), "input": "", "output": a.replace("及时就医", "尽快就医")},
        "near_duplicate", "item 4", "dedupe")
    add({"instruction": "高血压吃什么药好？", "input": "", "output": ""}, "empty_answer", step="read")
    add({"instruction": "我的手机号是13812345678，身份证号110101199003077777，咳嗽两周需要拍胸片吗？", "input": "",
         "output": "咳嗽超过两周建议到医院就诊，医生会根据情况决定是否需要拍胸片。"}, "pii", step="pii")
    add({"instruction": "请推荐一部好看的电影。", "input": "", "output": "可以看看《肖申克的救赎》，这是一部讲述希望与友谊的经典电影，剧情感人。"},
        "not_medical", step="relevance")
    (HERE / name).write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")


# ---------------------------------------------------------------- Arabic, Alpaca columns, CSV
def build_ar() -> None:
    name = "ar_alpaca.csv"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["instruction", "input", "output", "lang"])
    line = 1
    for q, a in AR_QA:
        w.writerow([q, "", a, "ar"])
        line += 1
    q, a = AR_QA[0]
    w.writerow([q, "", a.replace("العطش الشديد", "العطش الزائد"), "ar"])
    line += 1
    plant(name, f"line {line}", "near_duplicate", "line 2", "dedupe")
    w.writerow(["ما علاج الصداع النصفي؟", "", "راسلني على ahmad.saleh@example-mail.com أو اتصل بالرقم +971 50 123 4567 "
                "لحجز موعد، ويمكن استخدام مسكنات الألم والتريبتانات.", "ar"])
    line += 1
    plant(name, f"line {line}", "pii", step="pii")
    buf.write("ما هو الصرع؟,نوبات متكررة\n")  # two cells where the header has four
    line += 1
    plant(name, f"line {line}", "broken_line", step="read")
    (HERE / name).write_text(buf.getvalue(), encoding="utf-8")


# ---------------------------------------------------------------- multiple choice
def build_mcq() -> None:
    name = "mcq_en.jsonl"
    lines = []
    for i, (q, opts, ans, exp) in enumerate(MCQ_EN):
        if i % 2 == 0:
            row = {"question": q, "options": dict(zip("ABCD", opts)), "answer": ans, "explanation": exp}
        else:  # MedMCQA-like: options as a list, answer as a 0-based index
            row = {"question": q, "options": opts, "answer": "ABCD".index(ans), "explanation": exp,
                   "subject": "medicine"}
        lines.append(json.dumps(row, ensure_ascii=False))
    q, opts, ans, exp = MCQ_EN[0]
    lines.append(json.dumps({"question": q, "options": dict(zip("ABCD", opts)), "answer": ans,
                             "explanation": exp}))
    plant(name, f"line {len(lines)}", "exact_duplicate", "line 1", "dedupe")
    lines.append(json.dumps({"question": "Which hormone is produced by the beta cells of the pancreas?",
                             "options": {"A": "Glucagon", "B": "Insulin", "C": "Somatostatin"}, "answer": "E"}))
    plant(name, f"line {len(lines)}", "answer_not_an_option", step="read")
    (HERE / name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    name = "mcq_es.csv"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["question", "A", "B", "C", "D", "answer", "explanation"])
    for q, opts, ans, exp in MCQ_ES:
        w.writerow([q, *opts, ans, exp])
    (HERE / name).write_text(buf.getvalue(), encoding="utf-8")

    name = "pubmedqa.json"
    doc = {}
    for pmid, q, ctx, long_answer, decision, meshes in PUBMEDQA:
        doc[pmid] = {"QUESTION": q, "CONTEXTS": ctx, "LABELS": ["METHODS", "RESULTS"], "MESHES": meshes,
                     "LONG_ANSWER": long_answer, "final_decision": decision}
    doc["30001007"] = {"QUESTION": "Does aspirin prevent migraine?", "CONTEXTS": ["A small trial."],
                       "LONG_ANSWER": "Unclear."}
    plant(name, "key 30001007", "missing_field", step="read")
    (HERE / name).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


# ---------------------------------------------------------------- Apollo lists, text, strings, parquet
def build_rest() -> None:
    name = "apollo_qa.json"
    items: list = [list(d) for d in DIALOGUES_EN]
    items.append(list(EN_QA[5]))
    plant(name, f"item {len(items) - 1}", "cross_source_duplicate", "en_openai.jsonl:line 6", "dedupe")
    items.append(["What causes shingles?", "Reactivation of the varicella-zoster virus.", "Is it contagious?"])
    plant(name, f"item {len(items) - 1}", "no_answer", step="read")
    (HERE / name).write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")

    name = "medical_text.jsonl.gz"
    rows = [{"text": t, "lang": lang} for lang, t in TEXTS]
    rows.append({"text": "The home team won the cup final two goals to one after extra time, with the winning "
                         "goal scored from a corner in the last minute. Fans celebrated in the city centre "
                         "until late at night.", "lang": "en"})
    plant(name, f"line {len(rows)}", "not_medical", step="relevance")
    para = TEXTS[1][1]
    rows.append({"text": "\n\n".join([para] * 5), "lang": "en"})
    plant(name, f"line {len(rows)}", "repetition", step="quality")
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
    with gzip.GzipFile(HERE / name, "wb", mtime=0) as fh:
        fh.write(data.encode())

    name = "pretrain_strings.json"
    strings = [
        "Vaccination has eliminated smallpox and greatly reduced polio, measles and diphtheria. Herd immunity "
        "protects people who cannot be vaccinated, such as newborns and the immunocompromised.",
        "Chronic kidney disease is staged by the estimated glomerular filtration rate and albuminuria. Blood "
        "pressure control and SGLT2 inhibitors slow its progression.",
        "La hepatitis C se trata hoy con antivirales de acción directa durante ocho a doce semanas, con tasas de "
        "curación superiores al 95 por ciento.",
        "慢性阻塞性肺疾病的主要危险因素是吸烟，戒烟是延缓肺功能下降最有效的措施，吸入支气管扩张剂可以改善症状。",
    ]
    (HERE / name).write_text(json.dumps(strings, ensure_ascii=False, indent=1), encoding="utf-8")

    name = "dialogues.parquet"
    rows = []
    for turns, lang in [(d, "es") for d in DIALOGUES_ES] + [(d, "zh") for d in DIALOGUES_ZH] + \
            [(d, "ar") for d in DIALOGUES_AR]:
        rows.append({"messages": dialogue(turns), "lang": lang})
    pq.write_table(pa.Table.from_pylist(rows), HERE / name)

    name = "en_alpaca.jsonl.zst"
    lines = []
    for q, _opts, _ans, exp in MCQ_EN[:8]:
        lines.append(json.dumps({"instruction": "Explain the reasoning behind the answer to this exam question.",
                                 "input": q, "output": exp}))
    (HERE / name).write_bytes(zstandard.ZstdCompressor(level=10).compress(("\n".join(lines) + "\n").encode()))


def main() -> None:
    build_en()
    build_es()
    build_zh()
    build_ar()
    build_mcq()
    build_rest()
    (HERE / "planted.json").write_text(json.dumps(planted, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote sample data with {len(planted)} planted problems to {HERE}")


if __name__ == "__main__":
    main()
