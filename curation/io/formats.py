"""Format adapters: one small function per input format, mapping a raw row onto the canonical record.

An adapter raises `RecordError(field, reason)` for a row it cannot map; the reader turns that into a
reject and goes on. Fields the adapter does not use are kept in `meta["extra"]`, so nothing is lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import RecordError
from ..record import ROLES, TASKS, answer_labels, make_record

Adapter = Callable[[Any, str], dict[str, Any]]


@dataclass(frozen=True)
class Format:
    name: str
    matches: Callable[[Any], bool]
    adapt: Adapter
    description: str
    structured: bool = True  # a structured format shadows the `text` fallback when both match


FORMATS: dict[str, Format] = {}


def register(name: str, matches: Callable[[Any], bool], description: str, structured: bool = True):
    def deco(fn: Adapter) -> Adapter:
        FORMATS[name] = Format(name, matches, fn, description, structured)
        return fn

    return deco


# ---------------------------------------------------------------- helpers

def _type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _text(row: dict[str, Any], key: str, field: str | None = None, required: bool = True) -> str | None:
    v = row.get(key)
    if v is None:
        if required:
            raise RecordError(field or key, "missing required field")
        return None
    if not isinstance(v, str):
        raise RecordError(field or key, f"expected a string, got {_type_name(v)}")
    if not v.strip():
        if required:
            raise RecordError(field or key, "empty")
        return None
    return v


def _extra(row: dict[str, Any], used: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in used}


def _meta(row: dict[str, Any], used: frozenset[str]) -> dict[str, Any]:
    extra = _extra(row, used)
    meta: dict[str, Any] = {}
    if extra:
        meta["extra"] = extra
    return meta


def _lang(row: dict[str, Any]) -> str | None:
    v = row.get("lang") or row.get("language")
    return v if isinstance(v, str) and v else None


def _task_of(messages: list[dict[str, str]]) -> str:
    return "dialogue" if sum(1 for m in messages if m["role"] == "user") > 1 else "instruction"


def check_messages(messages: list[dict[str, str]], field: str) -> None:
    """A conversation needs a user turn and an assistant turn, each non-empty."""
    if not any(m["role"] == "user" for m in messages):
        raise RecordError(field, "no user message")
    if not any(m["role"] == "assistant" for m in messages):
        raise RecordError(field, "no assistant message")


def _messages(items: Any, field: str, role_key: str, content_key: str,
              role_map: dict[str, str] | None = None, check: bool = True) -> list[dict[str, str]]:
    if not isinstance(items, list):
        raise RecordError(field, f"expected a list of messages, got {_type_name(items)}")
    out = []
    for i, m in enumerate(items):
        if not isinstance(m, dict):
            raise RecordError(f"{field}[{i}]", f"expected an object, got {_type_name(m)}")
        role = m.get(role_key)
        if not isinstance(role, str):
            raise RecordError(f"{field}[{i}].{role_key}", "missing role" if role is None
                              else f"expected a string, got {_type_name(role)}")
        role = (role_map or {}).get(role.lower(), role.lower())
        if role not in ROLES:
            raise RecordError(f"{field}[{i}].{role_key}", f"unknown role ('{m.get(role_key)}')")
        content = m.get(content_key)
        if not isinstance(content, str):
            raise RecordError(f"{field}[{i}].{content_key}", "missing content" if content is None
                              else f"expected a string, got {_type_name(content)}")
        if not content.strip():
            raise RecordError(f"{field}[{i}].{content_key}", f"empty {role} message")
        out.append({"role": role, "content": content})
    if check:
        check_messages(out, field)
    return out


def _is_dict_with(*keys: str) -> Callable[[Any], bool]:
    return lambda row: isinstance(row, dict) and all(k in row for k in keys)


# ---------------------------------------------------------------- conversations

def _is_preference(row: Any) -> bool:
    return isinstance(row, dict) and "chosen" in row and "rejected" in row


def _is_unpaired(row: Any) -> bool:
    return isinstance(row, dict) and all(k in row for k in ("prompt", "completion", "label"))


@register("openai", lambda row: _is_dict_with("messages")(row) and not _is_preference(row),
          "OpenAI chat: `messages` of {role, content}")
def adapt_openai(row: dict[str, Any], source: str) -> dict[str, Any]:
    messages = _messages(row["messages"], "messages", "role", "content")
    return make_record(source, _task_of(messages), messages=messages, lang=_lang(row),
                       meta=_meta(row, frozenset(("messages", "lang", "language"))))


SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "model": "assistant", "bot": "assistant", "chatgpt": "assistant", "system": "system"}


@register("sharegpt", _is_dict_with("conversations"), "ShareGPT: `conversations` of {from, value}")
def adapt_sharegpt(row: dict[str, Any], source: str) -> dict[str, Any]:
    messages = _messages(row["conversations"], "conversations", "from", "value", SHAREGPT_ROLES)
    if isinstance(row.get("system"), str) and row["system"].strip():
        messages.insert(0, {"role": "system", "content": row["system"]})
    return make_record(source, _task_of(messages), messages=messages, lang=_lang(row),
                       meta=_meta(row, frozenset(("conversations", "system", "lang", "language"))))


@register("alpaca", _is_dict_with("instruction", "output"), "Alpaca: `instruction`, optional `input`, `output`")
def adapt_alpaca(row: dict[str, Any], source: str) -> dict[str, Any]:
    instruction = _text(row, "instruction")
    extra_input = _text(row, "input", required=False)
    output = _text(row, "output")
    user = f"{instruction}\n\n{extra_input}" if extra_input else instruction
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
    system = _text(row, "system", required=False)
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return make_record(source, "instruction", messages=messages, lang=_lang(row),
                       meta=_meta(row, frozenset(("instruction", "input", "output", "system", "lang",
                                                  "language", "text"))))


@register("apollo", lambda row: isinstance(row, list), "Apollo QA lists: [question, answer, question, ...]")
def adapt_apollo(row: list[Any], source: str) -> dict[str, Any]:
    if len(row) < 2:
        raise RecordError("[1]", "a conversation list needs a question and an answer")
    if len(row) % 2:
        raise RecordError(f"[{len(row) - 1}]", "odd number of turns: the last question has no answer")
    messages = []
    for i, turn in enumerate(row):
        if not isinstance(turn, str):
            raise RecordError(f"[{i}]", f"expected a string, got {_type_name(turn)}")
        role = "user" if i % 2 == 0 else "assistant"
        if not turn.strip():
            raise RecordError(f"[{i}]", f"empty {role} message")
        messages.append({"role": role, "content": turn})
    return make_record(source, _task_of(messages), messages=messages)


# ---------------------------------------------------------------- plain text

@register("text", lambda row: isinstance(row, dict) and isinstance(row.get("text"), str),
          "Plain text: a `text` column (continued pre-training)", structured=False)
def adapt_text(row: dict[str, Any], source: str) -> dict[str, Any]:
    text = _text(row, "text")
    return make_record(source, "text", text=text, lang=_lang(row),
                       meta=_meta(row, frozenset(("text", "lang", "language"))))


@register("strings", lambda row: isinstance(row, str), "An array of plain strings (continued pre-training)")
def adapt_strings(row: str, source: str) -> dict[str, Any]:
    if not row.strip():
        raise RecordError("text", "empty")
    return make_record(source, "text", text=row)


# ---------------------------------------------------------------- multiple choice

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
OPTION_LINE = re.compile(r"^\s*\(?([A-Z])[\).:]\s*(.*)$")
OPTION_COLUMNS = (tuple("ABCDEFGH"), ("opa", "opb", "opc", "opd", "ope"),
                  tuple(f"option_{c}" for c in "abcdefgh"), tuple(f"option{c}" for c in "ABCDEFGH"))


def _options_from_string(s: str) -> dict[str, str]:
    s = s.strip()
    if s.startswith(("{", "[")):
        try:
            return parse_options(orjson.loads(s))
        except orjson.JSONDecodeError:
            pass
    opts: dict[str, str] = {}
    last = None
    for line in s.splitlines():
        m = OPTION_LINE.match(line)
        if m and (not opts or m.group(1) == LETTERS[len(opts)]):
            last = m.group(1)
            opts[last] = m.group(2).strip()
        elif last and line.strip():
            opts[last] += "\n" + line.strip()
    if len(opts) < 2:
        raise RecordError("options", "could not find '(A) ...' option lines in the options string")
    return opts


def parse_options(v: Any) -> dict[str, str]:
    if isinstance(v, dict):
        opts = {str(k).strip().strip("()").upper(): val for k, val in v.items()}
    elif isinstance(v, list):
        opts = {LETTERS[i]: val for i, val in enumerate(v)}
    elif isinstance(v, str):
        opts = _options_from_string(v)
    else:
        raise RecordError("options", f"expected an object, a list or a string, got {_type_name(v)}")
    if len(opts) < 2:
        raise RecordError("options", "a multiple-choice question needs at least two options")
    for k, val in opts.items():
        if isinstance(val, (int, float)) and not isinstance(val, bool):
            val = str(val)
            opts[k] = val
        if not isinstance(val, str):
            raise RecordError(f"options.{k}", f"expected a string, got {_type_name(val)}")
        if not val.strip():
            raise RecordError(f"options.{k}", "empty option")
    return opts


def parse_answer(v: Any, options: dict[str, str], field: str = "answer") -> str:
    """A letter ('C', '(c)'), a 0-based index, or the text of an option, to the option's label."""
    if v is None:
        raise RecordError(field, "missing required field")
    if isinstance(v, bool):
        raise RecordError(field, "expected a letter, an index or an option's text, got bool")
    if isinstance(v, int):
        if 0 <= v < len(options):
            return list(options)[v]
        raise RecordError(field, f"answer index out of range ({v} for {len(options)} options)")
    if not isinstance(v, str):
        raise RecordError(field, f"expected a letter, an index or an option's text, got {_type_name(v)}")
    s = v.strip()
    letter = s.strip("().: ").upper()
    if letter in options:
        return letter
    norm = " ".join(s.split()).casefold()
    for k, text in options.items():
        if " ".join(text.split()).casefold() == norm:
            return k
    if s.isdigit() and int(s) < len(options):
        return list(options)[int(s)]
    raise RecordError(field, f"answer is not one of the options ('{s[:40]}' not in {', '.join(options)})")


