"""Every container, every format adapter, detection, field mapping, and writers' round trips."""

import gzip
import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curation.errors import MedcurateError
from curation.io import SourceSpec, open_writer, read_records
from curation.io.parallel import read_parallel
from curation.io.reader import read_batches, read_table
from curation.ledger import Ledger
from curation.record import from_table
from tests.conftest import SAMPLE, SAMPLE_FILES, qa, write_jsonl

ROWS = [
    qa("¿Qué es la hipertensión?", "Una presión arterial mantenida igual o superior a 140/90 mmHg."),
    qa("糖尿病的典型症状有哪些？", "多饮、多尿、多食和体重下降。"),
    qa("ما هو الربو؟", "مرض مزمن يصيب الشعب الهوائية."),
]


def contents(recs):
    return [[m["content"] for m in r["messages"]] for r in recs]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_jsonl_plain_and_compressed(tmp_path, suffix):
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS).encode()
    path = tmp_path / f"qa{suffix}"
    if suffix.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    elif suffix.endswith(".zst"):
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    else:
        path.write_bytes(data)
    recs = read_records(str(path))
    assert contents(recs) == contents([{"messages": r["messages"]} for r in ROWS])
    assert {r["source"] for r in recs} == {"qa"}
    assert [r["meta"]["provenance"]["locator"] for r in recs] == ["line 1", "line 2", "line 3"]


