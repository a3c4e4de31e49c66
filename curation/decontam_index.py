"""The benchmark index that decontamination matches training records against, and the matching itself.

Every text field of every benchmark item is indexed: the question, each option, the question with its options
(as an exam is pasted) and with its correct answer (as a Q&A record restates it), context passages, the long
answer or explanation, and for conversation records each user and assistant turn. Texts are normalised (NFKC
width, casefold, punctuation and whitespace, Arabic diacritics) and cut into words, or into characters for
Chinese and Japanese, which have no spaces.

A field of at least `ngram` tokens is indexed by its n-grams (GPT-3's and lm-evaluation-harness's 13-gram
overlap). A shorter field is matched as a whole phrase: its token sequence must appear contiguously in the
record, and only when it has at least `min_words` (or `min_chars`) tokens, so that a common short phrase is
never evidence. Options shorter than the n-gram are not matched on their own ("Aspirin", "None of the above"
name no item); they count through the question-with-options field. A question too short to be a phrase of its
own ("Virus is cultured in:") is matched with its correct answer following it within a few tokens (a label
such as "Answer:" between), when the two together reach the minimum. An n-gram or phrase that many different
benchmark items share is exam boilerplate, not a trace of one item, and is left out of the index.

Punctuation inside a word is indexed both ways, split ("crohn s", "short segment") and removed ("crohns",
"shortsegment"), since copies of a benchmark lose it either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from . import minhash as mh
from .errors import MedcurateError
from .record import answer_labels

# Arabic harakat, the superscript alef and tatweel: written or left out freely, so they never tell texts apart
ARABIC_MARKS = re.compile(r"[\u064b-\u065f\u0670\u0640]")
WORD = re.compile(r"\w+")
INNER_PUNCT = re.compile(r"(?<=\w)[^\w\s]+(?=\w)")
PAIR_KEY = 2  # tokens of a short question that find candidate places for a question-and-answer pair


@dataclass(frozen=True)
class MatchParams:
    """How texts are compared; the index is built with them and records are matched with the same ones."""

    ngram: int = 13
    char_ngram: int = 20
    min_words: int = 6
    min_chars: int = 10
    common_items: int = 10
    gap_words: int = 4  # tokens allowed between a short question and its answer ("the correct answer is")
    gap_chars: int = 6


@dataclass(frozen=True)
class Field:
    item: int  # index into BenchmarkIndex.items
    name: str  # "question", "option B", "context", ...
    text: str


@dataclass
class Patterns:
    """Token sequences to find whole in records: a key (hash of the first tokens) finds candidate places,
    then every token is compared there."""

    keys: pl.DataFrame  # key -> row
    tokens: np.ndarray  # (rows, longest) token hashes, zero-padded
    lengths: np.ndarray
    field: np.ndarray  # the field each row stands for

    @classmethod
    def build(cls, tok: np.ndarray, offsets: np.ndarray, rows: np.ndarray, key_len: np.ndarray,
              field: np.ndarray) -> Patterns:
        """Patterns from texts `rows` of a token batch, keyed by their first key_len[i] tokens."""
        lengths = np.diff(offsets)[rows].astype(np.int64)
        width = int(lengths.max()) if len(rows) else 1
        padded = np.zeros((len(rows), width), dtype=np.uint64)
        for k, r in enumerate(rows):
            padded[k, : lengths[k]] = tok[offsets[r]: offsets[r + 1]]
        keys = np.empty(len(rows), dtype=np.uint64)
        for n in np.unique(key_len):
            sel = np.flatnonzero(key_len == n)
            sub_tok, sub_off = _subset(tok, offsets, rows[sel])
            h, _, pos = windows(sub_tok, sub_off, int(n))
            keys[sel] = h[pos == 0]  # one first window per text, in order
        return cls(pl.DataFrame({"key": keys, "row": np.arange(len(rows), dtype=np.int64)},
                                schema={"key": pl.UInt64, "row": pl.Int64}), padded, lengths, field.astype(np.int64))


@dataclass
class BenchmarkIndex:
    """What every worker needs to check records; built once per run and shipped to each worker."""

    items: list[dict]  # benchmark, item (locator), question
    fields: list[Field]
    ngrams: pl.DataFrame  # h (n-gram hash) -> field
    phrases: Patterns  # short fields, keyed by their first min_words (min_chars) tokens
    questions: Patterns  # questions too short to be phrases, keyed by their first PAIR_KEY tokens
    answers: Patterns  # the correct answer of each of `questions`, row for row
    params: MatchParams


def prepare(text: str) -> str:
    """Casefold for non-ASCII text (the tokeniser applies NFKC and lower-cases; casefold also folds ß and
    final sigma), Arabic diacritics dropped. ASCII text is left to the tokeniser, which already folds its case."""
    if text.isascii():
        return text
    return ARABIC_MARKS.sub("", text.casefold())


def has_cjk(text: str) -> bool:
    return mh.CJK_CHAR.search(text) is not None


def item_fields(rec: dict) -> list[tuple[str, str]]:
    """(field name, text) for every text field of one benchmark record, as the readers map it."""
    mcq = rec.get("mcq")
    if mcq:
        question = mcq.get("question") or ""
        options = mcq.get("options") or {}
        out = [("question", question)]
        out += [(f"option {label}", text) for label, text in options.items()]
        if options:
            labelled = "\n".join(f"{label}. {text}" for label, text in options.items())
            out.append(("question and options", f"{question}\n{labelled}"))
            out.append(("question and options", " ".join([question, *options.values()])))
        out += [("question and answer", f"{question} {answer}") for answer in correct_answers(mcq)]
        out += [("context", mcq.get("context") or ""), ("explanation", mcq.get("explanation") or "")]
        return [(name, text) for name, text in out if text and text.strip()]
    out = [(m["role"], m["content"]) for m in rec.get("messages") or [] if m["role"] in ("user", "assistant")]
    if rec.get("text"):
        out.append(("text", rec["text"]))
    return [(name, text) for name, text in out if text and text.strip()]


def correct_answers(mcq: dict) -> list[str]:
    options = mcq.get("options") or {}
    return [options[label] for label in answer_labels(mcq) if options.get(label)]


def read_benchmarks(paths: list[str], params: MatchParams
                    ) -> tuple[list[dict], list[Field], list[bool], list[tuple[int, str, str]]]:
    """Items, their fields, whether each field is Chinese or Japanese, and (question-and-answer field, question,
    answer) of each MCQ item, from benchmark files in any format the readers accept. A field with punctuation
    inside words is indexed a second time with that punctuation removed (CJK fields need not be: they are cut
    into characters either way). Options too short for an n-gram are left out, as they are never matched."""
    from .io.reader import read_records

    items: list[dict] = []
    fields: list[Field] = []
    cjk: list[bool] = []
    pairs: list[tuple[int, str, str]] = []
    for path in paths:
        if not Path(path).exists():
            raise MedcurateError(f"benchmark {path}: no such file or folder")
        for rec in read_records(path):
            named = item_fields(rec)
            question = next((t for n, t in named if n in ("question", "user", "text")), "")
            items.append({"benchmark": path, "item": rec["meta"]["provenance"]["locator"], "question": question})
            for name, text in named:
                k = mh.is_cjk(text, None)
                if name.startswith("option ") and _too_short(text, k, params):
                    continue
                if name == "question and answer" and rec.get("mcq"):
                    answer = text[len(rec["mcq"]["question"] or "") + 1:]
                    pairs.append((len(fields), rec["mcq"]["question"] or "", answer))
                variants = [text] if k else list(dict.fromkeys([text, INNER_PUNCT.sub("", text)]))
                fields += [Field(len(items) - 1, name, v) for v in variants]
                cjk += [k] * len(variants)
    return items, fields, cjk, pairs


def _too_short(text: str, cjk: bool, params: MatchParams) -> bool:
    """Surely fewer tokens than an n-gram, without tokenising: a CJK text has at most as many tokens as
    characters; elsewhere the tokeniser's words are about the word runs of `re`, which can cut a word where
    the tokeniser does not (or, rarely, the reverse), so only texts of under half an n-gram of runs go."""
    if cjk:
        return len(text) < params.char_ngram
    return 2 * len(WORD.findall(text)) < params.ngram


def tokens(texts: list[str], cjk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Token hashes (flat, offsets) of normalised texts: words, or characters where `cjk`."""
    return mh.token_batch([prepare(t) for t in texts], np.asarray(cjk, dtype=bool))


