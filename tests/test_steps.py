"""The cleaning steps on the shipped sample data and on targeted cases."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.io import read_records
from curation.ledger import Ledger
from curation.pipeline import build_steps, run_steps
from curation.record import make_record
from curation.rejects import RejectWriter, read_rejects
from curation.steps import get_step
from curation.steps.langid import Langid
from curation.steps.normalize import Normalize
from curation.steps.pii import Pii
from curation.steps.quality import Quality
from tests.conftest import SAMPLE, SAMPLE_FILES

CHAIN = [("normalize", None), ("langid", None), ("pii", None), ("quality", None), ("relevance", None)]


def sample_records():
    return [r for p in SAMPLE_FILES for r in read_records(str(p))]


def where(rec):
    return (rec["meta"]["provenance"]["file"], rec["meta"]["provenance"]["locator"])


@pytest.fixture(scope="module")
def chain_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("chain")
    records = sample_records()
    before = {r["id"]: [m["role"] for m in r["messages"] or []] for r in records}
    ledger = Ledger()
    with RejectWriter(out / "rejects.jsonl") as rw:
        kept = run_steps(records, build_steps(CHAIN), rejects=rw, ledger=ledger, workers=1)
    return records, before, kept, read_rejects(out / "rejects.jsonl"), ledger


def test_each_planted_problem_is_caught_by_its_step(chain_run, planted):
    _, _, kept, rejects, _ = chain_run
    got = {(r["source_file"], r["locator"]): r["step"] for r in rejects}
    for step in ("langid", "quality", "relevance"):
        expected = {(p["file"], p["locator"]) for p in planted if p["step"] == step}
        assert {k for k, v in got.items() if v == step} == expected, step
    by_where = {where(r): r for r in kept}
    for p in planted:
        rec = by_where.get((p["file"], p["locator"]))
        if p["step"] == "pii":
            assert rec and rec["meta"]["pii"], p
            assert "@" not in json.dumps(rec["messages"], ensure_ascii=False)
        if p["problem"] == "html":
            assert "<p>" not in rec["messages"][1]["content"] and "&amp;" not in rec["messages"][1]["content"]
            assert "html" in rec["meta"]["normalize"]
        if p["problem"] == "mojibake":
            assert "mojibake" in rec["meta"]["normalize"]
            assert "â€" not in json.dumps(rec["messages"], ensure_ascii=False)
            assert "Ã" not in json.dumps(rec["messages"], ensure_ascii=False)
    pii_planted = {(p["file"], p["locator"]) for p in planted if p["step"] == "pii"}
    assert {where(r) for r in kept if r["meta"]["pii"]} == pii_planted, "no personal data found where none is"


def test_clean_records_survive_and_roles_and_order_are_unchanged(chain_run, planted):
    records, before, kept, rejects, ledger = chain_run
    n_dropped = sum(1 for p in planted if p["step"] in ("langid", "quality", "relevance"))
    assert len(kept) == len(records) - n_dropped
    for r in kept:
        assert [m["role"] for m in r["messages"] or []] == before[r["id"]]
    ledger.check()
    assert ledger.to_dict()["quality"]["in"] == ledger.to_dict()["pii"]["kept"]


def test_languages_are_labelled(chain_run):
    _, _, kept, _, _ = chain_run
    langs = {where(r): r["lang"] for r in kept}
    assert langs[("zh_alpaca.json", "item 0")] == "zh"
    assert langs[("ar_alpaca.csv", "line 2")] == "ar"
    assert langs[("es_sharegpt.json", "item 0")] == "es"
    assert langs[("en_openai.jsonl", "line 1")] == "en"
    assert all(r["meta"]["langid"]["confidence"] > 0 for r in kept)


def test_scores_are_kept_in_meta_for_kept_records(chain_run):
    _, _, kept, _, _ = chain_run
    q = kept[0]["meta"]["quality"]
    assert {"chars", "words", "dup_line_frac", "failed"} <= set(q)
    assert q["failed"] == []
    relevance = kept[0]["meta"]["relevance"]
    assert relevance["score"] >= 1.0 and {"source_share", "medical_source", "other_domain_terms"} <= set(relevance)


def test_deterministic_across_runs_and_process_counts(tmp_path):
    outs = []
    for workers in (1, 2, 2):
        import curation.pipeline as pipeline

        pipeline.CHUNK = 25  # several chunks, so two workers really share the work
        with RejectWriter(tmp_path / f"r{workers}.jsonl") as rw:
            kept = run_steps(sample_records(), build_steps(CHAIN), rejects=rw, ledger=Ledger(), workers=workers)
        outs.append(json.dumps(kept, ensure_ascii=False, sort_keys=True))
    pipeline.CHUNK = 2000
    assert outs[0] == outs[1] == outs[2]


@pytest.mark.parametrize("text,expected", [
    ("Email me at ana.lopez@hospital-example.es today", "Email me at <EMAIL> today"),
    ("Call +44 20 7946 0958 or (212) 555-0147", "Call <PHONE> or <PHONE>"),
    ("Mi teléfono es 612 345 678.", "Mi teléfono es <PHONE>."),
    ("我的手机号是13812345678", "我的手机号是<PHONE>"),
    ("身份证号110101199003077777", "身份证号<ID>"),
    ("SSN 123-45-6789, DNI 12345678Z", "SSN <ID>, DNI <ID>"),
    ("born on 03/14/1962", "born on <DATE_OF_BIRTH>"),
    ("fecha de nacimiento: 12/05/1980", "fecha de nacimiento: <DATE_OF_BIRTH>"),
    ("MRN: 4839201", "MRN: <MRN>"),
    ("病历号：A123456", "病历号：<MRN>"),
    ("Server 10.0.0.12 logs", "Server <IP> logs"),
    ("see https://portal.example.org/patients/jdoe/records", "see <URL>"),
    ("I live at 221 Baker Street", "I live at <ADDRESS>"),
    ("راسلني على ahmad.saleh@example-mail.com أو اتصل بالرقم +971 50 123 4567",
     "راسلني على <EMAIL> أو اتصل بالرقم <PHONE>"),
])
def test_pii_patterns(text, expected):
    counts = {}
    assert Pii().scrub(text, counts) == expected


def test_pii_leaves_clinical_numbers_alone():
    text = ("BP 140/90 mmHg, metformin 500 mg twice daily up to 2,550 mg, K+ 5.0 mmol/L, adrenaline 0.5 mL of "
            "1:1000, HbA1c 6.5%, 10 to 21 days, folic acid 400 micrograms, ICD-10 E11.9, year 1962, 2024-05-01")
    counts = {}
    assert Pii().scrub(text, counts) == text and counts == {}


def test_pii_threshold_drops_records():
    step = Pii(Pii.Config(max_replacements=1))
    rec = make_record("s", "instruction", messages=[
        {"role": "user", "content": "Write to a@b.com or c@d.org"}, {"role": "assistant", "content": "Done."}])
    with pytest.raises(Exception, match="too much personal data"):
        step.process(rec)
    assert rec["meta"]["pii"] == {"EMAIL": 2}


def test_names_are_caught_only_after_titles_when_asked():
    counts = {}
    text = "Dr. Smith saw Maria Garcia"
    assert Pii().scrub(text, counts) == text
    assert Pii(Pii.Config(names_with_titles=True)).scrub(text, counts) == "Dr. <NAME> saw Maria Garcia"


def test_langid_keep_list_and_script_fast_path():
    step = Langid(Langid.Config(keep=["en", "es"]))
    zh = make_record("s", "instruction", messages=[{"role": "user", "content": "什么是冠心病？"},
                                                   {"role": "assistant", "content": "冠状动脉粥样硬化导致的心脏病。"}])
    with pytest.raises(Exception, match="language not kept"):
        step.process(zh)
    assert zh["lang"] == "zh" and zh["meta"]["langid"]["method"] == "script"


def test_normalize_keeps_roles_and_turns():
    rec = make_record("s", "dialogue", messages=[
        {"role": "system", "content": "  Be  brief.\u200b "},
        {"role": "user", "content": "Ｆｅｖｅｒ?\n\n\n\nHelp"},
        {"role": "assistant", "content": "Drink &amp; rest.<br>See a doctor."},
        {"role": "user", "content": "ok"}, {"role": "assistant", "content": "Bye"}])
    Normalize().process(rec)
    assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert [m["content"] for m in rec["messages"]] == ["Be brief.", "Fever?\n\nHelp", "Drink & rest.\nSee a doctor.",
                                                       "ok", "Bye"]


def test_quality_token_bounds_with_a_local_tokenizer(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate("what is the dose of insulin".split())}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path / "tok")
    step = Quality(Quality.Config(tokenizer=str(tmp_path / "tok"), max_tokens=8, min_medical_score=None))
    rec = make_record("s", "instruction", messages=[
        {"role": "user", "content": "What is the dose of insulin for a newly diagnosed adult patient?"},
        {"role": "assistant", "content": "About 0.1 to 0.2 units per kilogram per day at first."}])
    with pytest.raises(Exception, match="too long \\(tokens\\)"):
        step.process(rec)
    assert rec["meta"]["quality"]["tokens"] > 8


@pytest.mark.parametrize("content", [None, 12345, "x" * 10_000_000, "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ ᎠᏓᏅᏙ ᎤᏓᏅᏘ", "བོད་ཡིག་ནི་སྐད་ཡིག་ཡིན།"])
def test_bad_input_never_crashes_a_step(tmp_path, content):
    rec = {"id": "x", "source": "s", "lang": None, "task": "instruction", "text": None, "mcq": None,
           "parent_id": None, "origin": None, "meta": {},
           "messages": [{"role": "user", "content": content}, {"role": "assistant", "content": content}]}
    ledger = Ledger()
    with RejectWriter(tmp_path / "r.jsonl") as rw:
        kept = run_steps([rec], build_steps(CHAIN), rejects=rw, ledger=ledger)
    rejects = read_rejects(tmp_path / "r.jsonl")
    assert len(kept) + len(rejects) == 1
    if rejects:
        assert rejects[0]["reason"] and rejects[0]["step"] in {"normalize", "langid", "pii", "quality"}
    ledger.check()


def test_registry_knows_every_step_by_name():
    for name in ("normalize", "langid", "pii", "quality", "relevance"):
        assert get_step(name).name == name
    with pytest.raises(KeyError, match="unknown step"):
        get_step("summarize")


def test_cli_clean_single_steps_and_report(tmp_path):
    runner = CliRunner()
    out = tmp_path / "en.jsonl"
    res = runner.invoke(app, ["clean", str(SAMPLE / "en_openai.jsonl"), str(out), "-j", "2"])
    assert res.exit_code == 0, res.output
    rejects = read_rejects(tmp_path / "en.rejects.jsonl")
    assert {r["step"] for r in rejects} == {"read", "quality", "relevance"}
    (tmp_path / "cfg.yaml").write_text("relevance:\n  min_general_terms: null\n")
    res = runner.invoke(app, ["clean", str(SAMPLE / "en_openai.jsonl"), str(tmp_path / "b.jsonl"),
                              "--config", str(tmp_path / "cfg.yaml")])
    assert res.exit_code == 0
    assert "not medical" not in {r["reason"] for r in read_rejects(tmp_path / "b.rejects.jsonl")}
    res = runner.invoke(app, ["pii", str(SAMPLE / "zh_alpaca.json"), str(tmp_path / "zh.parquet")])
    assert res.exit_code == 0, res.output
    assert any("<PHONE>" in r["messages"][0]["content"] for r in read_records(str(tmp_path / "zh.parquet")))
    res = runner.invoke(app, ["stats", str(tmp_path / "en.rejects.jsonl"), "--json"])
    report = json.loads(res.output)["rejects"]
    assert report["relevance"]["not medical"]["count"] == 1
    assert len(report["relevance"]["not medical"]["examples"]) == 1
    (tmp_path / "bad.yaml").write_text("quality:\n  min_chars: many\n")
    res = runner.invoke(app, ["quality", str(SAMPLE / "en_openai.jsonl"), str(tmp_path / "c.jsonl"),
                              "--config", str(tmp_path / "bad.yaml")])
    assert res.exit_code == 2 and "min_chars" in res.output


def test_a_module_dropped_into_the_steps_package_is_registered_without_another_edit(tmp_path):
    import subprocess
    import sys
    import uuid

    from curation import steps

    name = f"probe_{uuid.uuid4().hex[:8]}"
    module = Path(steps.__file__).parent / f"{name}.py"
    module.write_text(
        "from .base import RecordStep, register\n\n\n"
        f"@register('{name}')\nclass Probe(RecordStep):\n"
        "    def process(self, record):\n        return 'dropped by the probe' if 'fiebre' in str(record) else None\n",
        encoding="utf-8")
    try:
        code = (f"from curation.steps import get_step; s = get_step('{name}')(); "
                "print(s.process({'messages': [{'role': 'user', 'content': 'tengo fiebre'}]}))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    finally:
        module.unlink()
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "dropped by the probe"


def misbehaving_step(kind: str, generator: bool = False):
    """A global step that breaks the ledger's identities in a way a count alone would not notice."""
    from curation.steps.base import GlobalStep, StepResult

    class Misbehaving(GlobalStep):
        name = f"bad-{kind}"

        def apply(self, records):
            first, *rest = records
            if kind == "drop-and-invent":  # as many out as in
                return StepResult(rest + [make_record("x", "instruction", messages=first["messages"][::-1])], [])
            if kind == "duplicate":  # one kept twice, another neither kept nor rejected
                return StepResult([first, first, *rest[1:]], [])
            if kind == "orphan":  # an added record with no parent
                orphan = make_record("x", "text", text="新增的记录")
                return StepResult(records + [orphan], [], [orphan])
            child = make_record("x", "instruction", messages=first["messages"], parent_id=first["id"], lang="es")
            if kind == "undeclared":  # a proper child, but the step does not say it added it
                return StepResult(records + [child], [])
            return StepResult(records + [child], [], [child])

    Misbehaving.generator = generator
    return Misbehaving()