def test_json_array_csv_tsv_parquet_give_the_same_records(tmp_path):
    alpaca = [{"instruction": r["messages"][0]["content"], "input": "", "output": r["messages"][1]["content"]}
              for r in ROWS]
    (tmp_path / "a.json").write_text(json.dumps(alpaca, ensure_ascii=False), encoding="utf-8")
    for sep, ext in ((",", "csv"), ("\t", "tsv")):
        lines = [sep.join(["instruction", "input", "output"])]
        lines += [sep.join([a["instruction"], "", a["output"]]) for a in alpaca]
        (tmp_path / f"a.{ext}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(alpaca), tmp_path / "a.parquet")
    results = {ext: read_records(str(tmp_path / f"a.{ext}")) for ext in ("json", "csv", "tsv", "parquet")}
    ids = {ext: [r["id"] for r in recs] for ext, recs in results.items()}
    assert len({tuple(v) for v in ids.values()}) == 1, "the same content from the same source name: same ids"
    assert contents(results["csv"]) == contents(results["json"])


def test_hugging_face_save_to_disk_and_parquet_folder(tmp_path):
    ds = datasets.Dataset.from_list([{"messages": r["messages"], "lang": lang}
                                     for r, lang in zip(ROWS, ["es", "zh", "ar"])])
    ds.save_to_disk(str(tmp_path / "hf"))
    recs = read_records(str(tmp_path / "hf"))
    assert [r["lang"] for r in recs] == ["es", "zh", "ar"]
    assert contents(recs) == contents(ROWS)

    dd = datasets.DatasetDict({"train": ds, "test": ds.select([0])})
    dd.save_to_disk(str(tmp_path / "hfdict"))
    recs = read_records(str(tmp_path / "hfdict"))
    assert len(recs) == 4
    assert {r["meta"]["extra"]["__split__"] for r in recs} == {"train", "test"}

    (tmp_path / "pq" / "data").mkdir(parents=True)
    ds.to_parquet(str(tmp_path / "pq" / "data" / "train-00000.parquet"))
    assert contents(read_records(str(tmp_path / "pq"))) == contents(ROWS)


def test_sharegpt_roles_and_system_prompt(tmp_path):
    row = {"system": "Eres un asistente médico.", "conversations": [
        {"from": "human", "value": "Tengo fiebre."}, {"from": "gpt", "value": "¿Desde cuándo?"},
        {"from": "human", "value": "Desde ayer."}, {"from": "gpt", "value": "Beba líquidos y vigile."}]}
    (rec,) = read_records(str(write_jsonl(tmp_path / "s.jsonl", [row])))
    assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert rec["task"] == "dialogue"


def test_alpaca_input_joins_instruction(tmp_path):
    (rec,) = read_records(str(write_jsonl(tmp_path / "a.jsonl", [
        {"instruction": "Summarise for a patient.", "input": "HbA1c 8.1%", "output": "Your sugar is high.",
         "source_url": "internal"}])))
    assert rec["messages"][0]["content"] == "Summarise for a patient.\n\nHbA1c 8.1%"
    assert rec["meta"]["extra"] == {"source_url": "internal"}, "unused fields are kept, not dropped"


@pytest.mark.parametrize("options,answer,expected", [
    ({"A": "Glucagon", "B": "Insulin", "C": "Somatostatin"}, "B", "B"),
    (["Glucagon", "Insulin", "Somatostatin"], 1, "B"),
    (["Glucagon", "Insulin", "Somatostatin"], "(b)", "B"),
    (["Glucagon", "Insulin", "Somatostatin"], "insulin", "B"),
    ("(A) Glucagon\n(B) Insulin\n(C) Somatostatin", "(B)", "B"),
])
def test_mcq_options_and_answer_forms(tmp_path, options, answer, expected):
    row = {"question": "Which hormone do beta cells make?", "options": options, "answer": answer,
           "explanation": "Beta cells secrete insulin."}
    (rec,) = read_records(str(write_jsonl(tmp_path / "m.jsonl", [row])))
    assert rec["task"] == "mcq"
    assert rec["mcq"]["options"] == {"A": "Glucagon", "B": "Insulin", "C": "Somatostatin"}
    assert rec["mcq"]["answer"] == expected
    assert rec["messages"][1]["content"].startswith("B. Insulin")


def test_mcq_option_columns_medmcqa_style(tmp_path):
    row = {"question": "Antidote for opioids?", "opa": "Naloxone", "opb": "Atropine", "opc": "Flumazenil",
           "opd": "Glucagon", "cop": 0, "exp": "Naloxone is an opioid antagonist."}
    (rec,) = read_records(str(write_jsonl(tmp_path / "m.jsonl", [row])))
    assert rec["mcq"]["answer"] == "A" and rec["mcq"]["explanation"].startswith("Naloxone")
    assert "opa" not in rec["meta"].get("extra", {})


def test_apollo_pubmedqa_strings_text_from_sample():
    recs = read_records(str(SAMPLE / "apollo_qa.json"))
    assert recs[0]["task"] == "dialogue" and len(recs[0]["messages"]) == 4
    pub = read_records(str(SAMPLE / "pubmedqa.json"))
    assert pub[0]["meta"]["pmid"] == "30001001"
    assert pub[0]["mcq"]["options"] == {"A": "yes", "B": "no", "C": "maybe"}
    assert pub[0]["mcq"]["answer"] == "A" and "randomised" in pub[0]["mcq"]["context"]
    assert pub[2]["mcq"]["answer"] == "C"  # maybe
    strings = read_records(str(SAMPLE / "pretrain_strings.json"))
    assert {r["task"] for r in strings} == {"text"} and strings[3]["text"].startswith("慢性阻塞性肺疾病")
    text = read_records(str(SAMPLE / "medical_text.jsonl.gz"))
    assert {r["lang"] for r in text} >= {"en", "es", "zh", "ar"}


def test_pubmedqa_real_shape_reads(tmp_path):
    """The shape of the public labelled set: an object keyed by PMID."""
    doc = {"21645374": {"QUESTION": "Do mitochondria play a role?", "CONTEXTS": ["A.", "B."],
                        "LABELS": ["BACKGROUND", "RESULTS"], "MESHES": ["Mitochondria"], "YEAR": "2011",
                        "reasoning_required_pred": "yes", "reasoning_free_pred": "yes",
                        "final_decision": "yes", "LONG_ANSWER": "Yes, they do."}}
    (tmp_path / "ori_pqal.json").write_text(json.dumps(doc))
    (rec,) = read_records(str(tmp_path / "ori_pqal.json"))
    assert rec["meta"]["pmid"] == "21645374" and rec["meta"]["extra"]["YEAR"] == "2011"


def test_field_mapping_and_format_override(tmp_path):
    rows = [{"Frage": "Was ist Sepsis?", "Optionen": ["Infektion", "Fraktur"], "Antwort": "A"}]
    path = write_jsonl(tmp_path / "de.jsonl", rows)
    with pytest.raises(MedcurateError, match="unknown format.*Frage"):
        read_records(str(path))
    spec = SourceSpec(path=str(path), format="mcq",
                      fields={"question": "Frage", "options": "Optionen", "answer": "Antwort"})
    (rec,) = read_records(spec)
    assert rec["mcq"]["question"] == "Was ist Sepsis?" and rec["mcq"]["answer"] == "A"


def test_ambiguous_format_is_a_clear_error(tmp_path):
    row = {"messages": ROWS[0]["messages"], "conversations": [{"from": "human", "value": "x"}]}
    path = write_jsonl(tmp_path / "amb.jsonl", [row])
    with pytest.raises(MedcurateError, match=r"ambiguous format.*'openai' and 'sharegpt'.*--format"):
        read_records(str(path))
    # the override resolves it
    assert len(read_records(SourceSpec(path=str(path), format="openai"))) == 1


def test_alpaca_with_a_text_column_is_not_ambiguous(tmp_path):
    row = {"instruction": "Define anemia.", "input": "", "output": "Low haemoglobin.",
           "text": "### Instruction: Define anemia. ### Response: Low haemoglobin."}
    (rec,) = read_records(str(write_jsonl(tmp_path / "a.jsonl", [row])))
    assert rec["task"] == "instruction"


@pytest.mark.parametrize("to,name", [("jsonl", "o.jsonl"), ("jsonl", "o.jsonl.gz"), ("parquet", "o.parquet"),
                                     ("hf", "o_hf")])
def test_writers_round_trip(tmp_path, to, name):
    recs = read_records(str(SAMPLE / "mcq_es.csv")) + read_records(str(SAMPLE / "dialogues.parquet"))
    table = read_table(str(SAMPLE / "mcq_es.csv"))
    table = pa.concat_tables([table, read_table(str(SAMPLE / "dialogues.parquet"))])
    w = open_writer(tmp_path / name, to)
    w.write(table)
    w.close()
    back = read_records(str(tmp_path / name))
    assert back == recs, "writing then reading gives the same canonical records, ids included"


def test_parallel_reader_matches_sequential(tmp_path, monkeypatch):
    import curation.io.parallel as par

    monkeypatch.setattr(par, "RANGE_BYTES", 2048)  # many ranges on a small file
    src = (SAMPLE / "en_openai.jsonl").read_bytes() * 5
    path = tmp_path / "big.jsonl"
    path.write_bytes(src)
    seq_ledger, par_ledger = Ledger(), Ledger()
    seq = [r for t in read_batches(SourceSpec(path=str(path)), ledger=seq_ledger) for r in from_table(t)]
    parl = [r for t in read_parallel(SourceSpec(path=str(path)), workers=2, ledger=par_ledger)
            for r in from_table(t)]
    assert parl == seq
    assert par_ledger.to_dict() == seq_ledger.to_dict()


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_sample_file_reads(path):
    ledger = Ledger()
    recs = read_records(str(path), ledger=ledger)
    assert recs
    ledger.check()


def test_recipe_read_over_workers_gives_the_same_shards_rows_and_rejects(tmp_path, monkeypatch):
    """A run reads a JSONL source over its workers in byte ranges and cuts the reader's tables into shards of
    SHARD_ROWS rows in Arrow: the entry holds the same rows in the same order, in whole shards, in the same
    bytes, with the same rejects and ledger as reading in one process."""
    import curation.executors.local as local
    import curation.io.parallel as par
    from curation.plan import PlannedSource
    from curation.storage import Location
    from curation.workdir import WorkDir, file_digest, fingerprint

    monkeypatch.setattr(par, "RANGE_BYTES", 100_000)
    monkeypatch.setattr(local, "SHARD_ROWS", 3000)
    pairs = [("What is the first-line treatment of hypertension in pregnancy?", "Labetalol or nifedipine."),
             ("¿Cuál es la dosis de amoxicilina en la otitis media aguda?", "80-90 mg/kg/día en dos tomas."),
             ("糖尿病患者的糖化血红蛋白目标是多少？", "一般成人目标为 7.0% 以下。"),
             ("ما هي أعراض فقر الدم الناجم عن نقص الحديد؟", "التعب والشحوب وضيق التنفس عند الجهد.")]
    lines = []
    for k in range(6500):
        q, a = pairs[k % 4]
        # shards of thousands of rows and over 1 MB of text: a column then spans several parquet pages, whose
        # bounds would follow the reader's batches if a shard were written in more than one chunk
        lines.append(json.dumps(qa(f"{q} ({k})", f"{a} ({k}) " * 12), ensure_ascii=False))
        if k % 9 == 4 and k < 30:
            lines.append('{"messages": [{"role": "user", "content": "truncated')  # a broken line
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    entries = []
    for workers in (1, 2):
        work = WorkDir(Location.of(tmp_path / f"work{workers}"))
        work.check(create=True)
        spec = SourceSpec(path=str(path), license="CC-BY-4.0")
        fp = fingerprint("read", file_digest(path))
        src = PlannedSource(spec, file_digest(path), fp, work.read_entry(spec.source_name(), fp))
        entries.append(local.read_source(src, work, None, workers))
    one, two = entries
    assert len(par._ranges(path, path.stat().st_size)) > 2
    assert one.records() == two.records() and len(one.records()) == 6500
    assert [p.read_bytes() for p in one.parts()] == [p.read_bytes() for p in two.parts()]  # shards in one chunk
    for entry in entries:
        sizes = [part.parquet().metadata.row_group(g).num_rows for part in entry.parts()
                 for g in range(part.parquet().metadata.num_row_groups)]
        assert sizes == [3000, 3000, 500]
    assert one.ledger() == two.ledger()
    assert (one.path / "rejects.jsonl").read_bytes() == (two.path / "rejects.jsonl").read_bytes()
    assert (one.path / "rejects.jsonl").read_bytes().count(b"unexpected end of data") == 3