def windows(tok: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashes of every window of n tokens, with the text and start position of each; texts shorter than n
    give none."""
    lengths = np.diff(offsets)
    flat, woff = mh.ngrams(tok, offsets, np.zeros(len(lengths), dtype=bool), n, n)
    text = np.repeat(np.arange(len(lengths)), np.diff(woff))
    pos = np.arange(len(flat)) - woff[:-1][text]
    full = lengths[text] >= n
    return flat[full], text[full], pos[full]


def build_index(paths: list[str], params: MatchParams) -> BenchmarkIndex:
    items, fields, cjk_list, pairs = read_benchmarks(paths, params)
    cjk = np.array(cjk_list, dtype=bool)
    tok, offsets = tokens([f.text for f in fields], cjk)
    lengths = np.diff(offsets)
    item_of = np.array([f.item for f in fields], dtype=np.int64)
    option = np.array([f.name.startswith("option ") for f in fields], dtype=bool)
    n_of = np.where(cjk, params.char_ngram, params.ngram)
    m_of = np.where(cjk, params.min_chars, params.min_words)
    ngram_parts = []
    for mode, n in ((False, params.ngram), (True, params.char_ngram)):
        rows = np.flatnonzero((cjk == mode) & (lengths >= n))
        if len(rows):
            sub_tok, sub_off = _subset(tok, offsets, rows)
            h, text, _ = windows(sub_tok, sub_off, n)
            ngram_parts.append(pl.DataFrame({"h": h, "field": rows[text], "item": item_of[rows[text]]}))
    table = _without_common(pl.concat(ngram_parts) if ngram_parts else _empty_ngrams(), params.common_items)
    short = np.flatnonzero((lengths >= m_of) & (lengths < n_of) & ~option)
    short = short[_distinctive(tok, offsets, short, item_of, params.common_items)]
    phrases = Patterns.build(tok, offsets, short, m_of[short], short)
    questions, answers = _pairs(pairs, params)
    return BenchmarkIndex(items, fields, table, phrases, questions, answers, params)


def _pairs(pairs: list[tuple[int, str, str]], params: MatchParams) -> tuple[Patterns, Patterns]:
    """Questions below the phrase minimum and their answers, where the two together reach it."""
    texts = [q for _, q, _ in pairs] + [a for _, _, a in pairs]
    cjk = np.array([mh.is_cjk(q, None) for _, q, _ in pairs] * 2, dtype=bool)
    tok, offsets = tokens(texts, cjk)
    lengths = np.diff(offsets)
    n = len(pairs)
    q_len, a_len = lengths[:n], lengths[n:]
    m = np.where(cjk[:n], params.min_chars, params.min_words)
    rows = np.flatnonzero((q_len >= PAIR_KEY) & (q_len < m) & (a_len >= 1) & (q_len + a_len >= m))
    field = np.array([f for f, _, _ in pairs], dtype=np.int64)[rows] if n else np.zeros(0, dtype=np.int64)
    key = np.full(len(rows), PAIR_KEY)
    return (Patterns.build(tok, offsets, rows, key, field),
            Patterns.build(tok, offsets, rows + n, np.ones(len(rows), dtype=np.int64), field))


def _subset(tok: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The token hashes of some texts of a batch, as a batch of their own."""
    lengths = np.diff(offsets)[rows]
    new = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    idx = np.arange(new[-1]) - np.repeat(new[:-1] - offsets[rows], lengths)
    return tok[idx], new


def _empty_ngrams() -> pl.DataFrame:
    return pl.DataFrame(schema={"h": pl.UInt64, "field": pl.Int64, "item": pl.Int64})


def _without_common(table: pl.DataFrame, common_items: int) -> pl.DataFrame:
    """h -> first field holding it, leaving out n-grams found in `common_items` or more benchmark items."""
    grouped = table.group_by("h").agg(pl.col("field").min(), pl.col("item").n_unique().alias("items"))
    return grouped.filter(pl.col("items") < common_items).select("h", "field").sort("h")


def _distinctive(tok: np.ndarray, offsets: np.ndarray, rows: np.ndarray, item_of: np.ndarray,
                 common_items: int) -> np.ndarray:
    """Which short fields (a mask over rows) have a token sequence that fewer than `common_items` items share."""
    if not len(rows):
        return np.zeros(0, dtype=bool)
    sub_tok, sub_off = _subset(tok, offsets, rows)
    seq = mh.sequence_hashes(sub_tok, sub_off)
    df = pl.DataFrame({"seq": seq, "item": item_of[rows]})
    counts = df.group_by("seq").agg(pl.col("item").n_unique().alias("items"))
    common = set(counts.filter(pl.col("items") >= common_items)["seq"].to_list())
    return np.array([int(s) not in common for s in seq], dtype=bool)


def record_text(record: dict) -> str:
    """Everything a training record says: its turns (system prompts too), its text, its MCQ fields."""
    parts = [m["content"] for m in record.get("messages") or []]
    if record.get("text"):
        parts.append(record["text"])
    mcq = record.get("mcq")
    if mcq and not parts:
        parts += [mcq.get("question") or "", *(mcq.get("options") or {}).values(), mcq.get("context") or "",
                  mcq.get("explanation") or ""]
    return "\n".join(p for p in parts if p)


NO_HITS = {"rec": pl.Int64, "field": pl.Int64, "kind": pl.String}


def match(texts: list[str], index: BenchmarkIndex) -> pl.DataFrame:
    """Every (record, field, kind) where a text shares an n-gram with a long field or holds a short field as a
    contiguous phrase; kind is "n-gram" or "phrase". Texts are tokenised as words, and those holding Chinese
    or Japanese also as characters, so a mixed text matches a benchmark whichever script it leans to."""
    p = index.params
    found = [pl.DataFrame(schema=NO_HITS)]
    cjk_rows = np.flatnonzero(np.array([has_cjk(t) for t in texts], dtype=bool))
    for mode, rows, n, m, gap in ((False, np.arange(len(texts)), p.ngram, p.min_words, p.gap_words),
                                  (True, cjk_rows, p.char_ngram, p.min_chars, p.gap_chars)):
        if not len(rows):
            continue
        tok, offsets = tokens([texts[i] for i in rows], np.full(len(rows), mode))
        h, text, _ = windows(tok, offsets, n)
        hits = pl.DataFrame({"h": h, "rec": rows[text]}).join(index.ngrams, on="h", how="inner")
        found.append(hits.select("rec", "field").unique().with_columns(kind=pl.lit("n-gram")))
        text, pos, row = _find(tok, offsets, m, index.phrases)
        found.append(_hits(rows[text], index.phrases.field[row]))
        text, pos, row = _find(tok, offsets, PAIR_KEY, index.questions)
        after = offsets[text] + pos + index.questions.lengths[row]
        answered = np.zeros(len(row), dtype=bool)
        for g in range(gap + 1):
            answered |= _found_at(tok, offsets, text, after + g, index.answers, row)
        found.append(_hits(rows[text[answered]], index.questions.field[row[answered]]))
    return pl.concat(found).unique().sort(["rec", "kind", "field"])


def _hits(rec: np.ndarray, field: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"rec": rec, "field": field, "kind": "phrase"}, schema=NO_HITS)


