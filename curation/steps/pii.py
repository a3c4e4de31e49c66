"""pii: replace personal data (protected health information) with typed placeholders.

One compiled pattern with a named group per type scans each text once; at a given position the earlier
alternative wins, so specific identifiers (an 18-digit Chinese ID) are matched before generic ones (a
phone number). What is caught: e-mail addresses; phone numbers in international (+CC) form, North-American
form and common national forms (Chinese mobiles, Spanish 9-digit numbers in groups); URLs whose path names a
person (/user/, /profile/, /~name, ?email=); IPv4 and IPv6 addresses; dates next to a birth keyword (en, es,
zh, ar); US SSNs, Spanish DNI/NIE, Chinese resident IDs, UK NHS numbers after a keyword; medical record
numbers after a keyword (MRN, historia clínica, 病历号); street addresses with a house number and a street
word (en, es). What is not caught: people's names (no pattern finds them reliably; an NER model would be
needed), except, when `names_with_titles` is on, a capitalised name after a title such as Dr., Mr., Sra.;
free-text addresses without a number; dates of visits (they are not identifying on their own).
"""

from __future__ import annotations

import re

from pydantic import Field

from .base import RecordStep, Reject, StepConfig, register

DATE = r"(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日|" \
       r"\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?[A-Z][a-z]+\s+\d{4}|[A-Z][a-z]+\s+\d{1,2},?\s+\d{4})"
PATTERNS: list[tuple[str, str]] = [
    # starts only at a token boundary: otherwise a long run of letters with no '@' is tried from every position
    ("EMAIL", r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
    ("URL", r"https?://[^\s]+?(?:/(?:user|users|profile|profiles|u|people|member|patient)s?/[^\s/?#]+|/~[^\s/?#]+"
            r"|[?&](?:email|user|name|patient)=[^\s&#]+)[^\s]*"),
    ("DATE_OF_BIRTH", r"(?P<KW1>(?i:\b(?:born(?:\s+on)?|date\s+of\s+birth|d\.?o\.?b\.?|birth\s*date|"
                      r"fecha\s+de\s+nacimiento|nacid[oa]\s+el|né(?:e)?\s+le)\s*:?\s*))" + DATE
                      + r"|(?P<KW2>(?:出生日期|出生于)[:：]?\s*)" + DATE
                      + r"|(?P<KW3>(?:تاريخ الميلاد|مواليد)[:：]?\s*)" + DATE),
    ("MRN", r"(?P<KW4>(?i:\b(?:MRN|medical\s+record\s+(?:number|no\.?)|patient\s+id|historia\s+cl[ií]nica|NHC)"
            r"\s*[:#]?\s*))[A-Z0-9-]{5,}|(?P<KW5>(?:病历号|住院号)[:：]?\s*)[A-Z0-9]{5,}"),
    ("ID", r"(?<!\d)\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"  # CN resident ID
           r"|\b\d{3}-\d{2}-\d{4}\b"  # US SSN
           r"|\b\d{8}[A-HJ-NP-TV-Z]\b|\b[XYZ]\d{7}[A-Z]\b"  # ES DNI / NIE
           r"|(?P<KW6>(?i:\bNHS\s*(?:number|no\.?)?\s*:?\s*))\d{3}\s?\d{3}\s?\d{4}\b"),
    ("IP", r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"
           r"|\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b|\b(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4})\b"),
    ("PHONE", r"\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}\b"
              r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}\b|\b\d{3}[.-]\d{3}[.-]\d{4}\b"
              r"|(?<!\d)1[3-9]\d{9}(?!\d)"
              r"|(?<!\d)(?<!\d[.,])[6789]\d{2}\s\d{3}\s\d{3}(?!\d|[.,]\d)"
              r"|(?<!\d)(?<!\d[.,])[6789]\d{2}\s\d{2}\s\d{2}\s\d{2}(?!\d|[.,]\d)"),
    ("ADDRESS", r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s){1,3}(?:Street|St\.|Avenue|Ave\.?|Road|Rd\.|Boulevard|Blvd\.?|Lane|"
                r"Ln\.|Drive|Dr\.|Court|Ct\.|Way|Place|Pl\.)"
                r"|\b(?:Calle|C/|Avenida|Avda\.|Plaza|Paseo)\s+(?:[A-ZÁÉÍÓÚÑ][\wáéíóúñ]+\s?){1,4},?\s*(?:n\.?º\s*)?\d{1,4}"),
]
TITLE_NAME = ("NAME", r"(?P<KW7>\b(?:Dr|Dra|Mr|Mrs|Ms|Sr|Sra|Srta|Prof)\.?\s+)[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?")
KEYWORD_GROUPS = tuple(f"KW{i}" for i in range(1, 8))  # the keyword that gives a match away is kept as text


class PiiConfig(StepConfig):
    types: list[str] | None = Field(None, description="Placeholder types to scrub; all if left out.")
    names_with_titles: bool = Field(False, description="Also replace a capitalised name after Dr., Mr., Sra. ...")
    max_replacements: int | None = Field(
        None, description="Reject a record with more replacements than this (too much personal data to keep).")


@register("pii")
class Pii(RecordStep):
    Config = PiiConfig
    config: PiiConfig
    _pattern: re.Pattern | None = None

    @property
    def pattern(self) -> re.Pattern:
        if self._pattern is None:
            pats = PATTERNS + ([TITLE_NAME] if self.config.names_with_titles else [])
            chosen = [(n, p) for n, p in pats if self.config.types is None or n in self.config.types]
            self._pattern = re.compile("|".join(f"(?P<{n}>{p})" for n, p in chosen))
        return self._pattern

    def __getstate__(self):  # compiled lazily in each worker process
        return {"config": self.config}

    def scrub(self, text: str, counts: dict[str, int]) -> str:
        def repl(m: re.Match) -> str:
            kind = next(k for k, v in m.groupdict().items() if v is not None and not k.startswith("KW"))
            counts[kind] = counts.get(kind, 0) + 1
            found = m.groupdict()
            keyword = next((found[k] for k in KEYWORD_GROUPS if found.get(k)), "")
            return f"{keyword}<{kind}>"

        return self.pattern.sub(repl, text)

    def process(self, record):
        counts: dict[str, int] = {}
        for m in record.get("messages") or []:
            m["content"] = self.scrub(m["content"], counts)
        if record.get("text"):
            record["text"] = self.scrub(record["text"], counts)
        mcq = record.get("mcq")
        if mcq:
            for key in ("question", "explanation", "context"):
                if mcq.get(key):
                    mcq[key] = self.scrub(mcq[key], counts)
        record["meta"]["pii"] = counts
        limit = self.config.max_replacements
        if limit is not None and sum(counts.values()) > limit:
            raise Reject("too much personal data", {"pii": counts, "max_replacements": limit})
        return None
