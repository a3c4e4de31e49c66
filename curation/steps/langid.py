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


class LangidConfig(StepConfig):
    keep: list[str] | None = Field(None, description="Keep only these languages (ISO 639-1); all if left out.")
    min_confidence: float = Field(0.5, ge=0, le=1, description="Reject below this confidence.")
    reject_mixed: bool = Field(True, description="Reject records whose user and assistant text differ in language.")
    min_chars: int = Field(
        40, description="Texts shorter than this are too short for langdetect's confidence to mean anything: "
        "a role this short is not judged for mixing, and a record this short is not held to min_confidence.")
    mixed_min_probability: float = Field(0.9, description="A role counts as another language only this sure.")
    prefix_chars: int = Field(600, description="Characters given to langdetect per text.")
    seed: int = 0


@register("langid")
class Langid(RecordStep):
    Config = LangidConfig
    config: LangidConfig
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
        lang, conf, method = self.detect(full)
        info = {"lang": lang, "confidence": conf, "method": method}
        declared = record.get("lang")
        if declared and declared != lang:
            info["declared"] = declared
        if c.reject_mixed and len(by_role) > 1 and record.get("task") != "mcq":
            per_role = {}
            for role, text in by_role.items():
                if len(text.strip()) >= c.min_chars:
                    role_lang, role_conf, _ = self.detect(text)
                    if role_conf >= c.mixed_min_probability:
                        per_role[role] = role_lang
            info["per_role"] = per_role
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
