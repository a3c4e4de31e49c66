"""Exact and near-duplicate removal, survivor policy, incremental index, and benchmark decontamination."""

import json
import unicodedata

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
from tests.conftest import qa as chat_pair


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


def text_rec(text, lang="en"):
    return make_record("s", "text", lang=lang, text=text)


CAP = ["Adults with community acquired pneumonia and no comorbidities receive oral amoxicillin for five days.",
       "Clinicians reassess them after 48 hours if fever persists or breathing worsens.",
       "A chest radiograph is repeated only when symptoms fail to settle after six weeks.",
       "Smokers are offered cessation support at the same visit.",
       "Pneumococcal and influenza vaccination is checked and offered where due.",
       "Hospital admission is considered with a CURB-65 score of two or more."]
CAP_OTHER = ["Doxycycline is an alternative for those allergic to penicillin, given for the same duration.",
             "Macrolides are kept for atypical organisms suggested by the history or local outbreaks."]


def test_near_duplicates_do_not_chain_through_a_middle_record(tmp_path):
    # b is a near copy of a (last sentence changed), c a near copy of b (first sentence changed too), but c is
    # not within the threshold of a: a survives, b goes as a's duplicate, c stays
    a = " ".join(CAP)
    b = " ".join(CAP[:5] + CAP_OTHER[:1])
    c = " ".join(CAP_OTHER[1:] + CAP[1:5] + CAP_OTHER[:1])
    sh = [mh.shingle_hashes(t, False, 3, 3) for t in (a, b, c)]
    assert min(mh.true_jaccard(sh[0], sh[1]), mh.true_jaccard(sh[1], sh[2])) >= 0.65 > mh.true_jaccard(sh[0], sh[2])
    recs = [text_rec(t) for t in (a, b, c)]
    kept, rejects = run([dict(r) for r in recs], {"threshold": 0.65}, tmp_path=tmp_path)
    assert [r["text"] for r in kept] == [a, c]
    assert [(r["id"], r["detail"]["duplicate_of"]) for r in rejects] == [(recs[1]["id"], recs[0]["id"])]
    assert rejects[0]["detail"]["similarity"] == pytest.approx(mh.true_jaccard(sh[0], sh[1]), abs=1e-4)
    assert rejects[0]["detail"]["cluster_size"] == 2


def test_each_reject_names_a_survivor_within_the_threshold_with_its_true_similarity(tmp_path):
    from benchmarks.dedupe import normalised_question, templated_qa

    convs, groups = templated_qa(150, seed=3)
    records = [make_record("gard", "instruction", lang="en", messages=m) for m in convs]
    by_id = {r["id"]: r for r in records}
    kept, rejects = run([dict(r) for r in records], None, tmp_path=tmp_path)
    assert rejects, "the planted copies are found"
    for rej in rejects:
        survivor, gone = by_id[rej["detail"]["duplicate_of"]], by_id[rej["id"]]
        j = mh.true_jaccard(*(mh.shingle_hashes(mh.record_text(r), False, 3, 3) for r in (survivor, gone)))
        assert j >= 0.7 and rej["detail"]["similarity"] == pytest.approx(j, abs=1e-4)
        assert normalised_question(survivor["messages"][0]["content"]) == normalised_question(
            gone["messages"][0]["content"]), "a templated answer does not make two diseases' questions one"
    kept_ids = {r["id"] for r in kept}
    assert all(len({records[i]["id"] for i in g} & kept_ids) >= 1 for g in groups)


