"""Shapes and encodings real medical data ships in: plain Q&A pairs, legacy encodings, multiple-answer MCQ."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.errors import MedcurateError
from curation.export import openai_row
from curation.io.parallel import read_parallel
from curation.io.reader import SourceSpec, read_records
from curation.io.sources import detect_encoding
from curation.io.writers import open_writer
from curation.record import CanonicalRecord, from_table, to_table
from curation.rejects import RejectWriter, read_rejects
from training.evaluation.items import load_benchmark
from training.evaluation.results import summarize
from training.evaluation.run import _parse_reply, _top, _verified

QA = [
    ("What are the early signs of type 2 diabetes?", "Increased thirst, frequent urination and blurred vision."),
    ("¿Cuál es la dosis máxima diaria de paracetamol en adultos?", "En general, no más de 4 gramos al día."),
    ("高血压患者饮食上需要注意什么？", "应限制食盐摄入，每天不超过5克，并多吃蔬菜水果。"),
    ("ما هي أعراض فقر الدم؟", "التعب وشحوب الجلد وضيق التنفس عند المجهود."),
    ("Quels sont les effets secondaires de l'amoxicilline ?", "Diarrhée, nausées et éruption cutanée."),
    ("मधुमेह के शुरुआती लक्षण क्या हैं?", "अधिक प्यास लगना और बार-बार पेशाब आना।"),
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


@pytest.mark.parametrize("q_key,a_key", [
    ("question", "answer"), ("Question", "Answer"), ("QUESTION", "ANSWER"), ("query", "response"),
    ("prompt", "completion"), ("questions", "answers"), ("input", "output"),
])
def test_question_answer_shapes_become_one_user_assistant_pair(tmp_path, q_key, a_key):
    rows = [{q_key: q, a_key: a, "source": "iCliniq", "url": f"https://example.org/{i}"} for i, (q, a) in enumerate(QA)]
    recs = read_records(str(write_jsonl(tmp_path / "qa.jsonl", rows)))
    assert len(recs) == len(QA)
    for rec, (q, a) in zip(recs, QA):
        assert rec["task"] == "instruction"
        assert rec["messages"] == [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        assert rec["meta"]["extra"]["source"] == "iCliniq"
        assert rec["meta"]["extra"]["url"].startswith("https://example.org/")


def test_huatuo_lists_take_the_first_question_and_keep_the_paraphrases(tmp_path):
    rows = [{"questions": [["感冒了应该吃什么药？", "感冒吃什么药好得快？"]], "answers": ["多休息，多喝水，可服用对乙酰氨基酚退热。"]}]
    (rec,) = read_records(str(write_jsonl(tmp_path / "huatuo.jsonl", rows)))
    assert rec["messages"][0]["content"] == "感冒了应该吃什么药？"
    assert rec["meta"]["extra"]["questions_more"] == ["感冒吃什么药好得快？"]


def test_instruction_with_input_stays_alpaca_and_options_stay_mcq(tmp_path):
    alpaca = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Resume el caso.", "input": "Varón de 54 años con "
                                                 "dolor torácico.", "output": "Sospecha de síndrome coronario."}])
    assert "Varón de 54 años" in read_records(str(alpaca))[0]["messages"][0]["content"]
    mcq = write_jsonl(tmp_path / "m.jsonl", [{"question": "¿Fármaco de primera línea en la diabetes tipo 2?",
                                              "options": "(A) Metformina\n(B) Insulina", "answer": "A"}])
    assert read_records(str(mcq))[0]["task"] == "mcq"


def test_an_ambiguous_file_still_says_so(tmp_path):
    rows = [{"question": "q?", "answer": "a", "messages": [{"role": "user", "content": "q?"},
                                                           {"role": "assistant", "content": "a"}]}]
    with pytest.raises(MedcurateError, match="ambiguous format"):
        read_records(str(write_jsonl(tmp_path / "both.jsonl", rows)))


# ---------------------------------------------------------------- encodings

DIALOGUES = {
    "gb18030": [("我最近总是失眠，晚上睡不着怎么办？", "建议规律作息，睡前避免咖啡，必要时在医生指导下用药。"),
                ("孩子发烧三十九度，需要去医院吗？", "持续高热或精神差应及时就医，可先物理降温。")],
    "big5": [("請問胃食道逆流要注意什麼？", "少量多餐，飯後不要立刻躺下，避免辛辣食物。"),
             ("糖尿病患者可以吃水果嗎？", "可以適量食用低升糖指數的水果，並監測血糖。")],
    "shift_jis": [("最近、頭痛がひどいのですが、どうすればよいですか？", "十分な睡眠をとり、症状が続く場合は受診してください。"),
                  ("高血圧の薬は一生飲み続ける必要がありますか？", "生活習慣の改善で減らせる場合もあります。医師に相談してください。")],
    "cp1252": [("¿Qué síntomas tiene la neumonía en ancianos?", "Fiebre, tos, confusión y dificultad respiratoria."),
               ("Quels examens après une fièvre prolongée ?", "Numération sanguine, CRP et hémocultures.")],
    "utf-16": [("ما هو العلاج الأولي للربو؟", "موسعات الشعب الهوائية المستنشقة مثل السالبوتامول."),
               ("هل يمكن للحامل تناول الباراسيتامول؟", "نعم، بالجرعات المعتادة وبعد استشارة الطبيب.")],
    "utf-8-sig": [("What causes iron deficiency anaemia?", "Blood loss, poor intake or malabsorption of iron."),
                  ("¿Es contagiosa la tuberculosis?", "Sí, la forma pulmonar activa se transmite por el aire.")],
}


def _csv_text(pairs: list[tuple[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["question", "answer"])
    w.writerows(pairs * 4)  # a few rows, so the detector has a sample to judge
    return buf.getvalue()


def _encoded(encoding: str, text: str) -> bytes:
    return text.encode(encoding)  # utf-16 and utf-8-sig write their BOM


@pytest.mark.parametrize("encoding", list(DIALOGUES))
@pytest.mark.parametrize("container", ["csv", "jsonl", "json"])
def test_each_encoding_is_detected_and_read(tmp_path, encoding, container):
    pairs = DIALOGUES[encoding]
    rows = [{"question": q, "answer": a} for q, a in pairs * 4]
    if container == "csv":
        text = _csv_text(pairs)
    elif container == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    else:
        text = json.dumps(rows, ensure_ascii=False, indent=1)
    path = tmp_path / f"dialogue.{container}"
    path.write_bytes(_encoded(encoding, text))
    recs = read_records(str(path))
    assert [(r["messages"][0]["content"], r["messages"][1]["content"]) for r in recs] == pairs * 4
    detected = detect_encoding(path)
    assert detected in {encoding, "cp932" if encoding == "shift_jis" else encoding}


def test_an_explicit_encoding_wins_and_gbk_is_read_as_its_superset(tmp_path):
    path = tmp_path / "short.csv"
    path.write_bytes(_csv_text([("腹痛", "就医")]).encode("gb18030"))
    recs = read_records(SourceSpec(path=str(path), encoding="GBK"))
    assert recs[0]["messages"][0]["content"] == "腹痛"
    with pytest.raises(MedcurateError, match="unknown encoding 'klingon'"):
        read_records(SourceSpec(path=str(path), encoding="klingon"))


def test_parallel_reading_decodes_legacy_and_utf16_jsonl(tmp_path):
    for encoding in ("gb18030", "utf-16"):
        pairs = DIALOGUES[encoding]
        text = "".join(json.dumps({"query": q, "response": a}, ensure_ascii=False) + "\n" for q, a in pairs * 50)
        path = tmp_path / f"{encoding}.jsonl"
        path.write_bytes(text.encode(encoding))
        recs = [r for t in read_parallel(SourceSpec(path=str(path)), workers=2) for r in from_table(t)]
        assert [r["messages"][0]["content"] for r in recs] == [q for q, _ in pairs * 50]


@pytest.mark.parametrize("container", ["csv", "jsonl"])
def test_an_undecodable_line_is_rejected_with_its_line_number(tmp_path, container):
    pairs = DIALOGUES["gb18030"]
    lines = ([json.dumps({"question": q, "answer": a}, ensure_ascii=False) for q, a in pairs * 3]
             if container == "jsonl" else _csv_text(pairs * 3).splitlines()[:7])
    data = [line.encode("gb18030") for line in lines]
    data[3] = "问题,".encode("gb18030") + b"\x81\x20 broken" if container == "csv" else b'{"question": "\x81\x20"}'
    path = tmp_path / f"broken.{container}"
    path.write_bytes(b"\n".join(data) + b"\n")
    rejects = tmp_path / "rejects.jsonl"
    with RejectWriter(rejects) as rw:
        recs = read_records(SourceSpec(path=str(path), encoding="gb18030"), rejects=rw)
    assert len(recs) == len(lines) - 1 - (container == "csv")  # the csv header is not a record
    (bad,) = read_rejects(rejects)
    assert bad["locator"] == "line 4"
    assert "invalid gb18030" in bad["reason"]


def test_inspect_reports_the_encoding(tmp_path):
    path = tmp_path / "big5.csv"
    path.write_bytes(_csv_text(DIALOGUES["big5"]).encode("big5"))
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert "encoding big5" in " ".join(result.output.split())


# ---------------------------------------------------------------- multiple-answer MCQ

MULTI = [
    {"question": "下列哪些是2型糖尿病的常见并发症？", "options": "(A) 视网膜病变\n(B) 白内障手术史\n(C) 糖尿病肾病\n"
     "(D) 急性阑尾炎\n(E) 周围神经病变", "answer": "(ACE)"},
    {"question": "Which drugs are first-line for hypertension?", "options": {"A": "Thiazide diuretics", "B":
     "ACE inhibitors", "C": "Digoxin", "D": "Calcium channel blockers"}, "answer": "A,B,D"},
    {"question": "¿Qué hallazgos sugieren neumonía?", "options": ["Fiebre", "Crepitantes", "Bradicardia",
                                                                "Consolidación radiológica"], "answer": ["B", "D", "A"]},
    {"question": "ما هي عوامل خطر السكتة الدماغية؟", "options": "(A) ارتفاع ضغط الدم\n(B) التدخين\n(C) قصر النظر",
     "answer": "A、B"},
    {"question": "Quel est l'antidote du paracétamol ?", "options": "(A) Naloxone\n(B) N-acétylcystéine\n"
     "(C) Flumazénil", "answer": "(B)"},
    {"question": "निम्न में से कौन से विटामिन वसा में घुलनशील हैं?", "options": "(A) विटामिन A\n(B) विटामिन C\n"
     "(C) विटामिन D\n(D) विटामिन K", "answer": "ACD"},
]


def test_multiple_answers_become_a_sorted_set_and_single_ones_stay_single(tmp_path):
    recs = read_records(str(write_jsonl(tmp_path / "mcq.jsonl", MULTI)))
    got = [(r["mcq"]["answer"], r["mcq"]["answers"]) for r in recs]
    assert got == [(None, ["A", "C", "E"]), (None, ["A", "B", "D"]), (None, ["A", "B", "D"]), (None, ["A", "B"]),
                   ("B", None), (None, ["A", "C", "D"])]
    reply = recs[0]["messages"][1]["content"]
    assert reply.splitlines() == ["A. 视网膜病变", "C. 糖尿病肾病", "E. 周围神经病变"]
    assert CanonicalRecord.model_validate(recs[0]).mcq.answers == ["A", "C", "E"]


def test_a_letter_outside_the_options_names_file_record_and_field(tmp_path):
    rows = [MULTI[0], {**MULTI[3], "answer": "(ABD)"}]
    path = write_jsonl(tmp_path / "cmexam.jsonl", rows)
    rejects = tmp_path / "rejects.jsonl"
    with RejectWriter(rejects) as rw:
        assert len(read_records(str(path), rejects=rw)) == 1
    (bad,) = read_rejects(rejects)
    assert (bad["source_file"], bad["locator"], bad["field"]) == (str(path), "line 2", "answer")
    assert "'D' not in A, B, C" in bad["reason"]


def test_multiple_answers_survive_arrow_export_and_re_reading(tmp_path):
    recs = read_records(str(write_jsonl(tmp_path / "mcq.jsonl", MULTI)))
    out = tmp_path / "curated.parquet"
    writer = open_writer(out, None)
    writer.write(to_table(recs))
    writer.close()
    again = read_records(str(out))
    assert [r["mcq"]["answers"] for r in again] == [r["mcq"]["answers"] for r in recs]
    row = openai_row(again[1])
    assert row["messages"][-1]["content"] == "A. Thiazide diuretics\nB. ACE inhibitors\nD. Calcium channel blockers"


def test_eval_scores_multiple_answers_by_exact_set_and_reports_them_apart(tmp_path):
    bench = load_benchmark(str(write_jsonl(tmp_path / "bench.jsonl", MULTI)))
    items = bench.items
    assert [it.answer for it in items] == ["ACE", "ABD", "ABD", "AB", "B", "ACD"]
    replies = ["答案是 A、C、E", "The answer is (A, B)", "La respuesta es A, B y D", "الإجابة هي AB",
               "The answer is (B)", "ACD"]
    preds = [_parse_reply(r, it) for r, it in zip(replies, items)]
    assert preds == ["ACE", "AB", "ABD", "AB", "B", "ACD"]
    rows = [{"benchmark": bench.name, "style": "direct", "lang": it.lang, "source": it.source, "multi": it.multi,
             "correct": p == it.answer, "parsed": p is not None} for it, p in zip(items, preds)]
    (entry,) = summarize(rows, 50, 1)
    assert entry["by_kind"]["multiple"]["n"] == 5 and entry["by_kind"]["multiple"]["correct"] == 4
    assert entry["by_kind"]["single"] == {**entry["by_kind"]["single"], "n": 1, "correct": 1}
    assert _top({"A": -1.0, "B": -3.0, "C": -0.5, "D": -4.0, "E": -0.7}, items[0]) == "ACE"
    assert _verified({"A": 0.4, "B": -1.0, "C": 1.2, "D": -0.2, "E": -0.1}, items[0]) == "AC"


def test_an_option_text_that_looks_like_letters_is_still_one_answer(tmp_path):
    rows = [{"question": "¿Qué molécula almacena la información genética?", "options": "(A) ARN\n(B) DNA\n(C) ATP",
             "answer": "DNA"},
            {"question": "高血压首选的检查是？", "options": ["血压测量", "胃镜", "骨扫描"], "answer": ["A"]}]
    recs = read_records(str(write_jsonl(tmp_path / "mcq.jsonl", rows)))
    assert [(r["mcq"]["answer"], r["mcq"]["answers"]) for r in recs] == [("B", None), ("A", None)]


def test_clean_takes_an_explicit_encoding(tmp_path):
    pairs = DIALOGUES["gb18030"]
    path = tmp_path / "dialogue.csv"
    path.write_bytes(_csv_text(pairs).encode("gb18030"))
    out = tmp_path / "clean.jsonl"
    result = CliRunner().invoke(app, ["normalize", str(path), str(out), "--encoding", "gb18030"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["messages"][0]["content"][:7] for r in rows] == [q[:7] for q, _ in pairs * 4]  # before punctuation
    bad = CliRunner().invoke(app, ["clean", str(path), str(tmp_path / "x.jsonl"), "--encoding", "klingon"])
    assert bad.exit_code != 0 and "klingon" in bad.output
