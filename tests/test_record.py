import hashlib
import json

import jsonschema

from curation.record import ARROW_SCHEMA, CanonicalRecord, from_table, make_record, record_id, to_table
from curation.schemas import all_schemas, render
from tests.conftest import ROOT


def _rec(q, a, source="s"):
    return make_record(source, "instruction", messages=[{"role": "user", "content": q},
                                                        {"role": "assistant", "content": a}])


def test_id_is_stable_across_machines():
    # The documented algorithm, computed independently: blake2b-80 of source, NUL, normalised content.
    content = b"user:What is sepsis?\nassistant:A dysregulated response to infection."
    expected = hashlib.blake2b(b"s\0" + content, digest_size=10).hexdigest()
    assert _rec("What is sepsis?", "A dysregulated response to infection.")["id"] == expected
    assert expected == "585bac74b506b97bff8d"  # and so the same on every machine and Python version


def test_id_ignores_whitespace_and_compatibility_forms_but_not_content_or_source():
    a = _rec("What is  sepsis?", "A dysregulated response\nto infection. ")
    b = _rec("What is sepsis?", "A dysregulated response to infection.")
    assert a["id"] == b["id"]
    # NFKC: full-width characters normalise to ASCII
    assert _rec("ＡＢＣ drug?", "yes")["id"] == _rec("ABC drug?", "yes")["id"]
    assert _rec("What is sepsis?", "Something else.")["id"] != b["id"]
    assert _rec("What is sepsis?", "A dysregulated response to infection.", source="t")["id"] != b["id"]
    # roles matter: the same text with roles swapped is different content
    swapped = make_record("s", "instruction", messages=[{"role": "assistant", "content": "What is sepsis?"},
                                                        {"role": "user", "content": "x"}])
    assert swapped["id"] != record_id("s", {"messages": [{"role": "user", "content": "What is sepsis?"},
                                                         {"role": "assistant", "content": "x"}]})


def test_arrow_round_trip_keeps_every_field_including_mcq_and_meta():
    mcq = {"question": "¿Qué antídoto?", "options": {"A": "Naloxona", "B": "Atropina"}, "answer": "A", "answers": None,
           "explanation": "Revierte opioides.", "context": None}
    recs = [
        make_record("mcq_es", "mcq", mcq=mcq, lang="es", messages=[
            {"role": "user", "content": "¿Qué antídoto?"}, {"role": "assistant", "content": "A"}],
            meta={"extra": {"x": [1, 2]}, "score": 4.5}),
        make_record("ar", "text", text="يعد ارتفاع ضغط الدم من أهم عوامل الخطر", lang="ar"),
    ]
    table = to_table(recs)
    assert table.schema == ARROW_SCHEMA
    back = from_table(table)
    assert back == recs
    for r in back:
        CanonicalRecord.model_validate(r)


def test_committed_schemas_are_generated_from_the_code():
    for name, schema in all_schemas().items():
        committed = (ROOT / "schemas" / name).read_text()
        assert committed == render(schema), f"schemas/{name} is stale: run `medcurate schemas`"


def test_record_schema_validates_records_and_rejects_bad_ones():
    schema = json.loads((ROOT / "schemas" / "record.schema.json").read_text())
    good = _rec("What is sepsis?", "An emergency.")
    jsonschema.validate(good, schema)
    bad = dict(good, task="essay")
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError as e:
        assert "essay" in str(e)
    else:
        raise AssertionError("a record with an unknown task validated")
