"""pii: replace personal data (protected health information) with typed placeholders.

Most types are regular expressions (in `curation.phi` and below), one pass per type in priority order, so a
specific identifier (an 18-digit Chinese ID) is replaced before a generic pass could read it as something else;
a pass runs only on texts that hold one of its keywords or characters, which most medical text does not.
Telephone numbers come last, found with libphonenumber in the national formats of the regions the record's
language suggests (`curation.phi.phones`).

What is caught: e-mail addresses, plain and obfuscated ("ana at clinic dot org", "ana(at)clinic.org", es
"arroba", fr "arobase", zh "艾特"); phone numbers in international and national formats (UK, Ireland, France,
Germany, Spain, Italy, Portugal, Mexico, Brazil, mainland China, Hong Kong, Taiwan, India, Saudi Arabia, UAE,
Egypt, US/Canada and neighbours), with spaces, dots, dashes, pairs or brackets; URLs whose path or query names
a person or a record (/patients/12345, /records/john-smith, ?mrn=, ?name=, /~jdoe); IPv4 and IPv6 addresses;
dates of birth, admission, discharge and death after (or, in Chinese, before) their keyword in en, es, fr, pt,
zh, ar, hi; US SSNs, Spanish DNI/NIE, Chinese resident IDs, UK NHS numbers after a keyword; medical record
numbers after a keyword; street addresses with a house number and a street word (en, es); names after a label
("Patient name:", "my name is", "姓名：", "اسم المريض:"). The keyword that gives a value away stays in the
text. What is not caught: names in free prose (no pattern finds them reliably; that needs an NER model),
except, when `names_with_titles` is on, a capitalised name after Dr., Mr., Sra. ...; addresses without a
number; a year on its own, doses, lab values, blood pressures and ICD codes (not identifying).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import Field

from curation.phi import dates, emails, names, urls
from curation.phi.dates import DATE_OF_BIRTH, EVENT_DATE
from curation.phi.digits import digits_at_least
from curation.phi.emails import EMAIL
from curation.phi.names import LABELLED_NAME, TITLED_NAME
from curation.phi.phones import KEYWORD_WINDOW, PhoneFinder, phone_word_before
from curation.phi.urls import URL

from .base import RecordStep, Reject, StepConfig, register

_SOURCES: list[tuple[str, str]] = [
    ("EMAIL", EMAIL),
    ("URL", URL),
    ("DATE_OF_BIRTH", DATE_OF_BIRTH),
    ("DATE", EVENT_DATE),
    ("MRN", r"(?P<KW>(?i:\b(?:MRN|medical\s+record\s+(?:number|no\.?)|(?:record|chart|hospital)\s+(?:number|no\.?|#)"
            r"|patient\s+id|historia\s+cl[ií]nica|NHC|n[º°o]\.?\s+de\s+historia|dossier\s+(?:m[ée]dical\s+)?n[°ºo]\.?"
            r"|IPP)\s*[:#]?\s*))[A-Z0-9-]{5,}\b"
            r"|(?P<KW>(?:病历号|病歷號|住院号|住院號|病案号|门诊号|門診號|就诊号)[:：]?\s*)[A-Z0-9]{5,}"
            r"|(?P<KW>(?:رقم الملف(?: الطبي)?|رقم المريض)[:：]?\s*)[A-Z0-9٠-٩-]{5,}"),
    ("ID", r"(?<!\d)\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"  # CN resident ID
           r"|\b\d{3}-\d{2}-\d{4}\b"  # US SSN
           r"|\b\d{8}[A-HJ-NP-TV-Z]\b|\b[XYZ]\d{7}[A-Z]\b"  # ES DNI / NIE
           r"|(?P<KW>(?i:\bNHS\s*(?:number|no\.?)?\s*:?\s*))\d{3}\s?\d{3}\s?\d{4}\b"),
    # octets written without leading zeros: "06.81.90.93.78" is a French phone number, not an address; an
    # enzyme's EC number (EC 3.1.1.11) or a software version (v2.3.4.1) is not one either
    ("IP", r"(?<![\w.])(?<!\bEC\s)(?<!(?i:version)\s)(?<!(?i:versión)\s)(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
           r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\d|\.\d)"
           r"|\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b|\b(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4})\b"),
    ("ADDRESS", r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s){1,3}(?:Street|St\.|Avenue|Ave\.?|Road|Rd\.|Boulevard|Blvd\.?|Lane|"
                r"Ln\.|Drive|Dr\.|Court|Ct\.|Way|Place|Pl\.)"
                r"|\b(?:Calle|C/|Avenida|Avda\.|Plaza|Paseo)\s+(?:[A-ZÁÉÍÓÚÑ][\wáéíóúñ]+\s?){1,4},?\s*(?:n\.?º\s*)?\d{1,4}"),
    ("NAME", LABELLED_NAME),
]


def _number_keywords(sources: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Give every kept-keyword group a name of its own (KW1, KW2 ... before the value, KS1 ... after it), so the
    sources can be written with plain `(?P<KW>` and a pattern may hold several."""
    out, n = [], 0
    for name, source in sources:
        parts = re.split(r"\(\?P<(KW|KS)>", source)
        text = parts[0]
        for i in range(1, len(parts), 2):
            n += 1
            text += f"(?P<{parts[i]}{n}>" + parts[i + 1]
        out.append((name, text))
    return out


