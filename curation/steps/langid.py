"""langid: the language of each record and of each role's text, so mixed-language pairs are caught.

Text that is plainly in one script with one language (Han, Kana, Hangul, Arabic, Devanagari, Thai, ...) is
labelled from its characters, which is exact and fast; everything else goes to langdetect, seeded so the
result is the same on every run, on a bounded prefix (its accuracy stops improving long before 1,000
characters, and its cost grows with length). langdetect seeds Python's `random` module before each
detection, so each worker process gets deterministic results of its own.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from pydantic import Field

from .base import RecordStep, Reject, StepConfig, register, texts_of

SCRIPT_LANG = {"HAN": "zh", "HANGUL": "ko", "THAI": "th", "DEVANAGARI": "hi", "HEBREW": "he", "GREEK": "el",
               "ARMENIAN": "hy", "GEORGIAN": "ka", "BENGALI": "bn", "TAMIL": "ta", "ETHIOPIC": "am",
               "KHMER": "km", "LAO": "lo", "MYANMAR": "my", "GUJARATI": "gu", "TELUGU": "te", "KANNADA": "kn",
               "MALAYALAM": "ml", "GURMUKHI": "pa", "SINHALA": "si"}
# Function words: when a text's function words are nearly all of one language (3+ hits in a short text, 6+ in
# a long one, and three times any rival), that language is decisive; near relatives (es/ca/pt, fr, it) are
# listed so that they compete instead of being mistaken for each other. Anything less goes to langdetect.
FUNCTION_WORDS = {
    "en": "the and of to is in with for are that or be on as it this by from not can was were have has which what "
          "how why when should does do an a if your you my it's there their",
    "es": "el los las y de del la que en con para por una un es se como más está pero sus al lo también muy entre "
          "cuando son sin cada puede tiene qué cómo cuál cuáles hay sobre este esta debe hasta desde le su",
    "pt": "os não de do da em com uma um ao dos das também são pelo pela mais você isso que se por para como",
    "ca": "els amb és per les dels aquest aquesta seu però també molt quan de la que en un una el",
    "fr": "les des et est du dans pour pas sur avec une il sont au aux ce qui ne de la le que en un",
    "it": "il gli di che è della nel per sono non alla delle anche degli la un una",
    "de": "der die das und ist nicht ein eine mit zu von auf für sich den dem auch wie",
    "nl": "het een van en niet zijn met voor op dat aan ook de",
}
FUNCTION_INDEX: dict[str, list[str]] = {}
for _lang, _words in FUNCTION_WORDS.items():
    for _w in _words.split():
        FUNCTION_INDEX.setdefault(_w, []).append(_lang)
PERSIAN_LETTERS = set("پچژگ")
URDU_LETTERS = set("ٹڈڑںےھ")


@lru_cache(maxsize=8192)
def _script(ch: str) -> str:
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return "OTHER"
    if name.startswith("CJK") or "IDEOGRAPH" in name:
        return "HAN"
    if name.startswith(("HIRAGANA", "KATAKANA")):
        return "KANA"
    return name.split(" ", 1)[0]


def script_profile(text: str) -> tuple[str, float, int]:
    """The dominant script of the letters in `text`, its share, and the number of letters."""
    counts: dict[str, int] = {}
    n = 0
    for ch in text[:2000]:
        if ch.isalpha():
            s = "LATIN" if ch.isascii() else _script(ch)
            counts[s] = counts.get(s, 0) + 1
            n += 1
    if not n:
        return "NONE", 0.0, 0
    script = max(counts, key=lambda k: (counts[k], k))
    if script == "HAN" and counts.get("KANA", 0) > 0.05 * n:
        script = "KANA"
    share = (counts[script] + (counts.get("HAN", 0) if script == "KANA" else 0)) / n
    return script, share, n


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


class LangidConfig(StepConfig):
    keep: list[str] | None = Field(None, description="Keep only these languages (ISO 639-1); all if left out.")
    min_confidence: float = Field(0.5, ge=0, le=1, description="Reject below this confidence.")
    reject_mixed: bool = Field(True, description="Reject records whose user and assistant text differ in language.")
    min_chars: int = Field(
        40, description="Texts shorter than this are too short for langdetect's confidence to mean anything: "
        "a role this short is not judged for mixing, and a record this short is not held to min_confidence.")
    mixed_min_probability: float = Field(
        0.9, description="A role judged by langdetect counts as another language only this sure (script and "
        "function-word decisions are decisive).")
    prefix_chars: int = Field(600, description="Characters given to langdetect per text.")
    seed: int = 0


@register("langid")
class Langid(RecordStep):
    Config = LangidConfig
    config: LangidConfig
    # langdetect's profiles, loaded once per process: kept on the class because a worker receives a freshly
    # unpickled step with every chunk, and reloading the profiles per chunk would cost more than the chunk
    _factory = None

    def setup(self) -> None:
        if Langid._factory is None:
            from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

            factory = DetectorFactory()
            factory.load_profile(PROFILES_DIRECTORY)
            Langid._factory = factory

    def detect(self, text: str) -> tuple[str, float, str]:
        """(language, confidence, method)."""
        script, share, n = script_profile(text)
        if n == 0:
            return "und", 0.0, "none"
        if script == "ARABIC":
            letters = set(text[:2000])
            lang = "ur" if letters & URDU_LETTERS else "fa" if letters & PERSIAN_LETTERS else "ar"
            return lang, round(share, 3), "script"
        if script in SCRIPT_LANG and share >= 0.6:
            return SCRIPT_LANG[script], round(share, 3), "script"
        if script == "KANA":
            return "ja", round(share, 3), "script"
        if script == "LATIN" and share >= 0.9:
            vote = function_word_vote(text)
            if vote is not None:
                return vote[0], vote[1], "function-words"
        self.setup()
        from langdetect.lang_detect_exception import LangDetectException

        det = self._factory.create()
        det.set_max_text_length(self.config.prefix_chars)
        det.seed = self.config.seed  # fixed seed: deterministic
        det.append(text[: self.config.prefix_chars])
        try:
            best = det.get_probabilities()[0]
        except (LangDetectException, IndexError):
            return "und", 0.0, "langdetect"
        lang = best.lang.split("-")[0]  # zh-cn / zh-tw -> zh
        return lang, round(best.prob, 3), "langdetect"

    def process(self, record):
        c = self.config
        parts = texts_of(record)
        by_role: dict[str, str] = {}
        for role, text in parts:
            if role != "system":
                by_role[role] = by_role.get(role, "") + "\n" + text
        full = "\n".join(by_role.values())
        # Each role long enough to judge is detected once; the record's language comes from those results
        # (the longest role's), and only when no role is long enough is the whole text detected instead.
        judged = {}
        if c.reject_mixed and record.get("task") != "mcq":
            judged = {role: self.detect(text) for role, text in by_role.items() if len(text.strip()) >= c.min_chars}
        if len(judged) >= 2:
            longest = max(judged, key=lambda r: len(by_role[r]))
            lang, conf, method = judged[longest]
        else:
            lang, conf, method = self.detect(full)
        info = {"lang": lang, "confidence": conf, "method": method}
        declared = record.get("lang")
        if declared and declared != lang:
            info["declared"] = declared
        if len(judged) >= 2:
            info["per_role"] = {role: r[0] for role, r in judged.items()
                                if r[2] != "langdetect" or r[1] >= c.mixed_min_probability}
        record["lang"] = lang if lang != "und" else None
        record["meta"]["langid"] = info
        if lang == "und":
            raise Reject("language unknown", info)
        if c.reject_mixed and len(set(info.get("per_role", {}).values()) - {"und"}) > 1:
            raise Reject("mixed languages", info)
        if conf < c.min_confidence and len(full.strip()) >= c.min_chars:
            raise Reject("low language confidence", info)
        if c.keep is not None and lang not in c.keep:
            raise Reject("language not kept", info)
        return None
