"""Medical relevance: does a text speak of medicine at all?

A record is medical when `medical_score(text) >= DEFAULT_MIN_SCORE`. The score sums the weights of medical
*hits* and divides by the text's length in words, with the length floored at `FLOOR_WORDS`: a long passage
needs a density of medical words, while a short exam item (a stem and four one-word options) needs only one
clear medical term, or two weaker ones, instead of being punished for having few words. Hits come from

- the lexicon `data/medical_lexicon.tsv` (stems in en/es/fr matched at a word's start, whole words when
  short; Arabic stems after clitics are stripped; Hindi stems; Chinese words). A term may be several words
  ("life expectancy", "salud pública", "صحة عامة"): it is matched as a run of tokens, each word of the term
  matched like a single term, and counts once. A term flagged `weak` is a word of biology, chemistry,
  physics or statistics that general text uses too ("atom", "memory", "sample"): it counts a quarter, so one
  alone does not make a short text medical but two different ones do, or one beside a clear medical term
  (a weak word repeated counts once: "memory ... memory" in a software message stays general). A term flagged
  `word` must be the whole word even when long ("organ" without "organization");
- morphology in `data/medical_affixes.tsv`: Greek/Latin suffixes (-itis, -oma, -emia, -ectomy, drug stems
  such as -mab, -cillin, -pril, -olol) and combining forms (cardio-, hepat-, neur-), also as Hindi
  transliterates them, which reach rare diseases and drugs no list can hold, with a short list of ordinary
  words they would wrongly catch;
- Chinese characters that in running text almost only occur in medicine (病 症 炎 癌 瘤 药 ...).

Matching is by hand over word tokens with set look-ups: a token is checked against a few prefix lengths and
a tuple of suffixes, which is linear in the text and needs no extra dependency, and an alternation regex over
thousands of stems would be far slower in Python's backtracking engine. Arabic clitics are stripped by hand
as well: the installed libraries have no Arabic or Hindi stemmer, and root-based stemmers would merge
unrelated words that share a root, where stripping one proclitic and one suffix only undoes spelling.
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
# Words of cooking, sport, law, finance and software: evidence that a text speaks of something else
GENERAL_LEXICON = DATA / "general_lexicon.tsv"

FLOOR_WORDS = 30
DEFAULT_MIN_SCORE = 1.0
WEAK = 0.25
# Characters that, in Chinese running text, belong to medicine far more than to anything else.
ZH_CHARS = frozenset("病症炎癌瘤药剂血疗医诊患疾痛疼菌肝肺肾胃肠髓胆脾胰腺肌痰疮疹痫瘫痹疱痔疝疸"
                     "痢疟疡脓肿孕娩胎龈齿龋酶疫痉挛瘀栓梗萎尿")
ZH_RUN = re.compile(r"[\u3400-\u9fff]+")
TOKEN = re.compile(r"[a-z]+|[\u0621-\u064a]+|[\u0900-\u0963\u0966-\u097f]+")
AR_DIACRITICS = re.compile(r"[\u064b-\u0652\u0640]")
# Proclitics, longest first: conjunction و/ف, then preposition ب/ك/ل, then the article ال (لل is ل + ال).
AR_PREFIXES = ("وبال", "فبال", "وكال", "ولل", "فلل", "وال", "بال", "كال", "فال", "لل", "ال", "وب", "ول", "و", "ف",
               "ب", "ك", "ل")
AR_SUFFIXES = ("يات", "ات", "ون", "ين", "ان", "تين", "تان", "ية", "يه", "ها", "هم", "كم", "نا", "ي", "ه", "ة")
# Accents, Arabic short vowels and hamza marks, Hindi nukta, zero-width joiners: dropped before tokenising, so a
# vowelled Arabic word (المُختار) stays one token instead of splitting at its diacritics.
COMBINING = re.compile(r"[\u0300-\u036f\u064b-\u0655\u0670\u093c\u200c\u200d]")
AR_FOLD = str.maketrans("أإآىؤئ", "ااايوي")
HI_FOLD = ("\u0901", "\u0902")  # chandrabindu and anusvara are spelling variants (आँत, आंत); replace() is fast
MIN_PREFIX = {"latin": 5, "ar": 4, "hi": 3}


def fold_latin(text: str) -> str:
    """Lower-case and drop accents, so 'anémie', 'anemia' and 'Anämie' meet the same stems."""
    return COMBINING.sub("", unicodedata.normalize("NFKD", text.lower())).replace(*HI_FOLD)


def fold_arabic(word: str) -> str:
    """Drop diacritics and unify alef, hamza-seat and alef maqsura forms, which spelling varies freely."""
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


def fold_term(word: str, script: str) -> str:
    """A lexicon word folded as text is, with Arabic's article dropped so 'الدم' and 'دم' are one entry.

    The article is looked for before hamza seats are folded: 'ألكان' (alkane) starts with a hamza, not with
    the article, and must not become 'كان' (was)."""
    if script == "ar":
        raw = AR_DIACRITICS.sub("", word.strip())
        raw = raw[2:] if raw.startswith("ال") and len(raw) > 3 else raw
        return fold_arabic(fold_latin(raw))
    return fold_latin(word.strip())


@dataclass(frozen=True)
class Tables:
    """The lexicon and affixes, split into the look-up tables each script needs; values are hit weights."""

    exact: dict[str, dict[str, float]]
    stems: dict[str, dict[str, float]]
    stem_lengths: dict[str, tuple[int, ...]]
    phrases: dict[str, tuple[tuple[tuple[str, ...], float], ...]]
    phrase_heads: frozenset[str]
    zh_words: re.Pattern
    zh_weights: dict[str, float]
    suffixes: tuple[str, ...]
    prefixes: tuple[str, ...]
    not_words: frozenset[str]
    not_starts: tuple[str, ...]


def _trie_pattern(words: list[str]) -> str:
    """An alternation of words written as a trie, longest match first (病毒性肝炎 before 病毒 before 病).

    Python's regex engine tries a flat alternation's branches one by one at every position, which with a
    thousand Chinese terms is most of the scan's time; as a trie each position costs about one character test.
    """
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def _add(table: dict[str, float], key: str, weight: float) -> None:
    """A term listed twice (once weak, once strong) keeps its strongest weight."""
    table[key] = max(weight, table.get(key, 0.0))


@lru_cache(maxsize=4)
def tables(lexicon: str = str(LEXICON), morphology: bool = True) -> Tables:
    """Read the data files once per process (per lexicon a recipe names); the result is only ever read.

    `morphology` adds the medical affixes and Chinese medical characters; a lexicon of another domain has none."""
    exact: dict[str, dict[str, float]] = {"latin": {}, "ar": {}, "hi": {}}
    stems: dict[str, dict[str, float]] = {"latin": {}, "ar": {}, "hi": {}}
    phrases: dict[str, dict[tuple[str, ...], float]] = {}
    zh: dict[str, float] = {}
    for row in _rows(Path(lexicon)):
        lang, term, flags = row[0], row[1].strip(), set(row[2].split(",")) if len(row) > 2 else set()
        weight = WEAK if "weak" in flags else 1.0
        if lang in ("zh", "ja"):
            _add(zh, term, weight)
            continue
        script = {"ar": "ar", "hi": "hi"}.get(lang, "latin")
        words = tuple(p for w in term.split() for p in TOKEN.findall(fold_term(w, script)))
        if len(words) > 1:
            _add(phrases.setdefault(words[0], {}), words[1:], weight)
        elif words:
            long_stem = len(words[0]) >= MIN_PREFIX[script] and "word" not in flags
            _add((stems if long_stem else exact)[script], words[0], weight)
    affixes = _rows(AFFIXES) if morphology else []
    nots = [fold_latin(a) for kind, a in affixes if kind == "not"]
    return Tables(
        exact=exact,
        stems=stems,
        stem_lengths={k: tuple(sorted({len(s) for s in v})) for k, v in stems.items()},
        phrases={first: tuple(rests.items()) for first, rests in phrases.items()},
        phrase_heads=frozenset(first[: MIN_PREFIX[script_of(first)]] for first in phrases),
        zh_words=re.compile(_trie_pattern(sorted(set(zh) | (ZH_CHARS if morphology else set())))),
        zh_weights=zh,
        suffixes=tuple(fold_latin(a) for kind, a in affixes if kind == "suffix"),
        prefixes=tuple(fold_latin(a) for kind, a in affixes if kind == "prefix"),
        not_words=frozenset(nots),
        not_starts=tuple(n for n in nots if len(n) >= 8),
    )


def _stem_weight(word: str, script: str, t: Tables) -> float:
    """The weight of the strongest lexicon entry that is this word or a stem it starts with; 0 if none."""
    best = t.exact[script].get(word, 0.0)
    stems = t.stems[script]
    for n in t.stem_lengths[script]:
        if n > len(word):
            break
        best = max(best, stems.get(word[:n], 0.0))
    return best


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


@lru_cache(maxsize=1 << 16)
def _forms(word: str) -> tuple[str, ...]:
    """The spellings of a folded token that terms are matched against: Arabic words without their clitics."""
    return tuple(_arabic_forms(fold_arabic(word))) if script_of(word) == "ar" else (word,)


def _word_weight(word: str, t: Tables) -> float:
    """A single token's weight; cached through `_token_info_for`, as vocabulary repeats (Zipf) across a corpus."""
    script = script_of(word)
    forms = _forms(word)
    best = max(_stem_weight(f, script, t) for f in forms)
    if best < 1.0 and any(_affix_hit(f, t) for f in forms):
        return 1.0
    return best


