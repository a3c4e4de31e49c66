"""What readers, the pairs step, the mixture and the export share about preference records.

A preference record's prompt is the conversation up to and including the last user turn; its replies live in
`record["preference"]`. The prompt key (the prompt's normalised text, hashed) groups every preference on the
same prompt, so a validation split by prompt never shows a prompt it was trained on.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

from .record import Record, make_record, squash

Message = dict[str, str]


def prompt_key(messages: list[Message]) -> str:
    """The same prompt, however it was spaced or composed (NFKC), gives the same key."""
    text = "\n".join(m["role"] + ":" + squash(m["content"]) for m in messages)
    text = text if text.isascii() else unicodedata.normalize("NFKC", text)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def split_reply(messages: list[Message]) -> tuple[list[Message], str] | None:
    """(prompt, reply) of a conversation ending with an assistant turn answering a user turn; None otherwise."""
    if len(messages) < 2 or messages[-1]["role"] != "assistant" or messages[-2]["role"] != "user":
        return None
    return [dict(m) for m in messages[:-1]], messages[-1]["content"]


def prompt_of(record: Record) -> list[Message] | None:
    """The prompt a record's next reply answers: messages ending with a user turn as they are, or the
    conversation before its last reply."""
    messages = record.get("messages") or []
    if messages and messages[-1]["role"] == "user":
        return [dict(m) for m in messages]
    got = split_reply(messages)
    return got[0] if got else None


def without_punctuation(text: str) -> str:
    """The text with every whitespace, punctuation and symbol character gone (Unicode categories Z, P, S, C):
    an edit that leaves this unchanged fixed only spacing or punctuation, which teaches a model nothing."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch)[0] in "LMN")


def same_reply(a: str, b: str) -> bool:
    """Two replies that differ only in whitespace are the same reply."""
    return squash(a) == squash(b)


def preference_record(source: str, prompt: list[Message], *, lang: str | None, origin: str,
                      parent_id: str | None, derived_from: list[str], margin: float | None = None,
                      chosen: str | None = None, rejected: str | None = None, completion: str | None = None,
                      label: bool | None = None, meta: dict[str, Any] | None = None) -> Record:
    """A canonical preference record, its prompt key in `meta.prompt_key`."""
    pref = {"chosen": chosen, "rejected": rejected, "completion": completion, "label": label, "origin": origin,
            "margin": None if margin is None else round(float(margin), 4), "derived_from": list(derived_from)}
    meta = {**(meta or {}), "prompt_key": prompt_key(prompt)}
    return make_record(source, "preference", messages=prompt, preference=pref, lang=lang, parent_id=parent_id,
                       origin=origin, meta=meta)


def is_paired(record: Record) -> bool:
    pref = record.get("preference") or {}
    return pref.get("chosen") is not None


def group_of(record: Record) -> str:
    """The prompt key a preference record is split by (computed when an older record lacks it)."""
    return (record.get("meta") or {}).get("prompt_key") or prompt_key(record.get("messages") or [])


def assistant(text: str) -> list[Message]:
    return [{"role": "assistant", "content": text}]


def trl_rows(record: Record, kind: str) -> list[dict[str, Any]]:
    """The record as rows in TRL's conversational preference format: one paired row (prompt, chosen,
    rejected), or unpaired rows (prompt, completion, label), two for a paired record as TRL's
    `unpair_preference_dataset` makes them."""
    pref = record["preference"]
    common = {"id": record["id"], "lang": record.get("lang") or "unknown", "origin": pref["origin"],
              "margin": pref.get("margin")}
    prompt = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
    if kind == "paired":
        return [{"prompt": prompt, "chosen": assistant(pref["chosen"]), "rejected": assistant(pref["rejected"]),
                 **common}]
    if pref.get("chosen") is not None:
        return [{"prompt": prompt, "completion": assistant(pref["chosen"]), "label": True, **common},
                {"prompt": prompt, "completion": assistant(pref["rejected"]), "label": False, **common}]
    return [{"prompt": prompt, "completion": assistant(pref["completion"]), "label": bool(pref["label"]), **common}]