INHERITED = {
    "en": ("Is Danon disease inherited?", "Is otopalatodigital syndrome type 1 inherited?",
           "This condition is inherited in an X-linked dominant pattern. The gene associated with this condition is "
           "located on the X chromosome, one of the two sex chromosomes, and one altered copy in each cell is enough "
           "to cause the disorder."),
    "es": ("¿Se hereda la enfermedad de Danon?", "¿Se hereda el síndrome otopalatodigital tipo 1?",
           "Esta afección se hereda con un patrón dominante ligado al cromosoma X. El gen asociado se encuentra en el "
           "cromosoma X, uno de los dos cromosomas sexuales, y basta una copia alterada en cada célula."),
    "fr": ("La maladie de Danon est-elle héréditaire ?", "Le syndrome oto-palato-digital de type 1 est-il héréditaire ?",
           "Cette affection se transmet selon un mode dominant lié au chromosome X. Le gène en cause se trouve sur le "
           "chromosome X, l'un des deux chromosomes sexuels, et une seule copie modifiée par cellule suffit."),
    "zh": ("达农病会遗传吗？", "耳腭指综合征1型会遗传吗？",
           "这种疾病以X连锁显性方式遗传。相关基因位于X染色体上，X染色体是两条性染色体之一，每个细胞中一个拷贝发生改变就足以致病。"),
    "ar": ("هل مرض دانون وراثي؟", "هل متلازمة الأذن والحنك والأصابع من النوع الأول وراثية؟",
           "تنتقل هذه الحالة بنمط سائد مرتبط بالكروموسوم إكس. يقع الجين المرتبط بهذه الحالة على الكروموسوم إكس، وهو أحد "
           "الكروموسومين الجنسيين، وتكفي نسخة واحدة متغيرة في كل خلية لإحداث المرض."),
    "hi": ("क्या डैनन रोग वंशानुगत है?", "क्या ओटोपैलेटोडिजिटल सिंड्रोम टाइप 1 वंशानुगत है?",
           "यह स्थिति एक्स-लिंक्ड प्रभावी पैटर्न में वंशानुगत होती है। इससे जुड़ा जीन एक्स गुणसूत्र पर स्थित है, जो दो लिंग "
           "गुणसूत्रों में से एक है, और हर कोशिका में एक बदली हुई प्रति रोग पैदा करने के लिए काफी है।"),
}


@pytest.mark.parametrize("lang", sorted(INHERITED))
def test_two_questions_sharing_a_templated_answer_are_two_records(lang):
    q1, q2, answer = INHERITED[lang]
    kept, _ = run([qa(q1, answer, lang=lang), qa(q2, answer, lang=lang)])
    assert len(kept) == 2
    kept, _ = run([qa(q1, answer, lang=lang), qa(q2, answer, lang=lang)], {"key": "user"})
    assert len(kept) == 2


REWORDED = {
    "en": ("What are the symptoms of Danon disease?",
           "Danon disease mainly affects the heart, the skeletal muscles and the brain. Most affected males develop "
           "hypertrophic cardiomyopathy in their teens, often with Wolff-Parkinson-White syndrome, muscle weakness "
           "and mild intellectual disability.",
           "Danon disease mainly affects the heart, the skeletal muscles and the brain. Most affected males develop "
           "hypertrophic cardiomyopathy in adolescence, often with Wolff-Parkinson-White syndrome, muscle weakness "
           "and mild intellectual disability. Females are often less affected."),
    "es": ("¿Cuáles son los síntomas de la enfermedad de Danon?",
           "La enfermedad de Danon afecta sobre todo al corazón, a los músculos esqueléticos y al cerebro. La mayoría "
           "de los varones afectados desarrolla una miocardiopatía hipertrófica en la adolescencia, a menudo con "
           "debilidad muscular y una discapacidad intelectual leve.",
           "La enfermedad de Danon afecta sobre todo al corazón, a los músculos esqueléticos y al cerebro. La mayoría "
           "de los varones afectados presenta una miocardiopatía hipertrófica en la adolescencia, a menudo con "
           "debilidad muscular y una discapacidad intelectual leve. Las mujeres suelen tener formas más leves."),
    "zh": ("达农病有哪些症状？",
           "达农病主要累及心脏、骨骼肌和大脑。多数男性患者在青少年时期出现肥厚型心肌病，常伴有预激综合征、肌无力和轻度智力障碍。",
           "达农病主要累及心脏、骨骼肌和大脑。多数男性患者在青春期出现肥厚型心肌病，常伴有预激综合征、肌无力和轻度智力障碍。"
           "女性患者通常症状较轻。"),
    "ar": ("ما هي أعراض مرض دانون؟",
           "يصيب مرض دانون القلب والعضلات الهيكلية والدماغ بشكل رئيسي. يصاب معظم الذكور المصابين باعتلال عضلة القلب "
           "الضخامي في سن المراهقة، وغالبا مع ضعف العضلات وإعاقة ذهنية خفيفة.",
           "يصيب مرض دانون القلب والعضلات الهيكلية والدماغ بشكل رئيسي. يصاب معظم الذكور المصابين باعتلال عضلة القلب "
           "الضخامي في سن المراهقة، وغالبا مع ضعف العضلات وإعاقة ذهنية بسيطة. وتكون الأعراض عند الإناث أخف عادة."),
}


@pytest.mark.parametrize("lang", sorted(REWORDED))
def test_one_question_answered_in_other_words_is_one_record(lang):
    q, a1, a2 = REWORDED[lang]
    kept, _ = run([qa(q, a1, lang=lang), qa(q, a2, lang=lang)])
    assert [r["messages"][1]["content"] for r in kept] == [a1]


