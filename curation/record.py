"""The canonical record: one pydantic model is the source of truth, with its Arrow twin beside it.

Records travel between steps as plain dicts (fast to build) or Arrow tables (fast to move and store).
`meta` is free-form, so in Arrow it is stored as a JSON string; `mcq.options` is a dict in Python and a
list of {label, text} structs in Arrow, which keeps option order and stays friendly to polars.

A `preference` record holds the prompt in `messages` (up to and including the last user turn) and the
replies in `preference`: a chosen and a rejected one (paired, for DPO-style objectives), or one completion
with a good/bad label (unpaired, for KTO).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import orjson
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["system", "user", "assistant"]
Task = Literal["instruction", "dialogue", "mcq", "text", "preference"]
Record = dict[str, Any]  # a canonical record while it travels between steps (a plain dict: fast to build)
TASKS: tuple[str, ...] = ("instruction", "dialogue", "mcq", "text", "preference")
PREFERENCE_ORIGINS: tuple[str, ...] = ("review-edit", "review-decision", "judge", "dataset")
ROLES: tuple[str, ...] = ("system", "user", "assistant")


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    content: str = Field(min_length=1)


class MCQ(BaseModel):
    """Multiple choice kept structured, so it can be rendered in several prompt styles and evaluated."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1)
    options: dict[str, str] = Field(description="Option label (A, B, ...) to option text, in order.")
    answer: str | None = Field(None, description="The label of the correct option, for single-answer items.")
    answers: list[str] | None = Field(
        None, description="The sorted labels of every correct option, for multiple-answer items (CMExam, CMB)."
    )
    explanation: str | None = None
    context: str | None = Field(None, description="A passage the question is asked about (PubMedQA).")

    @model_validator(mode="after")
    def _one_answer_kind(self) -> MCQ:
        """Exactly one of `answer` / `answers`, and every label among the options: a bad key is caught on read."""
        if (self.answer is None) == (self.answers is None):
            raise ValueError("an MCQ has either `answer` (one label) or `answers` (several labels), not both or none")
        for label in self.answers or [self.answer]:
            if label not in self.options:
                raise ValueError(f"answer '{label}' is not one of the options ({', '.join(self.options)})")
        return self


def squash(text: str) -> str:
    """Whitespace collapsed: two replies equal after this are the same reply."""
    return " ".join(text.split())


class Preference(BaseModel):
    """Which reply is preferred to a prompt: paired (chosen, rejected) or unpaired (completion, label)."""

    model_config = ConfigDict(extra="forbid")
    chosen: str | None = Field(None, description="Paired: the preferred assistant reply.")
    rejected: str | None = Field(None, description="Paired: the reply it is preferred to.")
    completion: str | None = Field(None, description="Unpaired (KTO): one assistant reply.")
    label: bool | None = Field(None, description="Unpaired: true when the completion is desirable.")
    origin: Literal["review-edit", "review-decision", "judge", "dataset"] = Field(
        description="Where the preference came from.")
    margin: float | None = Field(None, description="Judge score gap (paired) or judge score (unpaired); none "
                                                   "for human and dataset preferences.")
    derived_from: list[str] = Field(default_factory=list, description="Ids of the records it was derived from.")

    @model_validator(mode="after")
    def _one_kind(self) -> Preference:
        """Exactly one of the two kinds, with non-empty, distinct replies."""
        paired = self.chosen is not None or self.rejected is not None
        if paired == (self.completion is not None or self.label is not None):
            raise ValueError("a preference is paired (chosen, rejected) or unpaired (completion, label)")
        if paired:
            if not (self.chosen or "").strip() or not (self.rejected or "").strip():
                raise ValueError("a paired preference needs a non-empty chosen and rejected reply")
            if squash(self.chosen or "") == squash(self.rejected or ""):
                raise ValueError("chosen and rejected are the same reply")
        elif not (self.completion or "").strip() or self.label is None:
            raise ValueError("an unpaired preference needs a non-empty completion and a label")
        return self