MULTI_SEPARATORS = re.compile(r"[\s,，、;；/|&+]+")


def _letters_of(v: Any) -> list[str] | None:
    """Several labels written as '(ACE)', 'ACE', 'A,C,E', 'A、C、E' or a list: None when it is not such a set."""
    if isinstance(v, list):
        parts = [str(x).strip().strip("().").upper() for x in v]
    elif isinstance(v, str):
        s = v.strip()
        if s.startswith("["):
            try:
                return _letters_of(orjson.loads(s))
            except orjson.JSONDecodeError:
                return None
        s = s.strip("().:：").strip()
        parts = [p for p in MULTI_SEPARATORS.split(s) if p]
        if len(parts) == 1 and parts[0].isalpha() and parts[0].isupper() and parts[0].isascii():
            parts = list(parts[0])  # 'ACE': only upper-case ASCII, so a one-word answer text is not split
    else:
        return None
    if len(parts) < (1 if isinstance(v, list) else 2) or not all(len(p) == 1 and p in LETTERS for p in parts):
        return None  # one letter in a string is a single answer, for parse_answer
    return parts


def parse_answers(v: Any, options: dict[str, str], field: str = "answer") -> tuple[str | None, list[str] | None]:
    """A single label (answer) or a sorted set of labels (answers); every label is checked against the options."""
    letters = _letters_of(v)
    if letters is None:
        return parse_answer(v, options, field), None
    missing = [x for x in letters if x not in options]
    if missing:
        try:  # an option whose own text looks like letters ('DNA', 'ECG')
            return parse_answer(v, options, field), None
        except RecordError:
            raise RecordError(field, f"answer is not one of the options ('{''.join(missing)}' not in "
                                     f"{', '.join(options)})") from None
    labels = sorted(set(letters))
    return (labels[0], None) if len(labels) == 1 else (None, labels)