def test_report_flags_large_clusters_with_the_similarity_spread(tmp_path):
    q = "What is the first-line treatment of uncomplicated falciparum malaria in adults?"
    a = ("An artemisinin-based combination therapy such as artemether-lumefantrine for three days, taken with "
         "fatty food, with a check that the patient can keep the tablets down.")
    recs = [qa(q, a + f" Follow-up visit on day {d}.") for d in range(60)]
    recs.append(qa("Define sepsis.", "Organ dysfunction caused by a dysregulated response to infection."))
    run(recs, {"report": str(tmp_path / "clusters.md"), "large_cluster": 50})
    text = (tmp_path / "clusters.md").read_text()
    assert "## Cluster of 60" in text and "**Large cluster** (60 >= 50)" in text and "sepsis" not in text
    line = next(x for x in text.splitlines() if x.startswith("**Large cluster**"))
    lo, med, hi = (float(line.split(k)[1].split(",")[0].split()[0]) for k in ("min ", "median ", "max "))
    assert 0.7 <= lo <= med <= hi <= 1.0
    run(recs, {"report": str(tmp_path / "small.md"), "large_cluster": 100})
    assert "Large cluster" not in (tmp_path / "small.md").read_text()


LATIN = ["Danon", "Fabry", "Pompe", "Alport", "Gaucher", "Krabbe", "Canavan", "Menkes", "Wilson", "Huntington",
         "Batten", "Tay-Sachs", "Niemann-Pick", "Refsum"]
SIBLINGS = {  # one templated answer under questions about many diseases; the copied one is asked twice
    "en": ("Is {} disease inherited?", LATIN),
    "es": ("¿Se hereda la enfermedad de {}?", LATIN),
    "zh": ("{}病会遗传吗？", ["达农", "法布里", "庞贝", "奥尔波特", "戈谢", "克拉伯", "卡纳万", "门克斯", "威尔逊", "亨廷顿", "巴滕",
                          "泰萨克斯", "尼曼匹克", "雷夫叙姆"]),
    "ar": ("هل مرض {} وراثي؟", ["دانون", "فابري", "بومبي", "ألبورت", "غوشيه", "كرابي", "كانافان", "منكس", "ويلسون",
                               "هنتنغتون", "باتن", "تاي ساكس", "نيمان بيك", "ريفسوم"]),
    "hi": ("क्या {} रोग वंशानुगत है?", ["डैनन", "फैब्री", "पोम्पे", "एलपोर्ट", "गौचर", "क्रैबे", "कैनावन", "मेंकेस", "विल्सन",
                                   "हंटिंगटन", "बैटन", "टे-सैक्स", "नीमन-पिक", "रेफसम"]),
}
COPIED = {  # the disease asked about twice, and the sentence its second answer adds; in these languages the hashes
    # put the copies in no bucket of their own (for es and zh, with these short answers, they always get one)
    "en": ("Danon", " Genetic counselling can help families understand the risk."),
    "ar": ("بومبي", " يمكن للاستشارة الوراثية أن تساعد الأسر على فهم الخطر."),
    "hi": ("रेफसम", " पुरुष अधिक प्रभावित होते हैं।"),
}


@pytest.mark.parametrize("lang", sorted(COPIED))
def test_two_copies_are_found_in_a_bucket_whose_first_record_is_another_question(lang, tmp_path):
    # the copies share LSH buckets only with earlier questions under the same templated answer, which survive
    # on their own: linking each bucket's members to its first record only would never compare the copies
    from curation.steps.dedupe import Dedupe

    (template, names), (copied, added) = SIBLINGS[lang], COPIED[lang]
    answer = INHERITED[lang][2]
    recs = [qa(template.format(name), answer, lang=lang) for name in names if name != copied]
    recs += [qa(template.format(copied), answer, lang=lang), qa(template.format(copied), answer + added, lang=lang)]
    step = Dedupe(Dedupe.Config())
    sig = step.signatures(None, 0, recs).sig
    keys = mh.band_keys(sig, *step.band_params())
    shared = np.flatnonzero(keys[-2] == keys[-1])
    assert len(shared) and all((keys[:-2, band] == keys[-1, band]).any() for band in shared)
    kept, rejects = run([dict(r) for r in recs], tmp_path=tmp_path)
    assert [r["id"] for r in kept] == [r["id"] for r in recs[:-1]]
    assert [(r["id"], r["detail"]["duplicate_of"]) for r in rejects] == [(recs[-1]["id"], recs[-2]["id"])]