def _find(tok: np.ndarray, offsets: np.ndarray, key_len: int, patterns: Patterns
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(text, position, pattern row) of every place a pattern occurs whole: candidates share the pattern's
    first key_len tokens, then every token is compared (one numpy gather, not a loop per candidate)."""
    empty = np.zeros(0, dtype=np.int64)
    if not len(patterns.keys):
        return empty, empty, empty
    h, text, pos = windows(tok, offsets, key_len)
    cand = pl.DataFrame({"key": h, "text": text, "pos": pos}).join(patterns.keys, on="key", how="inner")
    text, pos, row = (cand[c].to_numpy() for c in ("text", "pos", "row"))
    same = _found_at(tok, offsets, text, offsets[text] + pos, patterns, row)
    return text[same], pos[same], row[same]


def _found_at(tok: np.ndarray, offsets: np.ndarray, text: np.ndarray, start: np.ndarray, patterns: Patterns,
              row: np.ndarray) -> np.ndarray:
    """Whether pattern row[i] occurs in text[i] from token start[i] (an absolute position in tok)."""
    if not len(row):
        return np.zeros(0, dtype=bool)
    length = patterns.lengths[row]
    width = patterns.tokens.shape[1]
    idx = np.minimum(start[:, None] + np.arange(width)[None, :], len(tok) - 1)
    inside = np.arange(width)[None, :] < length[:, None]
    fits = start + length <= offsets[text + 1]
    return ((tok[idx] == patterns.tokens[row]) | ~inside).all(axis=1) & fits