def render_mcq(mcq: dict[str, Any]) -> list[dict[str, str]]:
    """The default rendering of a multiple-choice question as a conversation; every correct option is named."""
    lines = []
    if mcq.get("context"):
        lines += [mcq["context"], ""]
    lines.append(mcq["question"])
    lines += [f"{k}. {v}" for k, v in mcq["options"].items()]
    answer = "\n".join(f"{k}. {mcq['options'][k]}" for k in answer_labels(mcq))
    if mcq.get("explanation"):
        answer += "\n\n" + mcq["explanation"]
    return [{"role": "user", "content": "\n".join(lines)}, {"role": "assistant", "content": answer}]


def _option_columns(row: dict[str, Any]) -> tuple[Any, tuple[str, ...]]:
    for cols in OPTION_COLUMNS:
        present = [c for c in cols if row.get(c) not in (None, "")]
        if len(present) >= 2:
            return [row[c] for c in present], tuple(cols)
    return None, ()


def _is_mcq(row: Any) -> bool:
    if not isinstance(row, dict) or "question" not in row:
        return False
    has_options = "options" in row or _option_columns(row)[0] is not None
    return has_options and any(k in row for k in ("answer", "answer_idx", "cop", "label"))


MCQ_USED = frozenset(("question", "options", "answer", "answer_idx", "cop", "explanation", "exp", "rationale",
                      "lang", "language"))