def test_a_large_bucket_pairs_each_record_with_its_first_and_preceding_records_only():
    import polars as pl

    from curation.steps.dedupe import bucket_pairs, split_keys

    # one bucket of 9 rows listed out of keep order (rank), and a bucket of one that makes no pair
    rows = [5, 3, 8, 0, 7, 1, 6, 2, 4]
    members = pl.DataFrame({"band": [0] * 9 + [1], "key": [11] * 9 + [11], "row": rows + [0],
                            "rank": [rows.index(r) for r in rows] + [0]})
    pairs = {tuple(p) for p in split_keys(bucket_pairs(members, ["rank"], 2)).tolist()}
    expected = {(rows[q], rows[p]) for p in range(9) for q in range(p) if q < 2 or p - q <= 2}
    assert pairs == expected and len(pairs) == 1 + 2 + 3 + 5 * 4  # from the 5th on: 2 first, 2 before
    small = {tuple(p) for p in split_keys(bucket_pairs(members.filter(pl.col("rank") < 5), ["rank"], 2)).tolist()}
    assert small == {(rows[q], rows[p]) for p in range(5) for q in range(p)}, "up to 2k + 1 members: every pair"


def _reference_tokens(text: str, cjk: bool) -> list[int]:
    """FNV-1a hashes of the NFKC-folded, lowercased word tokens (word characters for CJK), one text at a time."""
    import re

    folded = unicodedata.normalize("NFKC", text).lower()
    out = []
    for token in re.findall(r"\w" if cjk else r"\w+", folded):
        h = 0xCBF29CE484222325
        for byte in token.encode():
            h = ((h ^ byte) * 0x100000001B3) % (1 << 64)
        out.append(h)
    return out


def test_token_batch_routes_each_text_by_script_and_cjk_flag():
    """A batch mixing ASCII, accented, Arabic, Hindi and CJK texts (one CJK-flagged text all ASCII, one full-width)
    is cut exactly as each text alone would be, whichever path its row took. Python's word class leaves out the
    Devanagari vowel signs that polars counts as word characters, so Hindi is checked against itself alone."""
    texts = ["Metformin 500 mg twice daily for type 2 diabetes", "¿Cuál es el tratamiento de la neumonía?",
             "糖尿病患者应定期监测血糖 HbA1c", "ما هو علاج ارتفاع ضغط الدم", "मधुमेह का उपचार क्या है",
             "ＡＢＣ ﬁbrosis", "", "abc def", "高血压 (A) CD34", "Hypertension: ACE inhibitors"]
    cjk = np.array([False, False, True, False, False, False, False, True, True, False])
    flat, offsets = mh.token_batch(texts, cjk)
    for i, (text, flag) in enumerate(zip(texts, cjk)):
        alone_flat, alone_offsets = mh.token_batch([text], np.array([flag]))
        assert flat[offsets[i]: offsets[i + 1]].tolist() == alone_flat.tolist(), text
        if not any(unicodedata.category(ch).startswith("M") for ch in text):
            assert alone_flat.tolist() == _reference_tokens(text, flag), text
    assert len(flat[offsets[4]: offsets[5]]) == 5  # the Hindi words stay whole


def test_pair_set_keeps_each_pair_once_whichever_band_finds_it():
    """Bands find mostly the same pairs; a band's keys lose those an earlier band holds (a compiled pass over
    two sorted arrays), and the set ends as numpy's union of them all, `keep` applied to pairs new to it."""
    from curation.minhash_kernels import absent_from
    from curation.steps.dedupe import PairSet

    rng = np.random.default_rng(3)
    for part_size, key_size in ((0, 5), (5, 0), (1, 1), (40, 400), (3000, 50), (2000, 2000)):
        part = np.unique(rng.integers(0, 5000, part_size))
        keys = np.unique(np.r_[rng.integers(0, 6000, key_size), part[:3], part[-2:]]) if key_size else part[:0]
        fresh = np.empty(len(keys), dtype=np.bool_)
        absent_from(part, keys, fresh)
        assert (fresh == ~np.isin(keys, part)).all(), (part_size, key_size)
    bands = [np.unique((rng.integers(0, 300, 900) << 32) | rng.integers(0, 300, 900)) for _ in range(6)]
    bands[3] = bands[1][::2]  # a band that finds nothing new
    found = PairSet()
    for band in bands:
        found.add(band)
    assert np.array_equal(found.keys(), np.unique(np.concatenate(bands)))
    odd = PairSet()
    for band in bands:
        odd.add(band, lambda k: (k & 1) == 1)
    assert np.array_equal(odd.keys(), np.unique(np.concatenate([b[(b & 1) == 1] for b in bands])))