class CanonicalRecord(BaseModel):
    """One training example, whatever format it came from."""

    model_config = ConfigDict(extra="forbid", title="medcurate record")
    id: str = Field(description="Stable hash of source and normalised content.")
    source: str = Field(description="Name of the source the record was read from.")
    lang: str | None = Field(None, description="ISO 639-1 code, once known.")
    task: Task
    messages: list[Message] | None = Field(None, description="The conversation, for every task but text.")
    text: str | None = Field(None, description="Plain text, for continued pre-training corpora.")
    mcq: MCQ | None = None
    preference: Preference | None = Field(None, description="The replies and which is preferred, for task "
                                                            "preference.")
    parent_id: str | None = Field(None, description="The record this one was derived from.")
    origin: str | None = Field(None, description="How a derived record was made: translate, review-edit, ...")
    meta: dict[str, Any] = Field(default_factory=dict, description="Provenance, original fields and scores.")

    @model_validator(mode="after")
    def _preference_with_its_task(self) -> CanonicalRecord:
        """`preference` is set exactly on preference records, whose messages end with the user's turn."""
        if (self.task == "preference") != (self.preference is not None):
            raise ValueError("`preference` is set exactly when task is 'preference'")
        if self.task == "preference" and (not self.messages or self.messages[-1].role != "user"):
            raise ValueError("a preference record's messages are the prompt: they end with a user turn")
        return self


MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
OPTION_TYPE = pa.struct([("label", pa.string()), ("text", pa.string())])
MCQ_TYPE = pa.struct(
    [
        ("question", pa.string()),
        ("options", pa.list_(OPTION_TYPE)),
        ("answer", pa.string()),
        ("answers", pa.list_(pa.string())),
        ("explanation", pa.string()),
        ("context", pa.string()),
    ]
)
PREFERENCE_TYPE = pa.struct(
    [
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        ("completion", pa.string()),
        ("label", pa.bool_()),
        ("origin", pa.string()),
        ("margin", pa.float64()),
        ("derived_from", pa.list_(pa.string())),
    ]
)
PREFERENCE_KEYS: tuple[str, ...] = tuple(f.name for f in PREFERENCE_TYPE)
ARROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("lang", pa.string()),
        ("task", pa.string()),
        ("messages", pa.list_(MESSAGE_TYPE)),
        ("text", pa.string()),
        ("mcq", MCQ_TYPE),
        ("preference", PREFERENCE_TYPE),
        ("parent_id", pa.string()),
        ("origin", pa.string()),
        ("meta", pa.string()),
    ]
)
FIELDS: tuple[str, ...] = tuple(ARROW_SCHEMA.names)


