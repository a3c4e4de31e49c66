"""The answer letter of a generated reply, parsed strictly: a reply that does not name exactly one option is
unparseable (counted wrong, and reported), never guessed."""

from __future__ import annotations

import re

# "The answer is (C)", "Answer: C) ...", "Final answer: **C**", "La respuesta es C", "答案是C", "الإجابة هي C"
_LEAD = (r"(?:(?:final|correct)\s+)?answer(?:\s+is)?|respuesta(?:\s+correcta)?(?:\s+es)?|"
         r"réponse(?:\s+correcte)?(?:\s+est)?|答案(?:是|为)?|正确答案(?:是|为)?|الإجابة(?:\s+الصحيحة)?(?:\s+هي)?")
_LETTER = r"[\(\[]?\s*([A-J])\s*[\)\]]?"
STATEMENT = re.compile(rf"(?:{_LEAD})\s*(?:[:：=]\s*)?(?:option\s+|opción\s+|选项)?{_LETTER}(?![A-Za-z])",
                       re.IGNORECASE)
# right after a statement's letter: "or C", "and (D)", ", B", "/B" make it name two options
SECOND = re.compile(r"^\s*(?:,|/|&|\bor\b|\band\b|\by\b|\bo\b|或|和|أو|و)\s*[\(\[]?\s*([A-J])\b")
ALONE = re.compile(r"^[\(\[]?\s*([A-J])\s*[\)\]]?\s*[.:)]?$")
LEADING = re.compile(r"^[\(\[]?([A-J])[\)\].:]\s+\S")


def _clean(reply: str) -> str:
    return re.sub(r"[*_`]+", "", reply).strip()


def extract_answer(reply: str | None, labels: set[str] | frozenset[str]) -> str | None:
    """The one option label the reply commits to, or None."""
    if not reply:
        return None
    text = _clean(reply)
    m = ALONE.match(text)
    if m:
        return m.group(1) if m.group(1) in labels else None
    named: set[str] = set()
    for m in STATEMENT.finditer(text):
        letter = m.group(1)
        if not letter.isupper():  # "answer is a ..." is prose, not option a
            continue
        named.add(letter)
        second = SECOND.match(text[m.end():])
        if second:
            named.add(second.group(1))
    if not named:
        m = LEADING.match(text)
        if m:
            named.add(m.group(1))
    if len(named) != 1:
        return None
    (letter,) = named
    return letter if letter in labels else None