PATTERNS: list[tuple[str, str]] = _number_keywords(_SOURCES)  # (type, regex) in priority order; no phones
TITLE_NAME: tuple[str, str] = _number_keywords(_SOURCES + [("NAME", TITLED_NAME)])[-1]
PHONE = "PHONE"
DATED = ("DATE", "DATE_OF_BIRTH")


@dataclass(frozen=True)
class Stems:
    """A hint: one of `stems` in the lower-cased text and then, when `confirm` is given, a match of it in the text
    itself. A stem that medical prose uses all the time ("patient", "record", "nom" in "genomic") then costs one
    short search, where it used to run the type's whole pattern over a quarter of all texts. `confirm` must be
    implied by every match of the type's pattern that the stems admit (tested against the passes run unhinted)."""

    stems: tuple[str, ...]
    confirm: re.Pattern | None = None

    def found(self, text: str, lower: str) -> bool:
        return any(s in lower for s in self.stems) and (self.confirm is None or self.confirm.search(text) is not None)


# What a text must hold for a type's pass to run on it: at least this many digits, what one of these Stems asks
# for, or (None) nothing. A hint costs far less than the type's own pattern. Every national ID format holds 7
# digits or more (a NIE has 7, an SSN 9, a Chinese ID 17); an address a number; every date form a digit.
Hint = int | list[Stems] | None
ANY_DATE_DIGIT = re.compile(dates.D)  # every date form holds one
HINTS: dict[str, Hint] = {
    "EMAIL": [Stems(emails.HINTS)], "URL": [Stems(urls.HINTS)],
    "DATE_OF_BIRTH": [Stems(dates.BIRTH_HINTS, ANY_DATE_DIGIT)], "DATE": [Stems(dates.EVENT_HINTS, ANY_DATE_DIGIT)],
    "MRN": [Stems(("mrn", "historia", "nhc", "dossier", "ipp", "病历", "病歷", "住院", "病案", "门诊", "門診", "就诊",
                   "رقم")),
            Stems(("patient",), re.compile(r"(?i:patient\s+id)")),
            Stems(("record", "chart", "hospital"), re.compile(r"(?i:(?:record|chart|hospital)\s+(?:number|no|#))"))],
    "ID": 7,
    # an IPv4 address holds dots, an IPv6 one colons: the hex class is tried at every place only where one is
    "IP": [Stems((".",), re.compile(r"\d\.\d{1,3}\.\d")), Stems((":",), re.compile(r"[0-9a-fA-F]:[0-9a-fA-F]{0,4}:"))],
    "ADDRESS": 1,
    # a labelled name follows a colon; only self-introductions ("my name is", "me llamo") go without one
    "NAME": [Stems(names.INTRO_HINTS), Stems(names.HINTS, re.compile("[:：]"))],
}


@dataclass(frozen=True)
class _Pass:
    kind: str
    pattern: re.Pattern
    hints: Hint

    def applies(self, text: str, lower: str) -> bool:
        if self.hints is None:
            return True
        if isinstance(self.hints, int):
            return digits_at_least(text, self.hints)
        return any(stems.found(text, lower) for stems in self.hints)


