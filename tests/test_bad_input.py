"""Bad input never loses a record silently: it goes to rejects with file, locator, field and reason."""

import json

import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.errors import MedcurateError, StrictModeError
from curation.io import SourceSpec, read_records
from curation.ledger import Ledger
from curation.rejects import RejectWriter, read_rejects
from tests.conftest import SAMPLE, SAMPLE_FILES, qa

GOOD = [qa("What is the first-line treatment of anaphylaxis?", "Intramuscular adrenaline 0.5 mg."),
        qa("¿Qué es el ictus?", "La interrupción del flujo de sangre al cerebro."),
        qa("什么是冠心病？", "冠状动脉粥样硬化导致心肌缺血的心脏病。"),
        qa("ما هو الربو؟", "مرض مزمن يصيب الشعب الهوائية.")]


def bad_file(tmp_path):
    lines = [json.dumps(GOOD[0]).encode(),
             b'{"messages": [{"role": "user", "content": "Dose of',                           # 2 malformed
             json.dumps({"messages": [{"role": "user", "content": 5},
                                      {"role": "assistant", "content": "x"}]}).encode(),       # 3 wrong type
             json.dumps(GOOD[1], ensure_ascii=False).encode(),
             json.dumps(qa("What is gout?", "   ")).encode(),                                 # 5 empty message
             json.dumps({"messages": [{"role": "user"}, {"role": "assistant", "content": "Rest."}]}).encode(),
             b'{"messages": [{"role": "user", "content": "\xff\xfeinsulina"}, '
             b'{"role": "assistant", "content": "ok"}]}',                                      # 7 invalid UTF-8
             json.dumps(GOOD[2], ensure_ascii=False).encode(),
             json.dumps({"messages": [{"role": "user", "content": "Only a question?"}]}).encode(),  # 9
             json.dumps(GOOD[3], ensure_ascii=False).encode()]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


EXPECTED = {  # line -> (field, reason)
    "line 2": (None, "malformed JSON"),
    "line 3": ("messages[0].content", "expected a string, got int"),
    "line 5": ("messages[1].content", "empty assistant message"),
    "line 6": ("messages[0].content", "missing content"),
    "line 7": (None, "invalid UTF-8"),
    "line 9": ("messages", "no assistant message"),
}


def test_each_bad_line_goes_to_rejects_with_locator_field_and_reason(tmp_path):
    path = bad_file(tmp_path)
    ledger = Ledger()
    with RejectWriter(tmp_path / "out.rejects.jsonl") as rw:
        recs = read_records(str(path), rejects=rw, ledger=ledger)
    assert [r["messages"][0]["content"] for r in recs] == [g["messages"][0]["content"] for g in GOOD]
    rejects = read_rejects(tmp_path / "out.rejects.jsonl")
    got = {r["locator"]: (r["field"], r["reason"].split(" (")[0]) for r in rejects}
    assert got == EXPECTED
    for r in rejects:
        assert r["step"] == "read" and r["source_file"] == str(path) and r["raw"]
    assert next(r for r in rejects if r["locator"] == "line 2")["raw"].startswith('{"messages": [{"role"')
    assert "\\xff" in next(r for r in rejects if r["locator"] == "line 7")["raw"]
    e = ledger.to_dict()["read:bad"]
    assert (e["in"], e["kept"], e["rejected"]) == (10, 4, 6)
    assert sum(e["reasons"].values()) == 6
    ledger.check()


def test_strict_stops_at_the_first_bad_record_with_the_same_message(tmp_path):
    path = bad_file(tmp_path)
    with pytest.raises(StrictModeError) as exc:
        read_records(str(path), strict=True)
    assert str(exc.value).startswith(f"{path}:line 2: malformed JSON")


def test_missing_file_unknown_type_and_all_bad_are_clear_errors(tmp_path):
    with pytest.raises(MedcurateError, match="no such file"):
        read_records(str(tmp_path / "nope.jsonl"))
    (tmp_path / "data.xml").write_text("<x/>")
    with pytest.raises(MedcurateError, match="unknown file type"):
        read_records(str(tmp_path / "data.xml"))
    (tmp_path / "allbad.jsonl").write_text('{"messages": []}\n{"messages": 3}\n')
    with RejectWriter(tmp_path / "r.jsonl") as rw, pytest.raises(MedcurateError, match="every one of its 2"):
        read_records(SourceSpec(path=str(tmp_path / "allbad.jsonl"), format="openai"), rejects=rw)
    assert len(read_rejects(tmp_path / "r.jsonl")) == 2, "rejects are written even when the run fails"
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(MedcurateError, match="no readable records|contains no records"):
        read_records(str(tmp_path / "empty.jsonl"))


def test_cli_errors_are_messages_not_tracebacks(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["convert", str(tmp_path / "missing.jsonl"), str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2 and "no such file" in res.output and "Traceback" not in res.output
    path = bad_file(tmp_path)
    res = runner.invoke(app, ["convert", str(path), str(tmp_path / "o.jsonl"), "--strict"])
    assert res.exit_code == 2 and "line 2: malformed JSON" in res.output


def test_every_planted_read_problem_in_the_sample_is_rejected_where_planted(tmp_path, planted):
    with RejectWriter(tmp_path / "r.jsonl") as rw:
        ledger = Ledger()
        for path in SAMPLE_FILES:
            read_records(str(path), rejects=rw, ledger=ledger)
    got = {(r["source_file"].split("/")[-1], r["locator"]) for r in read_rejects(tmp_path / "r.jsonl")}
    expected = {(p["file"], p["locator"]) for p in planted if p["step"] == "read"}
    assert got == expected, "exactly the planted bad rows are rejected, nothing else"
    ledger.check()
    total = ledger.to_dict()
    assert sum(e["in"] for e in total.values()) == sum(e["kept"] + e["rejected"] for e in total.values())


def test_cli_convert_inspect_stats(tmp_path):
    runner = CliRunner()
    out = tmp_path / "en.parquet"
    res = runner.invoke(app, ["convert", str(SAMPLE / "en_openai.jsonl"), str(out)])
    assert res.exit_code == 0, res.output
    rejects = read_rejects(tmp_path / "en.rejects.jsonl")
    assert len(rejects) == 4
    assert len(read_records(str(out))) == 45

    res = runner.invoke(app, ["convert", str(SAMPLE / "zh_alpaca.json"), str(tmp_path / "zh"), "--to", "hf",
                              "--rejects", str(tmp_path / "custom.jsonl"), "--lang", "zh"])
    assert res.exit_code == 0, res.output
    assert len(read_rejects(tmp_path / "custom.jsonl")) == 1
    assert {r["lang"] for r in read_records(str(tmp_path / "zh"))} == {"zh"}

    res = runner.invoke(app, ["inspect", str(SAMPLE / "es_sharegpt.json")])
    assert res.exit_code == 0 and "format sharegpt" in res.output and "24 readable, 3 rejected" in res.output

    res = runner.invoke(app, ["stats", str(out), "--plot", str(tmp_path / "plots"), "--json"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.output[: res.output.rindex("}") + 1])
    assert stats["stats"]["records"] == 45
    assert stats["rejects"]["read"]["malformed JSON"]["count"] == 1
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {
        "lang.png", "source.png", "task.png", "length_chars.png", "length_words.png"}