QA_ROWS = [("¿Qué es la anemia ferropénica?", "Falta de hierro que reduce la hemoglobina."),
           ("What is the first-line drug for type 2 diabetes?", "Metformin, unless contraindicated."),
           ("哮喘急性发作首选什么药？", "吸入短效β2受体激动剂，如沙丁胺醇。"),
           ("ما علاج نقص فيتامين د؟", "مكملات فيتامين د مع متابعة مستوى الكالسيوم.")]


@pytest.mark.parametrize("kind,message", [("drop-and-invent", "lost"), ("duplicate", "returned 2 times"),
                                          ("orphan", "without naming an input as its parent"),
                                          ("undeclared", "neither an input nor declared as added")])
def test_the_ledger_catches_a_step_that_loses_duplicates_or_invents_records(tmp_path, kind, message):
    from curation.ledger import LedgerMismatch

    recs = [make_record("qa", "instruction", messages=[{"role": "user", "content": q},
                                                       {"role": "assistant", "content": a}]) for q, a in QA_ROWS]
    with RejectWriter(tmp_path / "r.jsonl") as rw, pytest.raises(LedgerMismatch, match=f"bad-{kind}.*{message}"):
        run_steps(recs, [misbehaving_step(kind)], rejects=rw, ledger=Ledger())