def dotted(record: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (meta.judge.overall), None where the path does not exist."""
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def content_key(record: dict[str, Any]) -> str:
    """The normalised content a record is identified by: NFKC, whitespace collapsed, roles kept."""
    if record.get("messages"):
        parts = [m["role"] + ":" + " ".join(m["content"].split()) for m in record["messages"]]
    else:
        parts = [" ".join((record.get("text") or "").split())]
    mcq = record.get("mcq")
    if mcq:
        parts.append("|".join(f"{k}={v}" for k, v in mcq["options"].items()) + "|" + "".join(answer_labels(mcq)))
    pref = record.get("preference")
    if pref:
        parts += preference_key_parts(pref)
    key = "\n".join(parts)
    return key if key.isascii() else unicodedata.normalize("NFKC", key)


def preference_key_parts(pref: dict[str, Any]) -> list[str]:
    """The replies and the label, whitespace collapsed: a different verdict on the same replies is another record."""
    if pref.get("chosen") is not None:
        return ["chosen:" + squash(pref["chosen"]), "rejected:" + squash(pref.get("rejected") or "")]
    return ["completion:" + squash(pref.get("completion") or ""), f"label:{bool(pref.get('label'))}"]


def record_id(source: str, record: dict[str, Any]) -> str:
    """Same source and content give the same id on every machine and Python version."""
    h = hashlib.blake2b(digest_size=10)
    h.update(source.encode())
    h.update(b"\0")
    h.update(content_key(record).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def make_record(source: str, task: str, **fields: Any) -> dict[str, Any]:
    """A record dict with every canonical field present and its id computed."""
    rec: dict[str, Any] = {
        "id": "",
        "source": source,
        "lang": fields.get("lang"),
        "task": task,
        "messages": fields.get("messages"),
        "text": fields.get("text"),
        "mcq": fields.get("mcq"),
        "preference": _full_preference(fields.get("preference")),
        "parent_id": fields.get("parent_id"),
        "origin": fields.get("origin"),
        "meta": fields.get("meta") or {},
    }
    rec["id"] = fields.get("id") or record_id(source, rec)
    return rec


def _full_preference(pref: dict[str, Any] | None) -> dict[str, Any] | None:
    """Every key of the struct present, so dicts compare equal before and after a trip through Arrow."""
    if pref is None:
        return None
    out = {k: pref.get(k) for k in PREFERENCE_KEYS}
    out["derived_from"] = list(out["derived_from"] or [])
    return out


def answer_labels(mcq: dict[str, Any]) -> list[str]:
    """Every correct label of an MCQ, single- or multiple-answer, so callers need not tell the two apart."""
    if mcq.get("answers"):
        return list(mcq["answers"])
    return [mcq["answer"]] if mcq.get("answer") else []


def _mcq_to_arrow(mcq: dict[str, Any] | None) -> dict[str, Any] | None:
    if mcq is None:
        return None
    out = dict(mcq)
    out["options"] = [{"label": k, "text": v} for k, v in mcq["options"].items()]
    out.setdefault("answer", None)
    out.setdefault("answers", None)
    out.setdefault("explanation", None)
    out.setdefault("context", None)
    return out


def _mcq_from_arrow(mcq: dict[str, Any] | None) -> dict[str, Any] | None:
    if mcq is None:
        return None
    out = dict(mcq)
    out["options"] = {o["label"]: o["text"] for o in mcq["options"] or []}
    return out


def to_table(records: list[dict[str, Any]]) -> pa.Table:
    """Record dicts to an Arrow table of the canonical schema."""
    dumps, opt = orjson.dumps, orjson.OPT_SORT_KEYS
    cols: dict[str, list[Any]] = {}
    for name in FIELDS:
        if name == "meta":
            cols[name] = [dumps(r.get("meta") or {}, option=opt).decode() for r in records]
        elif name == "mcq":
            cols[name] = [_mcq_to_arrow(r.get("mcq")) for r in records]
        elif name == "preference":
            cols[name] = [_full_preference(r.get("preference")) for r in records]
        else:
            cols[name] = [r.get(name) for r in records]
    return pa.Table.from_pydict(cols, schema=ARROW_SCHEMA)


def canonical(table: pa.Table) -> pa.Table:
    """A stored table in the canonical schema, column order and nested names included (a work dir written
    before preference records existed lacks their column)."""
    if "preference" not in table.column_names:
        table = table.append_column(pa.field("preference", PREFERENCE_TYPE), pa.nulls(table.num_rows, PREFERENCE_TYPE))
    # cast even when equal: parquet names a list's items "element", Arrow "item", and a rewritten file keeps them
    return table.select(list(FIELDS)).cast(ARROW_SCHEMA)


def with_empty_fields(table: pa.Table) -> pa.Table:
    """A table of some of the canonical fields with the others added as nulls, which `from_table` reads as
    empty (meta {}, the rest None)."""
    for name in FIELDS:
        if name not in table.column_names:
            field = ARROW_SCHEMA.field(name)
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table


def from_table(table: pa.Table) -> list[dict[str, Any]]:
    """An Arrow table of the canonical schema back to record dicts."""
    rows = canonical(table).to_pylist()
    for r in rows:
        r["meta"] = orjson.loads(r["meta"]) if r["meta"] else {}
        r["mcq"] = _mcq_from_arrow(r["mcq"])
    return rows


def cut_tables(tables: Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """The rows of `tables`, in order, as tables of exactly `rows` rows in one chunk each, then the rest (if any):
    what is written from them does not depend on how the input came cut (files, byte ranges, batches)."""
    held: list[pa.Table] = []
    count = 0
    for table in tables:
        held.append(table)
        count += table.num_rows
        if count >= rows:
            whole, cut = pa.concat_tables(held).combine_chunks(), count - count % rows
            for start in range(0, cut, rows):
                yield whole.slice(start, rows)
            held, count = [whole.slice(cut)], count - cut
    if count:
        yield pa.concat_tables(held).combine_chunks()


def empty_table() -> pa.Table:
    return ARROW_SCHEMA.empty_table()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a record, as committed in schemas/record.schema.json."""
    schema = CanonicalRecord.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://medcurate.dev/schemas/record.schema.json"
    return schema