SCORED = {  # per language: one question, an answer, and the same answer reworded slightly
    "en": ("What is the first-line treatment for anaphylaxis in adults?",
           "Intramuscular adrenaline 0.5 mg into the outer thigh, repeated after five minutes if there is no "
           "improvement, with high-flow oxygen and intravenous fluids for hypotension."),
    "es": ("¿Cuál es el tratamiento de primera línea de la anafilaxia en adultos?",
           "Adrenalina intramuscular 0,5 mg en la cara externa del muslo, repetida a los cinco minutos si no hay "
           "mejoría, con oxígeno a alto flujo y líquidos intravenosos si hay hipotensión."),
    "zh": ("成人过敏性休克的一线治疗是什么？", "立即在大腿外侧肌内注射肾上腺素0.5毫克，五分钟后无改善可重复，同时给予高流量吸氧和静脉补液。"),
    "ar": ("ما هو العلاج الأول للحساسية المفرطة عند البالغين؟",
           "حقن الأدرينالين في العضل بجرعة 0.5 ملغ في الجزء الخارجي من الفخذ، وتكرارها بعد خمس دقائق إذا لم يتحسن "
           "المريض، مع الأكسجين والسوائل الوريدية عند انخفاض الضغط."),
}


@pytest.mark.parametrize("prefer, scope", [(None, []), ("meta.extra.score", []), (None, ["en", "zh"])])
def test_sharded_dedupe_reads_meta_only_where_the_survivor_score_is_in_it(tmp_path, prefer, scope):
    """The local executor's map phases parse shards without meta, the costliest field, unless the survivor's
    score (or the compared field) is a meta path; the records kept are the same as dedupe over records in memory,
    and with a meta score the better-scored copy survives in every language. Its decisions copy the kept rows
    as stored: records of sources outside the step's scope pass through untouched."""
    from curation.context import RunContext
    from curation.executors.local import LocalExecutor
    from curation.io.reader import SourceSpec
    from curation.plan import PlannedSource, PlannedStep
    from curation.steps.dedupe import Dedupe
    from curation.storage import Location
    from curation.workdir import WorkDir, file_digest, fingerprint

    work = WorkDir(Location.of(tmp_path / "work"))
    work.check(create=True)
    sources = []
    for lang, (q, a) in SCORED.items():  # one source (one shard) per language: the first copy scores lower
        rows = [{**chat_pair(q, a), "score": 1}, {**chat_pair(q, a + " (1)"), "score": 1},
                {**chat_pair(q, a + " (2)"), "score": 5},
                {**chat_pair(f"Unrelated question in {lang}", "A different answer altogether."), "score": 2}]
        path = write_jsonl(tmp_path / f"{lang}.jsonl", rows)
        spec = SourceSpec(path=str(path), license="CC-BY-4.0")
        fp = fingerprint("read", lang, file_digest(path))
        sources.append(PlannedSource(spec, file_digest(path), fp, work.read_entry(spec.source_name(), fp)))
    executor = LocalExecutor()
    executor.read(sources, work, None)
    options = {"threshold": 0.7, **({"keep": {"prefer": prefer}} if prefer else {})}
    step = Dedupe(Dedupe.Config(**options))
    assert (step.map_fields() is None) == (prefer is not None)
    fp = fingerprint("step", options)
    planned = PlannedStep(0, "dedupe", "dedupe", fp, work.step_entry(0, "dedupe", fp), options, scope, [])
    try:
        entry = executor.run_step(planned, step, RunContext(workers=2), [s.entry for s in sources], work, {}, None)
    finally:
        executor.close()
    every = [r for s in sources for r in s.entry.records()]
    in_scope = [r for r in every if not scope or r["source"] in scope]
    in_memory = {r["id"] for r in run(in_scope, options)[0]} | {r["id"] for r in every if r not in in_scope}
    kept = entry.records()
    assert {r["id"] for r in kept} == in_memory and len(kept) == len(in_memory)
    assert [r for r in kept if r["source"] not in (scope or SCORED)] == [r for r in every if r not in in_scope]
    deduped = [r for r in kept if not scope or r["source"] in scope]
    assert len(deduped) == 2 * len(scope or SCORED)  # per language, one of the three copies and the unrelated record
    scores = sorted(r["meta"]["extra"]["score"] for r in deduped)
    assert scores == ([2] * 4 + [5] * 4 if prefer else [1] * (len(deduped) // 2) + [2] * (len(deduped) // 2))
    ledger = json.loads(next((tmp_path / "work" / "steps").glob("*dedupe*/ledger.json")).read_text())
    assert ledger["dedupe"]["in"] == len(in_scope) and ledger["dedupe"]["rejected"] == len(scope or SCORED) * 2