@register("mcq", _is_mcq, "Multiple choice: `question`, `options` (object, list or '(A) ...' lines), "
          "`answer` (letter, 0-based index or text), optional `explanation`")
def adapt_mcq(row: dict[str, Any], source: str) -> dict[str, Any]:
    question = _text(row, "question")
    used = MCQ_USED
    if "options" in row:
        options = parse_options(row["options"])
    else:
        values, cols = _option_columns(row)
        if values is None:
            raise RecordError("options", "missing required field")
        options = parse_options(values)
        used = used | frozenset(cols)
    answers = None
    if row.get("answer_idx") is not None:
        answer = parse_answer(row["answer_idx"], options, "answer_idx")
    elif row.get("cop") is not None:
        answer = parse_answer(row["cop"], options, "cop")
    else:
        answer, answers = parse_answers(row.get("answer", row.get("label")), options)
    explanation = None
    for key in ("explanation", "exp", "rationale"):
        explanation = _text(row, key, required=False) or explanation
    mcq = {"question": question, "options": options, "answer": answer, "answers": answers,
           "explanation": explanation, "context": None}
    return make_record(source, "mcq", messages=render_mcq(mcq), mcq=mcq, lang=_lang(row),
                       meta=_meta(row, used | frozenset(("label",))))


PUBMEDQA_OPTIONS = {"A": "yes", "B": "no", "C": "maybe"}


@register("pubmedqa", _is_dict_with("QUESTION", "final_decision"),
          "PubMedQA: `QUESTION`, `CONTEXTS`, `LONG_ANSWER`, `final_decision`, keyed by PMID")
