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


_SET = r"[\(\[]?\s*([A-J](?:(?:\s*(?:[,，、/&+;]|\band\b|\bet\b|\by\b|和|及)\s*|\s*)[A-J])*)\s*[\)\]]?"
SET_STATEMENT = re.compile(rf"(?:{_LEAD})\s*(?:[:：=]\s*)?(?:options?\s+|opciones\s+|选项)?{_SET}(?![A-Za-z])",
                           re.IGNORECASE)
SET_ALONE = re.compile(rf"^{_SET}\s*[.:)]?$")


def _letters(group: str) -> frozenset[str] | None:
    letters = re.findall(r"[A-Za-z]+", group)
    letters = [x for x in letters if x.lower() not in ("and", "et", "y")]
    joined = "".join(letters)
    if not joined.isupper():  # "answer is a ..." is prose, not option a
        return None
    return frozenset(joined)


def extract_answers(reply: str | None, labels: set[str] | frozenset[str]) -> frozenset[str] | None:
    """The set of option labels a reply to a multiple-answer item commits to ('ACE', 'A, C and E', '答案：ACE').

    As for one answer, two statements naming different sets make the reply unparseable, never guessed.
    """
    if not reply:
        return None
    text = _clean(reply)
    m = SET_ALONE.match(text)
    found = [m.group(1)] if m else [s.group(1) for s in SET_STATEMENT.finditer(text)]
    sets = {x for x in (_letters(g) for g in found) if x}
    if len(sets) != 1:
        return None
    (named,) = sets
    return named if named <= labels else None