def test_the_ledger_counts_records_added_with_a_parent(tmp_path):
    recs = [make_record("qa", "instruction", messages=[{"role": "user", "content": q},
                                                       {"role": "assistant", "content": a}]) for q, a in QA_ROWS]
    ledger = Ledger()
    with RejectWriter(tmp_path / "r.jsonl") as rw:
        out = run_steps(recs, [misbehaving_step("child")], rejects=rw, ledger=ledger)
    assert len(out) == 5 and ledger.to_dict()["bad-child"] == {"in": 4, "added": 1, "kept": 5, "rejected": 0,
                                                                "reasons": {}}


def test_a_generator_may_add_records_without_a_parent(tmp_path):
    recs = [make_record("qa", "instruction", messages=[{"role": "user", "content": q},
                                                       {"role": "assistant", "content": a}]) for q, a in QA_ROWS]
    ledger = Ledger()
    with RejectWriter(tmp_path / "r.jsonl") as rw:
        out = run_steps(recs, [misbehaving_step("orphan", generator=True)], rejects=rw, ledger=ledger)
    assert len(out) == 5 and ledger.to_dict()["bad-orphan"]["added"] == 1


def test_tidy_ascii_text_skips_only_passes_that_would_change_nothing():
    """Normalize skips its control and whitespace passes on ASCII text they would leave as it is; on random text
    made of letters, spaces, newlines, tabs, carriage returns, separators and controls (and on real answers) its
    result must equal the four passes run anyway."""
    import random

    from curation.steps.normalize import BLANK_LINES, CONTROL, SPACES, TRAILING, tidy_ascii

    def passes(s: str) -> str:
        return BLANK_LINES.sub("\n\n", TRAILING.sub("\n", SPACES.sub(" ", CONTROL.sub("", s)))).strip()

    rng = random.Random(3)
    alphabet = ["a", "B", ".", " ", " ", "\n", "\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x00", "\x7f"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(20000)]
    texts += ["Take 500 mg twice daily.\n\nReview in two weeks.", " leading", "trailing\n", "a\n\n\nb", "tab\there"]
    step = Normalize()
    skipped = 0
    for s in texts:
        assert step.clean(s, set()) == passes(s), repr(s)
        if tidy_ascii(s):
            skipped += 1
            assert passes(s) == s, repr(s)
    assert skipped > 1000