def adapt_pubmedqa(row: dict[str, Any], source: str) -> dict[str, Any]:
    question = _text(row, "QUESTION")
    contexts = row.get("CONTEXTS")
    if contexts is None:
        raise RecordError("CONTEXTS", "missing required field")
    if isinstance(contexts, str):
        contexts = [contexts]
    if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
        raise RecordError("CONTEXTS", f"expected a list of strings, got {_type_name(contexts)}")
    decision = _text(row, "final_decision")
    answer = parse_answer(decision.lower(), PUBMEDQA_OPTIONS, "final_decision")
    long_answer = _text(row, "LONG_ANSWER", required=False)
    mcq = {"question": question, "options": dict(PUBMEDQA_OPTIONS), "answer": answer, "answers": None,
           "explanation": long_answer, "context": "\n".join(contexts) or None}
    meta = _meta(row, frozenset(("QUESTION", "CONTEXTS", "LONG_ANSWER", "final_decision", "__key__")))
    if "__key__" in row:
        meta["pmid"] = row["__key__"]
    return make_record(source, "mcq", messages=render_mcq(mcq), mcq=mcq, meta=meta)


# ---------------------------------------------------------------- our own output

@register("canonical", _is_dict_with("id", "source", "task"), "medcurate records (this tool's own output)")
def adapt_canonical(row: dict[str, Any], source: str) -> dict[str, Any]:
    from ..record import CanonicalRecord

    row = dict(row)
    if isinstance(row.get("meta"), str):
        try:
            row["meta"] = orjson.loads(row["meta"]) if row["meta"] else {}
        except orjson.JSONDecodeError:
            raise RecordError("meta", "not valid JSON") from None
    mcq = row.get("mcq")
    if isinstance(mcq, dict) and isinstance(mcq.get("options"), list):
        row["mcq"] = {**mcq, "options": {o["label"]: o["text"] for o in mcq["options"]}}
    if row.get("task") not in TASKS:
        raise RecordError("task", f"unknown task ('{row.get('task')}'; known: {', '.join(TASKS)})")
    row.pop("__split__", None)
    try:
        rec = CanonicalRecord.model_validate(row)
    except Exception as e:  # pydantic.ValidationError: report the first problem with its path
        err = e.errors()[0] if hasattr(e, "errors") else {"loc": (), "msg": str(e)}
        raise RecordError(".".join(str(p) for p in err["loc"]) or None, err["msg"]) from None
    out = rec.model_dump()
    if out["task"] == "preference":
        pass  # the model checked the prompt (ending with a user turn) and the replies
    elif out["messages"]:
        check_messages(out["messages"], "messages")
    elif out["task"] != "text" or not out["text"]:
        raise RecordError("messages", "a record needs messages, or text for task 'text'")
    return out


# ---------------------------------------------------------------- question and answer, no options

QA_PAIRS = (("question", "answer"), ("questions", "answers"), ("query", "response"), ("prompt", "completion"),
            ("input", "output"))


def _qa_keys(row: Any) -> tuple[str, str] | None:
    """The (question, answer) column names of a plain Q&A row in any letter case, or None.

    A row with options is an MCQ and a row with `instruction` is Alpaca: those shapes are left to their adapters.
    """
    if not isinstance(row, dict) or _is_preference(row) or _is_unpaired(row):
        return None
    lower = {str(k).lower(): k for k in row}
    if "instruction" in lower or "options" in lower or _option_columns(row)[0] is not None:
        return None
    for q, a in QA_PAIRS:
        if q in lower and a in lower:
            return lower[q], lower[a]
    return None


def _flat_strings(v: Any) -> list[str] | None:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        out: list[str] = []
        for x in v:
            inner = _flat_strings(x)
            if inner is None:
                return None
            out += inner
        return out
    return None


def _first_text(row: dict[str, Any], key: str) -> tuple[str, list[str]]:
    """A string, or the first of a (nested) list of strings as Huatuo's `questions`/`answers` ship them.

    The others (paraphrases of the question, further answers) are returned to be kept in meta, not lost.
    """
    v = row.get(key)
    if isinstance(v, list):
        items = _flat_strings(v)
        if items is None:
            raise RecordError(key, "expected a string or a list of strings")
        items = [x for x in items if x.strip()]
        if not items:
            raise RecordError(key, "empty")
        return items[0], items[1:]
    return _text(row, key) or "", []


