"""JSON replies: pull the JSON object out of a reply, validate it against a model, and ask again if needed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from .client import LLM, Request
from .prompts import Prompts

M = TypeVar("M", bound=BaseModel)
FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


@dataclass
class Structured(Generic[M]):
    value: M | None
    error: str | None
    text: str | None
    attempts: int


def parse_reply(text: str | None, model: type[M]) -> tuple[M | None, str | None]:
    """The first JSON object in the reply (fenced or bare), validated; or the reason it is unusable."""
    if not text:
        return None, "empty reply"
    fenced = FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        return None, "no JSON object in the reply"
    try:
        data = orjson.loads(body[start: end + 1])
    except orjson.JSONDecodeError as e:
        return None, f"invalid JSON ({str(e).split(':')[0]})"
    try:
        return model.model_validate(data), None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        return None, f"JSON does not match the schema: {where}: {first['msg']}"


def ask_json(llm: LLM, requests: list[Request], model: type[M], prompts: Prompts, repairs: int) -> list[Structured[M]]:
    """Each request answered with a valid `model`, after at most `repairs` follow-ups naming what was wrong."""
    results: list[Structured[M]] = [Structured(None, None, None, 0) for _ in requests]
    pending = list(range(len(requests)))
    current = list(requests)
    for attempt in range(repairs + 1):
        replies = llm.complete([current[i] for i in pending])
        retry = []
        for i, reply in zip(pending, replies):
            res = results[i]
            res.attempts, res.text = attempt + 1, reply.text
            if reply.error is not None:
                res.error = f"llm request failed ({reply.error})"
                continue
            res.value, res.error = parse_reply(reply.text, model)
            if res.value is None:
                retry.append(i)
                text, template_hash = prompts.render("repair", error=res.error)
                req = current[i]
                current[i] = Request([*req.messages, {"role": "assistant", "content": reply.text or ""},
                                      {"role": "user", "content": text}], req.params,
                                     req.template_hash + template_hash)
        pending = retry
        if not pending:
            break
    return results
