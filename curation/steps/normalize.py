"""normalize: repair and tidy text in every message (roles and order untouched), `text` and MCQ fields."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

import ftfy
from pydantic import Field

from .base import RecordStep, Reject, StepConfig, register

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\ufeff]")
SPACES = re.compile(r"[^\S\n]+")
BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")
TRAILING = re.compile(r"[^\S\n]+\n")
HTML_HINT = re.compile(r"</?(?:p|br|div|span|b|i|em|strong|ul|ol|li|h[1-6]|table|tr|td|a|img|font)\b[^>]*>|"
                       r"&(?:amp|lt|gt|nbsp|quot|#\d+|#x[0-9a-fA-F]+);", re.I)
BLOCK_TAGS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table")
# Characters that appear when UTF-8 is decoded as Latin-1 / cp1252: only then is ftfy worth its cost.
MOJIBAKE_HINT = re.compile(r"[ÂÃâ€™œžÅ¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿�]|Ã.|â€")
MD_RESIDUE = [(re.compile(r"\*\*(.+?)\*\*"), r"\1"), (re.compile(r"__(.+?)__"), r"\1"),
              (re.compile(r"^#{1,6}\s+", re.M), ""), (re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)"), r"\1"),
              (re.compile(r"`([^`]+)`"), r"\1")]


class NormalizeConfig(StepConfig):
    nfkc: bool = Field(True, description="Unicode NFKC (full-width forms, ligatures, compatibility characters).")
    fix_mojibake: bool = Field(True, description="Repair UTF-8 read as Latin-1/cp1252 (ftfy).")
    strip_control: bool = True
    whitespace: bool = Field(True, description="Collapse runs of spaces and of blank lines; trim.")
    html: Literal["auto", "always", "never"] = Field(
        "auto", description="HTML to text: 'auto' converts only text that contains HTML tags or entities.")
    markdown: bool = Field(False, description="Strip Markdown residue (bold, headers, links) to plain text.")


def html_to_text(s: str) -> str:
    """A real HTML parser (lexbor via selectolax): block elements become line breaks, entities decoded."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(f"<body>{s}</body>")
    for tag in BLOCK_TAGS:
        for node in tree.css(tag):
            node.insert_after("\n")
    body = tree.body
    return body.text(separator="", deep=True) if body is not None else s


# ASCII characters that CONTROL removes or SPACES turns into a space: every control character and every space
# but " " and the newline (tab, carriage return, vertical tab, form feed, the separators \x1c-\x1f).
UNTIDY_ASCII = bytes([*range(0, 10), *range(11, 32), 127])


def tidy_ascii(s: str) -> bool:
    """Whether `s` is ASCII that the control and whitespace passes would leave as it is: none of UNTIDY_ASCII, no
    run of spaces, no space before a newline (so a run of blank lines can only be three newlines in a row), and no
    space or newline at either end."""
    if not s.isascii():
        return False
    data = s.encode("ascii")
    return (len(data.translate(None, UNTIDY_ASCII)) == len(data) and "  " not in s and " \n" not in s
            and "\n\n\n" not in s and s[:1] not in (" ", "\n") and s[-1:] not in (" ", "\n"))


@register("normalize")
class Normalize(RecordStep):
    Config = NormalizeConfig
    config: NormalizeConfig

    def clean(self, s: str, changes: set[str]) -> str:
        c = self.config
        original = s
        if c.fix_mojibake and not s.isascii() and MOJIBAKE_HINT.search(s):
            fixed = ftfy.fix_text(s, normalization="NFC")
            if fixed != s:
                changes.add("mojibake")
                s = fixed
        if c.html == "always" or (c.html == "auto" and ("<" in s or "&" in s) and HTML_HINT.search(s)):
            s = html_to_text(s)
            changes.add("html")
        if c.markdown:
            for pattern, repl in MD_RESIDUE:
                s = pattern.sub(repl, s)
        if c.nfkc and not s.isascii():
            s = unicodedata.normalize("NFKC", s)
        if not tidy_ascii(s):  # most text is already tidy: four scans that would change nothing
            if c.strip_control:
                s = CONTROL.sub("", s)
            if c.whitespace:
                s = SPACES.sub(" ", s)
                s = TRAILING.sub("\n", s)
                s = BLANK_LINES.sub("\n\n", s).strip()
        if s != original and not changes:
            changes.add("whitespace" if " ".join(s.split()) == " ".join(original.split()) else "characters")
        return s

    def process(self, record):
        changes: set[str] = set()
        for i, m in enumerate(record.get("messages") or []):
            m["content"] = self.clean(m["content"], changes)
            if not m["content"]:
                raise Reject("empty after normalization", {"field": f"messages[{i}].content"})
        if record.get("text") is not None:
            record["text"] = self.clean(record["text"], changes)
            if not record["text"]:
                raise Reject("empty after normalization", {"field": "text"})
        mcq = record.get("mcq")
        if mcq:
            for key in ("question", "explanation", "context"):
                if mcq.get(key):
                    mcq[key] = self.clean(mcq[key], changes)
            mcq["options"] = {k: self.clean(v, changes) for k, v in mcq["options"].items()}
        record["meta"]["normalize"] = sorted(changes)
        return None