@register("qa", lambda row: _qa_keys(row) is not None,
          "Question and answer (MedQuAD, cMedQA, webMedQA, iCliniq): `question`/`answer`, `query`/`response`, "
          "`prompt`/`completion`, `questions`/`answers` or `input`/`output`, in any letter case")
def adapt_qa(row: dict[str, Any], source: str) -> dict[str, Any]:
    keys = _qa_keys(row)
    if keys is None:
        raise RecordError("question", "missing required field (no question/answer pair of columns)")
    q_key, a_key = keys
    question, more_q = _first_text(row, q_key)
    answer, more_a = _first_text(row, a_key)
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    system = _text(row, "system", required=False)
    if system:
        messages.insert(0, {"role": "system", "content": system})
    meta = _meta(row, frozenset((q_key, a_key, "system", "lang", "language")))
    if more_q or more_a:
        meta.setdefault("extra", {}).update({f"{q_key}_more": more_q, f"{a_key}_more": more_a})
    return make_record(source, "instruction", messages=messages, lang=_lang(row), meta=meta)


# ---------------------------------------------------------------- preferences

HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):[ \t]?")
HH_ROLES = {"Human": "user", "Assistant": "assistant"}
PREFERENCE_USED = frozenset(("prompt", "chosen", "rejected", "system", "lang", "language"))


def _hh_turns(text: str, field: str) -> list[dict[str, str]] | None:
    """Anthropic HH's transcript strings ('\n\nHuman: ...\n\nAssistant: ...') as messages; None for a plain
    reply. Written by hand: the format is two markers, and no library parses it."""
    if not HH_TURN.match(text) and "\n\nHuman:" not in text:
        return None
    marks = list(HH_TURN.finditer(text))
    if not marks or text[: marks[0].start()].strip():
        raise RecordError(field, "text before the first 'Human:' turn")
    turns = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        content = text[m.end(): end].strip()
        if not content:
            raise RecordError(f"{field}[{i}]", f"empty {HH_ROLES[m.group(1)]} message")
        turns.append({"role": HH_ROLES[m.group(1)], "content": content})
    return turns


def _turns(v: Any, field: str) -> list[dict[str, str]] | None:
    """A side given as a conversation (a list of messages or an HH transcript), or None for a plain string."""
    if isinstance(v, list):
        if v and isinstance(v[0], dict) and "from" in v[0]:
            return _messages(v, field, "from", "value", SHAREGPT_ROLES, check=False)
        return _messages(v, field, "role", "content", check=False)
    if isinstance(v, str):
        return _hh_turns(v, field)
    if v is None:
        raise RecordError(field, "missing required field")
    raise RecordError(field, f"expected a string or a list of messages, got {_type_name(v)}")


def _same_turns(a: list[dict[str, str]], b: list[dict[str, str]]) -> bool:
    return len(a) == len(b) and all(x["role"] == y["role"] and " ".join(x["content"].split()) ==
                                    " ".join(y["content"].split()) for x, y in zip(a, b))


def _prompt_of(row: dict[str, Any]) -> list[dict[str, str]]:
    """The prompt as messages ending with the user's turn; a row's `system` goes first."""
    v = row.get("prompt")
    if isinstance(v, str):
        messages = [{"role": "user", "content": _text(row, "prompt") or ""}]
    else:
        messages = _turns(v, "prompt") or []
        if not messages:
            raise RecordError("prompt", "empty")
    if messages[-1]["role"] != "user":
        raise RecordError("prompt", f"must end with a user turn (ends with {messages[-1]['role']})")
    system = _text(row, "system", required=False)
    if system and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    return messages


