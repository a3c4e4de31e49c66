"""Exact and near-duplicate removal, survivor policy, incremental index, and benchmark decontamination."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from curation import minhash as mh
from curation.cli import app
from curation.io import read_records
from curation.ledger import Ledger
from curation.pipeline import build_steps, run_steps
from curation.record import make_record
from curation.rejects import RejectWriter, read_rejects
from tests.conftest import SAMPLE, SAMPLE_FILES, write_jsonl


def qa(q, a, source="s", lang=None, **meta):
    return make_record(source, "instruction", lang=lang, meta=meta, messages=[
        {"role": "user", "content": q}, {"role": "assistant", "content": a}])


def run(records, options=None, tmp_path=None, steps=None):
    ledger = Ledger()
    path = (tmp_path / "rejects.jsonl") if tmp_path else None
    rw = RejectWriter(path) if path else None
    kept = run_steps(records, build_steps(steps or [("dedupe", options)]), rejects=rw, ledger=ledger)
    if rw:
        rw.close()
    ledger.check()
    return kept, (read_rejects(path) if path else [])


def where(r):
    return (r["meta"]["provenance"]["file"], r["meta"]["provenance"]["locator"])


def test_planted_duplicates_in_the_sample_are_found_and_distinct_records_survive(tmp_path, planted):
    records = [r for p in SAMPLE_FILES for r in read_records(str(p))]
    chain = [("normalize", None), ("dedupe", None)]
    kept, rejects = run(records, tmp_path=tmp_path, steps=chain)
    by_where = {where(r): r for r in records}
    removed = {(r["source_file"], r["locator"]): r for r in rejects if r["step"] == "dedupe"}
    for p in planted:
        if p["step"] != "dedupe":
            continue
        other = tuple(p["of"].split(":")) if ":" in p["of"] else (p["file"], p["of"])
        pair = {(p["file"], p["locator"]), other}
        gone = pair & set(removed)
        assert len(gone) == 1, f"exactly one of {pair} is removed"
        (g,) = gone
        (survivor,) = pair - gone
        assert removed[g]["detail"]["duplicate_of"] == by_where[survivor]["id"]
        kind = "exact duplicate" if p["problem"].startswith(("exact", "cross")) else "near duplicate"
        assert removed[g]["reason"] == kind, p
    # nothing distinct was removed: every removal is a planted one, the repaired copy of a mojibake record, or
    # the text that repeats one paragraph five times (its shingle set is that paragraph's)
    mojibake = {(p["file"], p["locator"]) for p in planted if p["problem"] in ("mojibake", "repetition")}
    planted_pairs = {(p["file"], p["locator"]) for p in planted if p["step"] == "dedupe"}
    planted_pairs |= {tuple(p["of"].split(":")) if ":" in p["of"] else (p["file"], p["of"])
                      for p in planted if p["step"] == "dedupe"}
    assert set(removed) <= planted_pairs | mojibake


def test_chinese_near_duplicates_use_character_shingles(tmp_path):
    a = qa("糖尿病的典型症状有哪些？", "典型症状是多饮、多尿、多食和体重下降，即三多一少。部分患者没有明显症状。", lang="zh")
    b = qa("糖尿病的典型症状有哪些？", "典型症状是多饮、多尿、多食和体重下降，即三多一少。有些患者没有明显症状。", lang="zh")
    c = qa("高血压患者应该注意什么？", "应低盐饮食，控制体重，规律运动，戒烟限酒，按时服药。", lang="zh")
    kept, rejects = run([a, b, c], tmp_path=tmp_path)
    assert [r["id"] for r in kept] == [a["id"], c["id"]]
    assert rejects[0]["reason"] == "near duplicate" and rejects[0]["detail"]["duplicate_of"] == a["id"]
    assert mh.is_cjk(a["messages"][1]["content"], None) and not mh.is_cjk("What is sepsis?", None)


def test_survivor_policy_source_priority_then_score_then_order():
    base = "What is the first-line treatment for anaphylaxis in adults? Intramuscular adrenaline 0.5 mg."
    recs = [qa(base, "Adrenaline IM into the thigh.", source="web", **{"judge": {"overall": 5}}),
            qa(base, "Adrenaline IM into the thigh.", source="textbook", **{"judge": {"overall": 3}}),
            qa(base, "Adrenaline IM into the thigh.", source="forum", **{"judge": {"overall": 4}})]
    kept, _ = run([dict(r) for r in recs], {"keep": {"source_priority": ["textbook"]}})
    assert [r["source"] for r in kept] == ["textbook"]
    kept, _ = run([dict(r) for r in recs], {"keep": {"prefer": "meta.judge.overall"}})
    assert [r["source"] for r in kept] == ["web"]
    kept, _ = run([dict(r) for r in recs], {"keep": {"prefer": "meta.judge.overall", "prefer_max": False}})
    assert [r["source"] for r in kept] == ["textbook"]
    kept, _ = run([dict(r) for r in recs], None)
    assert [r["source"] for r in kept] == ["web"], "by default the first in input order survives"


def test_verify_removes_lsh_false_positives():
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(300)]
    a = " ".join(rng.choice(vocab, 60))
    words = a.split()
    b = " ".join(words[:35] + list(rng.choice(vocab, 25)))  # about half shared: below a 0.9 threshold
    recs = [make_record("s", "text", text=a), make_record("s", "text", text=b)]
    # a low-precision band layout (many short bands) makes this pair an LSH candidate
    kept, _ = run([dict(r) for r in recs], {"threshold": 0.9, "bands": 64, "rows": 2, "verify": True})
    assert len(kept) == 2
    j = mh.true_jaccard(mh.shingle_hashes(a, False, 3, 3), mh.shingle_hashes(b, False, 3, 3))
    assert j < 0.9


def test_same_results_across_runs_and_worker_counts():
    records = [r for p in SAMPLE_FILES for r in read_records(str(p))]
    outs = []
    for workers in (1, 2, 1):
        kept, _ = run([json.loads(json.dumps(r)) for r in records], {"workers": workers, "batch_size": 40})
        outs.append([r["id"] for r in kept])
    assert outs[0] == outs[1] == outs[2]


def test_incremental_index_dedupes_new_sources_against_kept_ones(tmp_path):
    old = [qa("What are the symptoms of hypothyroidism in adults?", "Tiredness, weight gain, feeling cold and dry skin.")]
    new = [qa("What are the symptoms of hypothyroidism in adults?", "Tiredness, weight gain, feeling cold and dry skin.",
              source="new"),
           qa("How is gout treated during an acute attack?", "An NSAID, colchicine or a short course of steroids.",
              source="new")]
    opts = {"index_dir": str(tmp_path / "index")}
    kept1, _ = run(old, opts)
    assert len(kept1) == 1 and (tmp_path / "index" / "index.json").exists()
    kept2, rejects = run(new, opts, tmp_path=tmp_path)
    assert [r["messages"][0]["content"] for r in kept2] == ["How is gout treated during an acute attack?"]
    assert rejects[0]["detail"]["duplicate_of"] == old[0]["id"]
    parts = sorted((tmp_path / "index").glob("part-*.parquet"))
    assert len(parts) == 2, "the second run appended only its kept records; old signatures were not recomputed"
    with pytest.raises(Exception, match="other settings"):
        run(new, {**opts, "num_perm": 64})


def test_report_lists_the_largest_clusters(tmp_path):
    recs = [qa("What is the normal range of serum potassium in adults?", f"About 3.5 to 5.0 mmol/L{s}")
            for s in (".", "!", " .", "")] + [qa("Define sepsis.", "Organ dysfunction caused by infection.")]
    run(recs, {"report": str(tmp_path / "clusters.md")})
    text = (tmp_path / "clusters.md").read_text()
    assert "## Cluster of 4" in text and text.count("serum potassium") == 4 and "sepsis" not in text


def test_decontamination_catches_a_benchmark_question_pasted_into_a_longer_instruction(tmp_path):
    bench = tmp_path / "medqa_test.jsonl"
    q = ("A 58-year-old man has crushing chest pain for 40 minutes and ST elevation in leads II, III and aVF. "
         "Which coronary artery is most likely occluded?")
    write_jsonl(bench, [{"question": q, "options": {"A": "Left anterior descending", "B": "Right coronary"},
                         "answer": "B"},
                        {"question": "什么是冠心病？请说明其主要的临床表现和常见的治疗方法以及预防措施。", "options": ["甲", "乙"], "answer": 0},
                        {"question": "Which vitamin deficiency causes Wernicke encephalopathy in patients with alcohol "
                                     "use disorder?", "options": ["Thiamine", "Folate"], "answer": "A"}])
    recs = [qa("Please answer this carefully and explain. " + q + " Think step by step.", "The right coronary artery."),
            qa("What are the symptoms of heart failure?", "Breathlessness, swollen ankles and tiredness."),
            qa("请回答：什么是冠心病？请说明其主要的临床表现和常见的治疗方法以及预防措施。谢谢", "冠心病是冠状动脉粥样硬化导致的心脏病。", lang="zh"),
            qa("What vitamin deficiency causes Wernicke encephalopathy in patients with alcohol use disorder?",
               "Thiamine (vitamin B1).")]
    kept, rejects = run(recs, None, tmp_path=tmp_path, steps=[("decontaminate", {"benchmarks": [str(bench)]})])
    assert [r["messages"][0]["content"] for r in kept] == ["What are the symptoms of heart failure?"]
    by_q = {r["record"]["messages"][0]["content"][:20]: r for r in rejects}
    assert by_q["Please answer this c"]["reason"] == "benchmark overlap (n-gram)"
    assert by_q["Please answer this c"]["detail"]["item"] == "line 1"
    assert by_q["请回答：什么是冠心病？请说明其主要的临床"]["detail"]["item"] == "line 2"
    assert by_q["What vitamin deficie"]["reason"] == "benchmark overlap (near-duplicate question)"
    assert by_q["What vitamin deficie"]["detail"]["item"] == "line 3"


def test_cli_dedupe_defaults_and_decontaminate(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["dedupe", str(SAMPLE / "zh_alpaca.json"), str(tmp_path / "zh.jsonl"),
                              "--report", str(tmp_path / "r.md")])
    assert res.exit_code == 0, res.output
    rejects = read_rejects(tmp_path / "zh.rejects.jsonl")
    assert {r["reason"] for r in rejects if r["step"] == "dedupe"} == {"exact duplicate", "near duplicate"}
    res = runner.invoke(app, ["decontaminate", str(SAMPLE / "en_alpaca.jsonl.zst"), str(tmp_path / "d.jsonl"),
                              "--benchmark", str(SAMPLE / "mcq_en.jsonl")])
    assert res.exit_code == 0, res.output
    assert len(read_rejects(tmp_path / "d.rejects.jsonl")) == 8, "every explanation of a benchmark item is caught"
