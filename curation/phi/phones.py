"""Telephone numbers in national and international formats, found with libphonenumber's matcher.

A regular expression alone either misses national formats (a UK number in 5+6 digits, a French number in
pairs) or takes lab values and dates for numbers; libphonenumber knows each country's numbering plan. Its
matcher is slow (about a millisecond per call), so a cheap expression first picks the few runs of digits that
could be a number, and only those are handed to it, for the regions the record's language suggests.

Strictness: a run is a number when it is *valid* in a candidate region (a real prefix, length and national
trunk prefix, `Leniency.VALID`). Where the number is written with a country code (`+44`, `0044`) or follows
a word such as "tel", "call", "teléfono" or "电话", being *possible* (the right length) is enough, so
fictional or newly allocated numbers are still caught; after such a word a number valid in any region known
here is taken too (a German number in an English text). A run of digits with no separator needs ten digits
or such a word, as do runs that look like dates. Runs with decimals ("0.938/0.979", "6.5 7.0 120") are never
numbers. Where several regions read a run, the one that reads most of it wins.
"""

from __future__ import annotations

import re

from phonenumbers import Leniency, PhoneNumberMatcher

from .digits import digits_at_least

# Where a language is spoken, the regions whose national formats its texts use (first is most likely).
LANG_REGIONS: dict[str, tuple[str, ...]] = {
    "en": ("US", "GB", "IE", "IN", "AU", "NZ", "ZA"),
    "es": ("ES", "MX", "US", "AR", "CO", "CL", "PE"),
    "zh": ("CN", "HK", "TW", "SG"),
    "ar": ("SA", "AE", "EG", "JO", "KW", "QA", "MA"),
    "fr": ("FR", "BE", "CH", "CA"),
    "pt": ("PT", "BR"),
    "de": ("DE", "AT", "CH"),
    "it": ("IT", "CH"),
    "hi": ("IN",),
}
ALL_REGIONS: tuple[str, ...] = tuple(dict.fromkeys(r for regions in LANG_REGIONS.values() for r in regions))
# Without a language, the script of the text narrows the regions the same way.
SCRIPT_REGIONS: dict[str, tuple[str, ...]] = {
    "han": LANG_REGIONS["zh"],
    "arabic": LANG_REGIONS["ar"],
    "devanagari": LANG_REGIONS["hi"],
    "latin": ("US", "GB", "IE", "IN", "FR", "DE", "ES", "IT", "PT", "MX", "BR"),
}

DIGIT = r"[0-9０-９٠-٩۰-۹०-९]"  # ASCII, full-width, Arabic-Indic, Persian and Devanagari digits
# A run that could be a number: an optional + / 00 / opening bracket, then digits in groups joined by one
# space, dash, dot or slash (or brackets around a group). No letters or other digits touch it.
_SEP = r"[ \u00a0]?[-–./]?[ \u00a0]?"
CANDIDATE = re.compile(
    rf"(?<![A-Za-z0-9０-９+.,/-])(?:\(?\+\s?|\()?{DIGIT}(?:{DIGIT}|{_SEP}\(?{DIGIT}|\)[ \u00a0-]?{DIGIT}){{6,}}"
    rf"(?![A-Za-z0-9０-９]|[.,]{DIGIT})")
KEYWORD = re.compile(
    r"(?i:\b(?:tel|tél|tlf|tfno|telf|ph|phone|telephone|téléphone|tel[eé]fono|mobile?|mob|cell(?:phone)?|"
    r"celular|m[oó]vil|portable|call|ring|text|whats[aA]pp|fax|contact(?:o|ez)?|llam[ae]\w*|appel\w*|"
    r"joindre|joignable|number|n[uú]mero|num[eé]ro|hotline|reach)\b\.?)"
    r"|电话|電話|手机|手機|联系|聯絡|致电|致電|拨打|撥打|请打|請打|拨|撥|号码|號碼|"
    r"هاتف|الهاتف|جوال|الجوال|اتصل|اتصال|رقم|موبايل|واتساب|"
    r"फ़ोन|फोन|मोबाइल|संपर्क")
KEYWORD_WINDOW = 30  # characters before a run in which a phone word counts
DATE_LIKE = re.compile(rf"{DIGIT}{{4}}[-/.]{DIGIT}{{1,2}}[-/.]{DIGIT}{{1,2}}$|{DIGIT}{{1,2}}[-/.]{DIGIT}{{1,2}}[-/.]"
                       rf"{DIGIT}{{2,4}}$")
DECIMAL = re.compile(rf"(?<![0-9.]){DIGIT}+\.{DIGIT}{{1,2}}(?![0-9.])")
LIST_JOIN = re.compile(r"[ \u00a0]+[/–-][ \u00a0]*|[ \u00a0]*/[ \u00a0]+")
MAX_DIGITS = 17  # +CC, trunk and 15 digits: the longest a number is written
LEADING_ZERO_DECIMAL = re.compile(rf"(?<![0-9])0\.{DIGIT}")
CC_PREFIX = re.compile(rf"^(?:\+\s?|00\s?){DIGIT}{{1,3}}[ \u00a0-]?")


def regions_for(lang: str | None, text: str) -> tuple[str, ...]:
    """The regions whose national formats to try, from the record's language or else the text's script."""
    if lang:
        base = lang.split("-")[0].split("_")[0].lower()
        if base in LANG_REGIONS:
            return LANG_REGIONS[base]
    return SCRIPT_REGIONS[_script(text)]