class PiiConfig(StepConfig):
    types: list[str] | None = Field(None, description="Placeholder types to scrub; all if left out.")
    names_with_titles: bool = Field(False, description="Also replace a capitalised name after Dr., Mr., Sra. ...")
    phone_regions: list[str] | None = Field(
        None, description="Regions (ISO 3166 codes such as GB, MX) whose national phone formats are tried in every "
                          "record; by default they follow the record's language.")
    max_replacements: int | None = Field(
        None, description="Reject a record with more replacements than this (too much personal data to keep).")


@register("pii")
class Pii(RecordStep):
    Config = PiiConfig
    config: PiiConfig
    _passes: list[_Pass] | None = None
    _phones: PhoneFinder | None = None

    def _wanted(self, kind: str) -> bool:
        return self.config.types is None or kind in self.config.types

    @property
    def passes(self) -> list[_Pass]:
        """One compiled pattern per type, in priority order: a type's pass sees the placeholders of the passes
        before it, so an identifier is replaced once, by the most specific type."""
        if self._passes is None:
            pats = PATTERNS + ([TITLE_NAME] if self.config.names_with_titles else [])
            self._passes = [_Pass(n, re.compile(f"(?P<{n}>{p})"), None if n == "NAME" and p is TITLE_NAME[1]
                                  else HINTS[n]) for n, p in pats if self._wanted(n)]
        return self._passes

    @property
    def phones(self) -> PhoneFinder:
        if self._phones is None:
            regions = tuple(r.upper() for r in self.config.phone_regions) if self.config.phone_regions else None
            self._phones = PhoneFinder(regions)
        return self._phones

    def __getstate__(self):  # compiled lazily in each worker process
        return {"config": self.config}

    def scrub(self, text: str, counts: dict[str, int], lang: str | None = None) -> str:
        """The text with each identifier replaced by `<TYPE>`; `counts` gains one per replacement."""
        def repl(m: re.Match) -> str:
            found = m.groupdict()
            kind = next(k for k, v in found.items() if v is not None and not k.startswith(("KW", "KS")))
            if kind == "IP" and self._phone_not_ip(text, m, lang):
                kind = PHONE
            before = next((v for k, v in found.items() if v and k.startswith("KW")), "")
            if kind in DATED and before and dates.is_study_period(text, m.start(), m.start() + len(before), m.end()):
                return m.group(0)  # a cohort's study period, not a person's date
            counts[kind] = counts.get(kind, 0) + 1
            after = next((v for k, v in found.items() if v and k.startswith("KS")), "")
            return f"{before}<{kind}>{after}"

        lower = text.lower()
        for p in self.passes:
            if p.applies(text, lower):
                text = p.pattern.sub(repl, text)
        if self._wanted(PHONE):
            text = self._scrub_phones(text, counts, lang)
        return text

    def _phone_not_ip(self, text: str, m: re.Match, lang: str | None) -> bool:
        """A dotted run after a phone word ("móvil: 91.220.32.41") is a number written with dots, not an IPv4
        address, when the numbering plan accepts it."""
        if not self._wanted(PHONE) or not phone_word_before(text, m.start()):
            return False
        start = max(0, m.start() - KEYWORD_WINDOW)
        return (m.start() - start, m.end() - start) in self.phones.find(text[start:m.end()], lang)

    def _scrub_phones(self, text: str, counts: dict[str, int], lang: str | None) -> str:
        spans = self.phones.find(text, lang)
        if not spans:
            return text
        counts[PHONE] = counts.get(PHONE, 0) + len(spans)
        pieces, last = [], 0
        for start, end in spans:
            pieces += [text[last:start], f"<{PHONE}>"]
            last = end
        return "".join(pieces) + text[last:]

    def process(self, record):
        counts: dict[str, int] = {}
        lang = record.get("lang")
        for m in record.get("messages") or []:
            m["content"] = self.scrub(m["content"], counts, lang)
        if record.get("text"):
            record["text"] = self.scrub(record["text"], counts, lang)
        mcq = record.get("mcq")
        if mcq:
            for key in ("question", "explanation", "context"):
                if mcq.get(key):
                    mcq[key] = self.scrub(mcq[key], counts, lang)
        record["meta"]["pii"] = counts
        limit = self.config.max_replacements
        if limit is not None and sum(counts.values()) > limit:
            raise Reject("too much personal data", {"pii": counts, "max_replacements": limit})
        return None
