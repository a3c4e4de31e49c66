"""Medical relevance: does a text speak of medicine at all?

A record is medical when `medical_score(text) >= DEFAULT_MIN_SCORE`. The score counts medical *hits* and
divides by the text's length in words, with the length floored at `FLOOR_WORDS`: a long passage needs a
density of medical words, while a short exam item (a stem and four one-word options) needs only one clear
medical term instead of being punished for having few words. Hits come from

- the lexicon `data/medical_lexicon.tsv` (stems in en/es/fr matched at a word's start, whole words when
  short; Arabic stems after clitics are stripped; Hindi stems; Chinese words), and
- morphology in `data/medical_affixes.tsv`: Greek/Latin suffixes (-itis, -oma, -emia, -ectomy, drug stems
  such as -mab, -cillin, -pril, -olol) and combining forms (cardio-, hepat-, neur-), which reach rare
  diseases and drugs no list can hold, with a short list of ordinary words they would wrongly catch;
- Chinese characters that in running text almost only occur in medicine (病 症 炎 癌 瘤 药 ...).

Matching is by hand over word tokens with set look-ups: a token is checked against a few prefix lengths and
a tuple of suffixes, which is linear in the text and needs no extra dependency, and an alternation regex over
thousands of stems would be far slower in Python's backtracking engine.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
LEXICON = DATA / "medical_lexicon.tsv"
AFFIXES = DATA / "medical_affixes.tsv"

FLOOR_WORDS = 30
DEFAULT_MIN_SCORE = 1.0
# Characters that, in Chinese running text, belong to medicine far more than to anything else.
ZH_CHARS = frozenset("病症炎癌瘤药剂血疗医诊患疾痛疼菌肝肺肾胃肠髓胆脾胰腺肌痰疮疹痫瘫痹疱痔疝疸"
                     "痢疟疡脓肿孕娩胎龈齿龋酶疫痉挛瘀栓梗萎尿")
ZH_RUN = re.compile(r"[\u3400-\u9fff]+")
TOKEN = re.compile(r"[a-z]+|[\u0621-\u064a]+|[\u0900-\u097f]+")
AR_DIACRITICS = re.compile(r"[\u064b-\u0652\u0640]")
AR_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال", "و", "ف", "ب", "ك", "ل")
AR_SUFFIXES = ("ات", "ون", "ين", "ان", "ية", "ها", "هم", "ي", "ه", "ة")
COMBINING = re.compile(r"[\u0300-\u036f\u0653-\u0655\u093c]")
AR_FOLD = str.maketrans("أإآى", "اااي")
MIN_PREFIX = {"latin": 5, "ar": 4, "hi": 3}


def fold_latin(text: str) -> str:
    """Lower-case and drop accents, so 'anémie', 'anemia' and 'Anämie' meet the same stems."""
    return COMBINING.sub("", unicodedata.normalize("NFKD", text.lower()))


def fold_arabic(word: str) -> str:
    """Drop diacritics and unify alef and teh marbuta forms, which spelling varies freely."""
    word = AR_DIACRITICS.sub("", word)
    return word.translate(AR_FOLD)


def script_of(word: str) -> str:
    """Which stem table a token belongs to: Latin, Arabic or Devanagari."""
    first = word[0]
    if "\u0600" <= first <= "\u06ff":
        return "ar"
    if "\u0900" <= first <= "\u097f":
        return "hi"
    return "latin"


@dataclass(frozen=True)
class Tables:
    """The lexicon and affixes, split into the look-up sets each script needs."""

    exact: dict[str, frozenset[str]]
    stems: dict[str, frozenset[str]]
    stem_lengths: dict[str, tuple[int, ...]]
    zh_words: re.Pattern
    suffixes: tuple[str, ...]
    prefixes: tuple[str, ...]
    not_words: frozenset[str]
    not_starts: tuple[str, ...]


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=4)
def tables(lexicon: str = str(LEXICON)) -> Tables:
    """Read the data files once per process (per lexicon a recipe names); the result is immutable."""
    exact: dict[str, set[str]] = {"latin": set(), "ar": set(), "hi": set()}
    stems: dict[str, set[str]] = {"latin": set(), "ar": set(), "hi": set()}
    zh: set[str] = set()
    for lang, term in _rows(Path(lexicon)):
        if lang in ("zh", "ja"):
            zh.add(term.strip())
            continue
        script = {"ar": "ar", "hi": "hi"}.get(lang, "latin")
        word = fold_latin(term.strip())
        word = fold_arabic(word) if script == "ar" else word
        if script == "ar" and word.startswith("ال") and len(word) > 3:
            word = word[2:]
        (stems if len(word) >= MIN_PREFIX[script] else exact)[script].add(word)
    affixes = _rows(AFFIXES)
    nots = [a for kind, a in affixes if kind == "not"]
    zh_alt = "|".join(re.escape(w) for w in sorted(zh, key=len, reverse=True))
    return Tables(
        exact={k: frozenset(v) for k, v in exact.items()},
        stems={k: frozenset(v) for k, v in stems.items()},
        stem_lengths={k: tuple(sorted({len(s) for s in v})) for k, v in stems.items()},
        zh_words=re.compile(f"{zh_alt}|[{''.join(sorted(ZH_CHARS))}]"),
        suffixes=tuple(a for kind, a in affixes if kind == "suffix"),
        prefixes=tuple(a for kind, a in affixes if kind == "prefix"),
        not_words=frozenset(nots),
        not_starts=tuple(n for n in nots if len(n) >= 8),
    )


def _stem_hit(word: str, script: str, t: Tables) -> bool:
    if word in t.exact[script]:
        return True
    stems = t.stems[script]
    return any(word[:n] in stems for n in t.stem_lengths[script] if n <= len(word))


def _affix_hit(word: str, t: Tables) -> bool:
    """Greek/Latin morphology; a word must keep three letters beside the affix so 'oma' alone never counts."""
    if word in t.not_words or word.startswith(t.not_starts):
        return False
    if word.endswith(t.suffixes) and any(word.endswith(s) and len(word) >= len(s) + 3 for s in t.suffixes):
        return True
    return word.startswith(t.prefixes) and any(word.startswith(p) and len(word) >= len(p) + 3 for p in t.prefixes)


def _arabic_forms(word: str) -> list[str]:
    """The word with one proclitic and one suffix taken off, in every order that leaves a stem."""
    forms = [word]
    for p in AR_PREFIXES:
        if word.startswith(p) and len(word) - len(p) >= 2:
            forms.append(word[len(p):])
            break
    for form in list(forms):
        for s in AR_SUFFIXES:
            if form.endswith(s) and len(form) - len(s) >= 2:
                forms.append(form[: -len(s)])
                break
    return forms


@lru_cache(maxsize=1 << 17)
def _word_hit(word: str, lexicon: str = str(LEXICON)) -> bool:
    """Cached per word: vocabulary repeats (Zipf), so most tokens of a corpus are decided by one dict look-up."""
    t = tables(lexicon)
    script = script_of(word)
    if script == "ar":
        return any(_stem_hit(f, "ar", t) for f in _arabic_forms(fold_arabic(word)))
    if script == "hi":
        return _stem_hit(word, "hi", t)
    return _stem_hit(word, "latin", t) or _affix_hit(word, t)


def _scan(text: str, lexicon: str = str(LEXICON)) -> tuple[list[str], float]:
    """Medical hits and the text's length in words (two Chinese characters count as one word)."""
    t = tables(lexicon)
    hits: list[str] = []
    cjk = 0
    for run in ZH_RUN.findall(text):
        cjk += len(run)
        hits.extend(t.zh_words.findall(run))
    words = TOKEN.findall(fold_latin(text))
    hits.extend(w for w in words if len(w) > 1 and _word_hit(w, lexicon))
    return hits, len(words) + cjk / 2


def medical_hits(text: str, lexicon: str = str(LEXICON)) -> list[str]:
    """The medical terms found, in order, so a reject can show what (little) matched."""
    return _scan(text, lexicon)[0]


def medical_score(text: str, lexicon: str = str(LEXICON)) -> float:
    """Medical hits per 100 words, the word count floored at FLOOR_WORDS so short items need one clear term."""
    hits, words = _scan(text, lexicon)
    return round(100 * len(hits) / max(words, FLOOR_WORDS), 3)


def is_medical(text: str, min_score: float = DEFAULT_MIN_SCORE) -> bool:
    """The default decision, for callers that want a yes or no."""
    return medical_score(text) >= min_score