def _script(text: str) -> str:
    """The first non-Latin script among the letters of the text, else latin (a cheap scan, no model)."""
    for ch in text:
        o = ord(ch)
        if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF:
            return "han"
        if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F:
            return "arabic"
        if 0x0900 <= o <= 0x097F:
            return "devanagari"
    return "latin"


def phone_word_before(text: str, pos: int) -> bool:
    """Whether a word such as "tel", "móvil" or "电话" stands just before `pos`, with no other number between
    (in "Tel 020 7946 0958, IP 10.0.0.12" the word speaks for the first run only)."""
    words = list(KEYWORD.finditer(text, max(0, pos - KEYWORD_WINDOW), pos))
    last = words[-1] if words else None
    return last is not None and not any(ch.isdigit() for ch in text[last.end():pos])


def _digits(s: str) -> int:
    return sum(ch.isdigit() for ch in s)


def _plausible(run: str, keyword: bool) -> bool:
    """Rules out runs no numbering plan should be asked about: dates, decimals, too few or too many digits."""
    n = _digits(run)
    if n < 7 or n > MAX_DIGITS:
        return False
    international = run.startswith(("+", "00"))
    core = CC_PREFIX.sub("", run) if international else run
    if DATE_LIKE.match(core) and not keyword:
        return False
    if LEADING_ZERO_DECIMAL.search(core) or ("." in core and re.search(r"[\s/-]", core)):
        return False  # "0.938/0.979", "20.300-31000": values and ranges; a dotted number uses dots alone
    if DECIMAL.search(core) and not keyword:
        return False  # "6.5 7.0 120": lab values in a row; a dotted number ("06.12.34.56.78") has no 1-2 digit tail
    # a bare 7-9 digit run is a PMID or a count far more often than a number
    return not (core.isdigit() and n < 10 and not (keyword or international))


class PhoneFinder:
    """Finds numbers in texts; holds the matcher's answers for runs already seen, since a dataset repeats
    the same contact line in many records. One per step instance, so nothing is shared between processes."""

    CACHE_SIZE = 4096

    def __init__(self, regions: tuple[str, ...] | None = None):
        self.regions = regions  # fixed regions for every text, else from each text's language
        self._cache: dict[tuple[str, tuple[str, ...], bool], tuple[tuple[int, int], ...]] = {}

    def find(self, text: str, lang: str | None = None) -> list[tuple[int, int]]:
        """Start and end of every telephone number in `text`, in order."""
        if not digits_at_least(text, 7):
            return []
        regions: tuple[str, ...] | None = self.regions
        found: list[tuple[int, int]] = []
        for start, run in _runs(text):
            keyword = phone_word_before(text, start)
            if not _plausible(run, keyword):
                continue
            if regions is None:
                regions = regions_for(lang, text)
            lenient = keyword or run.startswith(("+", "00"))
            spans = self._match_run(run, regions, lenient)
            if not spans and keyword:
                # a phone word vouches for the run: a number from another country ("Tel. 030 1234 5678" in an
                # English text) is read with every plan known here, as a valid number
                spans = self._match_run(run, ALL_REGIONS, False)
            found.extend((start + a, start + b) for a, b in spans)
        return found

    def _match_run(self, run: str, regions: tuple[str, ...], lenient: bool) -> tuple[tuple[int, int], ...]:
        key = (run, regions, lenient)
        if key not in self._cache:
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = match_run(run, regions, lenient)
        return self._cache[key]


def match_run(run: str, regions: tuple[str, ...], lenient: bool) -> tuple[tuple[int, int], ...]:
    """Spans of numbers inside one run, read with the numbering plan of the candidate region that explains most
    of it."""
    leniency = Leniency.POSSIBLE if lenient else Leniency.VALID
    if run.startswith("+"):
        regions = ("ZZ",)  # a +CC number is parsed from its own country code
    elif run.startswith("00"):
        regions = ("GB",)  # 00 is the international prefix there (and in most of the world, not in NANP)
    best: tuple[tuple[int, int], ...] = ()
    for region in regions:
        spans = tuple(_balanced(run, m.start, m.end) for m in PhoneNumberMatcher(run, region, leniency=leniency))
        # the region whose plan reads the most of the run wins: in "(11) 91234-5678" Portugal reads a mobile in
        # the last nine digits, Brazil the whole number with its area code
        if sum(b - a for a, b in spans) > sum(b - a for a, b in best):
            best = spans
    return best


def _balanced(run: str, start: int, end: int) -> tuple[int, int]:
    """The span without an opening bracket whose closing one it does not hold ("(0161 496 0000)")."""
    if run[start] == "(" and run.count(")", start, end) < run.count("(", start, end):
        start += 1
    return start, end


def _runs(text: str) -> list[tuple[int, str]]:
    """Candidate runs with their offsets; a run too long for one number is cut where a list of numbers is
    joined ("138 1234 5678 / 010-6212 3456"), and each piece is a run of its own."""
    out = []
    for m in CANDIDATE.finditer(text):
        run, start = m.group(0), m.start()
        if _digits(run) <= MAX_DIGITS:
            out.append((start, run))
            continue
        last = 0
        for cut in LIST_JOIN.finditer(run):
            out.append((start + last, run[last:cut.start()]))
            last = cut.end()
        out.append((start + last, run[last:]))
    return out