@lru_cache(maxsize=1 << 16)
def _matches(token: str, term_word: str) -> bool:
    """One word of a multi-word term against one text token: whole word, or stem when the word is long."""
    script = script_of(term_word)
    return any(f == term_word or (len(term_word) >= MIN_PREFIX[script] and f.startswith(term_word))
               for f in _forms(token))


def _phrase_starts(word: str, t: Tables) -> tuple[tuple[tuple[str, ...], float], ...]:
    """The multi-word terms whose first word this token can be, longest first, so the longest term wins."""
    script = script_of(word)
    n = MIN_PREFIX[script]
    if not any(f[:n] in t.phrase_heads for f in _forms(word)):
        return ()
    keys = {f[:n] for f in _forms(word) for n in range(MIN_PREFIX[script], len(f))} | set(_forms(word))
    found = [entry for key in keys for entry in t.phrases.get(key, ())]
    return tuple(sorted(found, key=lambda e: -len(e[0])))


@lru_cache(maxsize=4)
def _token_info_for(lexicon: str, morphology: bool = True):
    """A cached per-word look-up for one lexicon: a token's own weight and the multi-word terms it may open.

    One cache per lexicon, keyed by the word alone, so `map` over a text's tokens stays in C for every word
    already seen (vocabulary repeats, Zipf)."""
    t = tables(lexicon, morphology)

    @lru_cache(maxsize=1 << 17)
    def info(word: str) -> tuple[float, tuple[tuple[tuple[str, ...], float], ...]]:
        return (_word_weight(word, t) if len(word) > 1 else 0.0), _phrase_starts(word, t)

    return info


