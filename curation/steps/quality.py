"""quality: measure first, decide second. Every statistic is stored in `meta["quality"]`, kept or not, so
a user can see why a record went and tune a threshold without re-running the measurement.

Filters: length bounds (characters, words, and tokens of a named tokenizer); repetition; symbol-to-word
ratio; answers that are trivially short, restate the question, refuse or carry model boilerplate, or stop
mid-sentence; and, when asked for, a record-by-record medical-relevance score (`curation.relevance`; by default
the `relevance` step judges relevance, as it needs the record's whole source).

Repetition is judged the way each rule was meant. Gopher's fraction rules (duplicate line and paragraph
fractions, top n-gram and duplicated n-gram character fractions) were made for web documents of 50 words
and more, so they apply to documents (task `text`) only, message by message. On real, curated QA and exam
items they misfire: a short answer has few lines, multiple-choice options share their stem, an abstract
repeats its key phrase, a patient-education answer opens with a summary of the points it then makes. Every
task is instead held to rules that copy-paste and looping generation break and curated text does not: a
line or paragraph that occurs three or more times, and word 10-grams that occur three or more times
covering a large part of a message. An MCQ item is measured field by field (stem, each option,
explanation), never as one block in which options echo each other.

`process_batch` measures a chunk of records at once, its per-text statistics vectorised in
`curation.quality_stats`; `measure` stays the record-by-record reference whose numbers it reproduces exactly.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from pathlib import Path

from pydantic import Field

from ..context import RunContext
from ..quality_stats import count_words, may_match, text_stats
from ..relevance import DATA, LEXICON, medical_score
from .base import FILES, RecordStep, Reject, StepConfig, answer_and_question, register, texts_of

WORD = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|[^\s\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]+")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
REFUSAL = re.compile(
    r"as an ai(?: language)? model|as a language model|i(?:'m| am) (?:just )?an ai\b|"
    r"i'?m sorry,? but i (?:can(?:no|')t)|"
    r"i cannot (?:provide|give|offer) (?:medical )?advice|i am not able to provide medical|"
    r"como (?:un )?modelo de lenguaje|como (?:una )?inteligencia artificial|como una ia\b|"
    r"作为(?:一个)?(?:人工智能|ai|AI)(?:语言模型)?|作为语言模型|我只是一个(?:人工智能|AI)|"
    r"بصفتي نموذج(?:ًا)? لغوي|كنموذج (?:لغوي|ذكاء اصطناعي)|بصفتي ذكاء(?:ً)? اصطناعي",
    re.I)
TERMINAL = tuple(".!?。！？…)]}\"'»”’>*`|%0123456789") + tuple("abcdefghijklmnopqrstuvwxyz")
DANGLING = re.compile(
    r"(?:[,:;(\-–—/]|\b(?:and|or|but|the|a|an|of|to|with|for|in|on|by|as|is|are|was|which|that|such as|"
    r"y|o|de|del|la|el|los|las|con|para|por|que|en|un|una|e|u|et|ou|le|les|des)|\s[و]|[的和或与及])\s*$", re.I)
DEFAULT_TOP_NGRAM = {2: 0.20, 3: 0.18, 4: 0.16}
DEFAULT_DUP_NGRAM = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


class QualityConfig(StepConfig):
    min_chars: int = 10
    max_chars: int = 100_000
    min_words: int = 3
    max_words: int = 20_000
    tokenizer: str | None = Field(None, description="A local tokenizer folder or .gguf file, for token bounds.",
                                  json_schema_extra=FILES)
    min_tokens: int | None = None
    max_tokens: int | None = None
    gopher_tasks: list[str] = Field(
        default_factory=lambda: ["text"], description="Tasks whose texts are documents, held to Gopher's "
        "fraction rules (the max_dup_* and max_top_ngram_* thresholds); other tasks get the repeat rules only.")
    max_dup_line_frac: float = 0.3
    max_dup_para_frac: float = 0.3
    gopher_ngrams: bool = Field(
        False, description="Also hold documents to Gopher's top and duplicated n-gram rules (the max_top_ngram_frac "
        "and max_dup_ngram_frac thresholds), storing those statistics in meta. Off by default: on medical "
        "abstracts they misfire, since a study repeats its defining phrase ('the lower body mass index group').")
    max_top_ngram_frac: dict[int, float] = Field(default_factory=lambda: dict(DEFAULT_TOP_NGRAM))
    max_dup_ngram_frac: dict[int, float] = Field(default_factory=lambda: dict(DEFAULT_DUP_NGRAM))
    ngram_min_words: int = Field(50, description="Documents with fewer words are too short for Gopher's n-gram "
                                 "statistics (Gopher's own lower bound on a document).")
    max_line_repeats: int = Field(2, description="A line or paragraph (of 12+ characters) may occur this often in "
                                  "one text; more is copy-paste or a generation loop.")
    loop_ngram: int = Field(10, ge=2, description="Words (a CJK character counts as one) per n-gram for loops.")
    max_loop_frac: float = Field(0.3, description="Share of a text's characters covered by loop_ngram-grams that "
                                 "occur three or more times, above which the text loops.")
    max_symbol_word_ratio: float = 0.1
    min_answer_words: int = Field(2, description="Answers with fewer words (a CJK character counts as one) go.")
    reject_restated: bool = True
    reject_refusals: bool = True
    reject_truncated: bool = True
    min_medical_score: float | None = Field(
        None, description="Medical terms per 100 words (the length floored at 30 words) below which a record is "
        "not medical, judged record by record; off by default, as the `relevance` step judges a record in the "
        "light of its source.")
    lexicon: str | None = Field(None, description="A lexicon file (lang<TAB>term); the shipped one by default.",
                                json_schema_extra=FILES)


def dup_fraction(items: list[str]) -> float:
    items = [i.strip() for i in items if i.strip()]
    if len(items) < 2:
        return 0.0
    return round(1 - len(set(items)) / len(items), 4)


def top_ngram_frac(words: list[str], n: int) -> float:
    grams = Counter(tuple(words[i: i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return 0.0
    gram, count = grams.most_common(1)[0]
    if count < 2:
        return 0.0
    total = sum(len(w) for w in words)
    return round(count * sum(len(w) for w in gram) / max(1, total), 4)


def dup_ngram_frac(words: list[str], n: int) -> float:
    """Characters of words covered by an n-gram that occurs more than once, over all word characters."""
    if len(words) < 2 * n:
        return 0.0
    seen: dict[tuple[str, ...], int] = {}
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        g = tuple(words[i: i + n])
        if g in seen:
            for j in range(i, i + n):
                covered[j] = True
            first = seen[g]
            for j in range(first, first + n):
                covered[j] = True
        else:
            seen[g] = i
    total = sum(len(w) for w in words)
    return round(sum(len(w) for w, c in zip(words, covered) if c) / max(1, total), 4)


def is_spaced(text: str) -> bool:
    """Space-delimited text, where n-grams of words mean something (one Han character is not a word)."""
    return len(CJK.findall(text[:500])) < 0.3 * max(1, min(len(text), 500))


def max_repeats(items: list[str], min_chars: int = 12) -> int:
    """How often the most frequent item (of at least `min_chars` characters) occurs."""
    counts = Counter(i.strip() for i in items if len(i.strip()) >= min_chars)
    return max(counts.values(), default=0)


def loop_fraction(words: list[str], n: int, min_count: int = 3) -> float:
    """Characters covered by n-grams that occur `min_count`+ times, over all word characters: a looping text
    repeats long stretches many times, while natural text (and a summary restated once) does not."""
    if len(words) < min_count * n:
        return 0.0
    grams = [tuple(words[i: i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    covered = [False] * len(words)
    for i, g in enumerate(grams):
        if counts[g] >= min_count:
            for j in range(i, i + n):
                covered[j] = True
    total = sum(len(w) for w in words)
    return round(sum(len(w) for w, c in zip(words, covered) if c) / max(1, total), 4)


def repetition_texts(record) -> list[str]:
    """The texts repetition is judged on: an MCQ item field by field, otherwise each non-system message."""
    mcq = record.get("mcq")
    if mcq:
        return [t for t in (mcq.get("question"), *(mcq.get("options") or {}).values(), mcq.get("explanation"),
                            mcq.get("context")) if isinstance(t, str) and t]
    return [text for role, text in texts_of(record) if role != "system"]


NOT_WORD_OR_SPACE = re.compile(r"[^\w\s]")
# The same replacement for ASCII text as a byte table (upper case to lower, which is ASCII's casefold, and every
# character the pattern matches to a space), built from the pattern itself: one C pass instead of a regex scan.
ASCII_NORM = bytes((ord(" ") if NOT_WORD_OR_SPACE.match(chr(b)) else ord(chr(b).casefold())) for b in range(128)
                   ) + bytes(range(128, 256))


def norm(s: str) -> str:
    """Casefolded words, punctuation dropped: the form a restated answer shares with its question."""
    if s.isascii():
        return " ".join(s.encode("ascii").translate(ASCII_NORM).decode("ascii").split())
    return " ".join(NOT_WORD_OR_SPACE.sub(" ", s.casefold()).split())


@register("quality")
class Quality(RecordStep):
    Config = QualityConfig
    config: QualityConfig

    @classmethod
    def input_files(cls, config: QualityConfig, ctx: RunContext) -> list[Path]:
        """The shipped relevance tables count too: a lexicon edited in a new release reruns the step."""
        return super().input_files(config, ctx) + sorted(DATA.glob("*.tsv"))

    @property
    def lexicon_path(self) -> str:
        return str(self.ctx.resolve(self.config.lexicon)) if self.config.lexicon else str(LEXICON)

    @property
    def tokenizer(self):
        """The token counter for `min_tokens`/`max_tokens`, loaded once per process (see `load_tokenizer`)."""
        return load_tokenizer(str(self.ctx.resolve(self.config.tokenizer))) if self.config.tokenizer else None

    def measure(self, record) -> dict:
        parts = texts_of(record)
        content = "\n".join(t for _, t in parts)
        words = WORD.findall(content)
        q: dict = {"chars": len(content), "words": len(words)}
        if self.tokenizer is not None:
            q["tokens"] = len(self.tokenizer(content, add_special_tokens=False)["input_ids"])
        # Repetition is measured within each text: an answer that echoes its question is not repetitive.
        c = self.config
        gopher = record.get("task") in c.gopher_tasks
        q["dup_line_frac"] = q["dup_para_frac"] = q["loop_frac"] = 0.0
        q["line_repeats"] = q["para_repeats"] = 0
        top: dict[int, float] = {}
        dup: dict[int, float] = {}
        for text in repetition_texts(record):
            lines, paras = text.split("\n"), re.split(r"\n\s*\n", text)
            q["dup_line_frac"] = max(q["dup_line_frac"], dup_fraction(lines))
            q["dup_para_frac"] = max(q["dup_para_frac"], dup_fraction(paras))
            q["line_repeats"] = max(q["line_repeats"], max_repeats(lines))
            q["para_repeats"] = max(q["para_repeats"], max_repeats(paras))
            tw = [w.lower() for w in WORD.findall(text)]
            q["loop_frac"] = max(q["loop_frac"], loop_fraction(tw, c.loop_ngram))
            if gopher and c.gopher_ngrams and len(tw) >= c.ngram_min_words and is_spaced(text):
                for n in c.max_top_ngram_frac:
                    top[n] = max(top.get(n, 0.0), top_ngram_frac(tw, n))
                for n in c.max_dup_ngram_frac:
                    dup[n] = max(dup.get(n, 0.0), dup_ngram_frac(tw, n))
        if top or dup:  # string keys: meta travels as JSON
            q["top_ngram"] = {str(n): v for n, v in top.items()}
            q["dup_ngram"] = {str(n): v for n, v in dup.items()}
        self.finish(q, record, content, len(words), len(WORD.findall(answer_and_question(record)[0])))
        return q

    def finish(self, q: dict, record, content: str, n_words: int, answer_words: int, *,
               may_refuse: bool = True, may_dangle: bool = True) -> None:
        """The statistics over a record's whole content and its answer, shared by both paths; `may_refuse` and
        `may_dangle` False say that a vectorised superset pass already ruled the refusal or dangling-end
        pattern out."""
        symbols = content.count("#") + content.count("...") + content.count("…")
        q["symbol_word_ratio"] = round(symbols / max(1, n_words), 4)
        if self.config.min_medical_score is not None:
            q["medical_score"] = medical_score(content, self.lexicon_path)
        answer, question = answer_and_question(record)
        if answer and record.get("task") != "mcq":
            q["answer_words"] = answer_words
            na, nq = norm(answer), norm(question)
            q["restated"] = bool(na) and (na == nq or (na in nq and len(na) > 0.8 * len(nq)))
            q["refusal"] = may_refuse and bool(REFUSAL.search(answer))
            tail = answer.rstrip()
            dangles = may_dangle and bool(DANGLING.search(tail[-40:]))
            q["truncated"] = dangles or tail.count("(") > tail.count(")")

    def measure_batch(self, records: list) -> list[dict] | None:
        """`measure` for many records at once, the per-text statistics vectorised (`curation.quality_stats`);
        the same dicts, key order included. None when the batch cannot be vectorised (see quality_stats)."""
        c = self.config
        contents = ["\n".join(t for _, t in texts_of(r)) for r in records]
        answers = [answer_and_question(r)[0] for r in records]
        per_record = [repetition_texts(r) for r in records]
        texts = [t for ts in per_record for t in ts]
        counts = count_words(contents + answers)
        gopher = [c.gopher_ngrams and r.get("task") in c.gopher_tasks for r, ts in zip(records, per_record)
                  for _ in ts]
        stats = None if counts is None else text_stats(
            texts, gopher, loop_ngram=c.loop_ngram, ngram_min_words=c.ngram_min_words,
            top_ns=c.max_top_ngram_frac if c.gopher_ngrams else (),
            dup_ns=c.max_dup_ngram_frac if c.gopher_ngrams else (), spaced=is_spaced)
        refuse = may_match(REFUSAL, answers)
        dangle = may_match(DANGLING, [a.rstrip()[-40:] for a in answers])
        if stats is None or refuse is None or dangle is None:
            return None
        tokens = self.tokenizer(contents, add_special_tokens=False)["input_ids"] if self.tokenizer else None
        out, k = [], 0
        for j, (record, content, ts) in enumerate(zip(records, contents, per_record)):
            q: dict = {"chars": len(content), "words": counts[j]}
            if tokens is not None:
                q["tokens"] = len(tokens[j])
            span = range(k, k + len(ts))
            k += len(ts)
            q["dup_line_frac"] = max([0.0, *(stats.dup_line_frac[i] for i in span)])
            q["dup_para_frac"] = max([0.0, *(stats.dup_para_frac[i] for i in span)])
            q["loop_frac"] = max([0.0, *(stats.loop_frac[i] for i in span)])
            q["line_repeats"] = max([0, *(stats.line_repeats[i] for i in span)])
            q["para_repeats"] = max([0, *(stats.para_repeats[i] for i in span)])
            top = {n: max(v[i] for i in span if v[i] is not None) for n, v in stats.top.items()
                   if any(v[i] is not None for i in span)}
            dup = {n: max(v[i] for i in span if v[i] is not None) for n, v in stats.dup.items()
                   if any(v[i] is not None for i in span)}
            if top or dup:
                q["top_ngram"] = {str(n): v for n, v in top.items()}
                q["dup_ngram"] = {str(n): v for n, v in dup.items()}
            self.finish(q, record, content, counts[j], counts[len(records) + j], may_refuse=refuse[j],
                        may_dangle=dangle[j])
            out.append(q)
        return out

    def decide(self, q: dict, task: str | None = None) -> list[str]:
        c = self.config
        gopher = task in c.gopher_tasks
        fails = []
        if "answer_words" in q:
            if q["answer_words"] < c.min_answer_words:
                fails.append("answer too short")
            if c.reject_restated and q["restated"]:
                fails.append("answer restates the question")
            if c.reject_refusals and q["refusal"]:
                fails.append("refusal or model boilerplate")
            if c.reject_truncated and q["truncated"]:
                fails.append("truncated answer")
        if q["chars"] < c.min_chars:
            fails.append("too short (characters)")
        if q["chars"] > c.max_chars:
            fails.append("too long (characters)")
        if q["words"] < c.min_words:
            fails.append("too short (words)")
        if q["words"] > c.max_words:
            fails.append("too long (words)")
        if "tokens" in q:
            if c.min_tokens is not None and q["tokens"] < c.min_tokens:
                fails.append("too short (tokens)")
            if c.max_tokens is not None and q["tokens"] > c.max_tokens:
                fails.append("too long (tokens)")
        if q["line_repeats"] > c.max_line_repeats or (gopher and q["dup_line_frac"] > c.max_dup_line_frac):
            fails.append("repeated lines")
        if q["para_repeats"] > c.max_line_repeats or (gopher and q["dup_para_frac"] > c.max_dup_para_frac):
            fails.append("repeated paragraphs")
        if q["loop_frac"] > c.max_loop_frac:
            fails.append("looping text")
        for n, limit in c.max_top_ngram_frac.items():
            if q.get("top_ngram", {}).get(str(n), 0) > limit:
                fails.append(f"repeated {n}-gram")
                break
        for n, limit in c.max_dup_ngram_frac.items():
            if q.get("dup_ngram", {}).get(str(n), 0) > limit:
                fails.append("duplicated n-grams")
                break
        if q["symbol_word_ratio"] > c.max_symbol_word_ratio:
            fails.append("too many symbols")
        if c.min_medical_score is not None and q["medical_score"] < c.min_medical_score:
            fails.append("not medical")
        return fails

    def judge(self, record, q: dict) -> Reject | None:
        """Store the statistics in the record's meta (kept or not) and decide."""
        fails = self.decide(q, record.get("task"))
        q["failed"] = fails
        record["meta"]["quality"] = q
        return Reject(fails[0], {"failed": fails, "quality": q}) if fails else None

    def process(self, record):
        outcome = self.judge(record, self.measure(record))
        if outcome is not None:
            raise outcome
        return None

    def process_batch(self, records: list) -> list[Reject | None]:
        """`process` for a batch: one outcome per record (None: kept), with the statistics measured vectorised.
        A batch the vectorised path cannot take is measured record by record; either way the same result."""
        measured = self.measure_batch(records) or [self.measure(r) for r in records]
        return [self.judge(r, q) for r, q in zip(records, measured)]


@functools.lru_cache(maxsize=4)
def load_tokenizer(name: str):
    """A local tokenizer: a Hugging Face folder, or a .gguf file (its embedded tokenizer). Memoised per process:
    worker processes receive the step pickled with every chunk, and a tokenizer is read-only once loaded."""
    from transformers import AutoTokenizer

    path = Path(name)
    if path.suffix == ".gguf":
        return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    return AutoTokenizer.from_pretrained(name, local_files_only=True)