def _reply(row: dict[str, Any], key: str, prompt: list[dict[str, str]] | None) -> str:
    """One assistant reply: a string, or a conversation that repeats the prompt (UltraFeedback) and ends with
    it, or a single assistant message (TRL's conversational format)."""
    v = row.get(key)
    turns = _turns(v, key)
    if turns is None:
        return _text(row, key) or ""
    if prompt is not None:
        bare = [m for m in prompt if m["role"] != "system"]
        for head in (prompt, bare):
            if len(turns) > len(head) and _same_turns(turns[: len(head)], head):
                turns = turns[len(head):]
                break
    if len(turns) != 1 or turns[0]["role"] != "assistant":
        raise RecordError(key, f"expected one assistant reply after the prompt (got {len(turns)} turns: "
                               f"{', '.join(m['role'] for m in turns)})")
    return turns[0]["content"]


def _shared_prompt(row: dict[str, Any]) -> tuple[list[dict[str, str]], str, str]:
    """HH style: `chosen` and `rejected` are whole conversations; the prompt is what they share before the
    last reply."""
    chosen, rejected = _turns(row["chosen"], "chosen"), _turns(row["rejected"], "rejected")
    if chosen is None or rejected is None:
        raise RecordError("prompt", "missing required field (plain-string replies need a prompt)")
    k = 0
    while k < min(len(chosen), len(rejected)) and _same_turns(chosen[k: k + 1], rejected[k: k + 1]):
        k += 1
    prompt = chosen[:k]
    while prompt and prompt[-1]["role"] != "user":  # equal last replies: caught as chosen == rejected below
        prompt = prompt[:-1]
    if not prompt:
        raise RecordError("chosen", "chosen and rejected share no prompt ending with a user turn")
    sides = []
    for name, turns in (("chosen", chosen), ("rejected", rejected)):
        rest = turns[len(prompt):]
        if len(rest) != 1 or rest[0]["role"] != "assistant":
            raise RecordError(name, f"chosen and rejected differ before their last reply ({len(rest)} turns "
                                    "after the shared prompt)")
        sides.append(rest[0]["content"])
    return prompt, sides[0], sides[1]


def _label(v: Any) -> bool:
    """A bool; 'true' and 'false' too, since CSV and TSV cells cannot hold one."""
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    shown = f" ('{v}')" if isinstance(v, str) else f" ({v})" if isinstance(v, (int, float)) else ""
    raise RecordError("label", f"expected true or false, got {_type_name(v)}{shown}")


def _preference_record(source: str, row: dict[str, Any], prompt: list[dict[str, str]], used: frozenset[str],
                       **pref: Any) -> dict[str, Any]:
    from ..preference import preference_record

    rec = preference_record(source, prompt, lang=_lang(row), origin="dataset", parent_id=None, derived_from=[],
                            meta=_meta(row, used), **pref)
    return rec


@register("preference", _is_preference,
          "Preference pairs: `prompt`, `chosen`, `rejected` as strings or message lists (TRL standard and "
          "conversational, UltraFeedback-binarized); or HH-style whole `chosen`/`rejected` conversations")
def adapt_preference(row: dict[str, Any], source: str) -> dict[str, Any]:
    if row.get("prompt") is None:
        prompt, chosen, rejected = _shared_prompt(row)
    else:
        prompt = _prompt_of(row)
        chosen, rejected = _reply(row, "chosen", prompt), _reply(row, "rejected", prompt)
    if " ".join(chosen.split()) == " ".join(rejected.split()):
        raise RecordError("rejected", "same reply as chosen (after whitespace normalisation)")
    return _preference_record(source, row, prompt, PREFERENCE_USED, chosen=chosen, rejected=rejected)


@register("unpaired", _is_unpaired, "Unpaired preferences (KTO): `prompt`, `completion` (a string or one assistant "
          "message), `label` (true: desirable)")
def adapt_unpaired(row: dict[str, Any], source: str) -> dict[str, Any]:
    prompt = _prompt_of(row)
    completion = _reply(row, "completion", prompt)
    label = _label(row.get("label"))
    used = frozenset(("prompt", "completion", "label", "system", "lang", "language"))
    return _preference_record(source, row, prompt, used, completion=completion, label=label)