def _phrase_at(words: list[str], i: int, starts: tuple[tuple[tuple[str, ...], float], ...]) -> tuple[int, float]:
    """The length and weight of the longest multi-word term that starts at token i, or (0, 0) if none does."""
    for rest, weight in starts:
        if i + len(rest) < len(words) and all(_matches(words[i + 1 + k], r) for k, r in enumerate(rest)):
            return len(rest) + 1, weight
    return 0, 0.0


def _token_hits(words: list[str], lexicon: str, morphology: bool = True) -> list[tuple[str, float]]:
    """Hits among word tokens: a multi-word term covers its tokens and counts once, in place of its words.

    Tokens are decided by cached look-ups in one comprehension; only the few positions where a multi-word term
    may start are checked one by one, as a Python loop over every token would cost more than the look-ups."""
    infos = list(map(_token_info_for(lexicon, morphology), words))
    phrases: dict[int, tuple[int, float]] = {}
    end = 0
    for i in [i for i, (_, starts) in enumerate(infos) if starts]:
        if i >= end:
            size, weight = _phrase_at(words, i, infos[i][1])
            if size:
                phrases[i] = (size, weight)
                end = i + size
    if not phrases:
        return [(w, weight) for w, (weight, _) in zip(words, infos) if weight]
    covered = {j for i, (size, _) in phrases.items() for j in range(i, i + size)}
    hits = []
    for i, (word, (weight, _)) in enumerate(zip(words, infos)):
        if i in phrases:
            hits.append((" ".join(words[i: i + phrases[i][0]]), phrases[i][1]))
        elif weight and i not in covered:
            hits.append((word, weight))
    return hits


def _scan(text: str, lexicon: str = str(LEXICON), morphology: bool = True) -> tuple[list[tuple[str, float]], float]:
    """Medical hits with their weights, and the text's length in words (two Chinese characters count as one)."""
    t = tables(lexicon, morphology)
    hits: list[tuple[str, float]] = []
    cjk = 0
    for run in ZH_RUN.findall(text):
        cjk += len(run)
        hits.extend((h, t.zh_weights.get(h, 1.0)) for h in t.zh_words.findall(run))
    words = TOKEN.findall(fold_latin(text))
    hits.extend(_token_hits(words, lexicon, morphology))
    return hits, len(words) + cjk / 2


def medical_hits(text: str, lexicon: str = str(LEXICON)) -> list[str]:
    """The medical terms found, in order, so a reject can show what (little) matched."""
    return [h for h, _ in _scan(text, lexicon)[0]]


def medical_score(text: str, lexicon: str = str(LEXICON)) -> float:
    """Weighted medical hits per 100 words, the count floored at FLOOR_WORDS so short items need one clear term."""
    return scan_score(text, lexicon)[0]


def scan_score(text: str, lexicon: str = str(LEXICON)) -> tuple[float, float]:
    """The medical score and the text's length in words (two Chinese characters count as one), from one scan."""
    hits, words = _scan(text, lexicon)
    strong = sum(w for _, w in hits if w >= 1.0)
    weak = sum(w for _, w in dict((h, w) for h, w in hits if w < 1.0).items())  # each weak word once
    return round(100 * (strong + weak) / max(words, FLOOR_WORDS), 3), words


def general_terms(text: str, lexicon: str = str(GENERAL_LEXICON)) -> list[str]:
    """The distinct words of cooking, sport, law, finance or software in a text, in order of first use.

    Matched like medical terms (stems are off: the list is of whole words), without medical morphology."""
    return list(dict.fromkeys(h for h, _ in _scan(text, lexicon, morphology=False)[0]))


def is_medical(text: str, min_score: float = DEFAULT_MIN_SCORE) -> bool:
    """The default decision, for callers that want a yes or no."""
    return medical_score(text) >= min_score
