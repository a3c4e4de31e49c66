"""The quality step's text statistics over a whole batch of texts at once, in polars and numpy.

Per record in Python, word tokenising, line and paragraph counting and n-gram counting are most of the
quality step's time. Here every text of a batch is tokenised by one polars regex pass (Rust), lines and
paragraphs are counted by group-bys, and n-grams are counted by grouping rows of word ids, with coverage
marked by a cumulative sum over start and end markers. The numbers are the scalar functions' in
`curation.steps.quality`, exactly:

- the word pattern spells out the 29 characters Python's `\\s` matches (Rust's `\\s` is Unicode White_Space,
  which lacks U+001C-U+001F), and `strip()` is given the same characters;
- words are lower-cased by Python's own `str.lower`, once per distinct word of the batch, so n-grams compare
  what the scalar code compares whatever Unicode version Rust's tables follow;
- fractions are formed and rounded in Python from exact integer counts, as the scalar code forms them;
- a most frequent n-gram tied with others is the one seen first, as `Counter.most_common(1)` picks it.

A batch that polars cannot hold (a lone surrogate in a text) or that contains the NUL character used to mark
paragraph breaks is answered `None`, and the caller measures it record by record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import polars as pl

# Exactly the characters for which str.isspace() is true, which is what Python's re `\s` matches.
PY_SPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
            "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_SPACE_CLASS = "".join(f"\\x{{{ord(c):x}}}" for c in PY_SPACE)
_CJK_CLASS = r"\x{3040}-\x{30ff}\x{3400}-\x{9fff}\x{f900}-\x{faff}"
# quality.WORD, for the Rust regex engine: one CJK character, or a run of anything but whitespace and CJK.
WORD_RS = f"[{_CJK_CLASS}]|[^{_SPACE_CLASS}{_CJK_CLASS}]+"
PARA_BREAK_RS = f"\\n[{_SPACE_CLASS}]*\\n"  # quality's r"\n\s*\n"
SEP = "\x00"
REPEAT_MIN_CHARS = 12


@dataclass
class TextStats:
    """Per-text statistics, in the order of the texts given; top and dup are keyed by n, None when a text is
    not held to Gopher's n-gram rules."""

    words: list[int]
    dup_line_frac: list[float]
    dup_para_frac: list[float]
    line_repeats: list[int]
    para_repeats: list[int]
    loop_frac: list[float]
    top: dict[int, list[float | None]] = field(default_factory=dict)
    dup: dict[int, list[float | None]] = field(default_factory=dict)


def series(texts: Sequence[str]) -> pl.Series | None:
    """The texts as a polars column, or None when one cannot be stored (a lone surrogate is not UTF-8)."""
    try:
        return pl.Series("t", list(texts), dtype=pl.String)
    except Exception:  # polars refuses strings that do not encode to UTF-8; the caller measures them in Python
        return None


def count_words(texts: Sequence[str]) -> list[int] | None:
    """len(WORD.findall(t)) for every text."""
    s = series(texts)
    return None if s is None else s.str.count_matches(WORD_RS).cast(pl.Int64).to_list()


def _item_counts(items: pl.DataFrame, n_texts: int) -> tuple[list[int], list[int], list[int]]:
    """From (i, item) rows: per text the non-empty stripped items, the distinct ones, and the largest count of
    one item of REPEAT_MIN_CHARS+ characters."""
    items = items.with_columns(pl.col("t").str.strip_chars(PY_SPACE)).filter(pl.col("t").str.len_chars() > 0)
    per = items.group_by("i").agg(pl.len().alias("n"), pl.col("t").n_unique().alias("u"))
    reps = (items.filter(pl.col("t").str.len_chars() >= REPEAT_MIN_CHARS).group_by("i", "t").len()
            .group_by("i").agg(pl.col("len").max().alias("r")))
    full = (pl.DataFrame({"i": np.arange(n_texts, dtype=np.uint32)}).join(per, on="i", how="left")
            .join(reps, on="i", how="left").sort("i").fill_null(0))
    return full["n"].to_list(), full["u"].to_list(), full["r"].to_list()


def dup_frac(n: int, unique: int) -> float:
    """quality.dup_fraction from its counts."""
    return 0.0 if n < 2 else round(1 - unique / n, 4)


def line_and_para_stats(s: pl.Series) -> tuple[list[float], list[float], list[int], list[int]]:
    """Duplicate-line and -paragraph fractions and most repeated line and paragraph, per text."""
    df = s.to_frame().with_row_index("i")
    lines = df.with_columns(pl.col("t").str.split("\n")).explode("t")
    paras = df.with_columns(pl.col("t").str.replace_all(PARA_BREAK_RS, SEP).str.split(SEP)).explode("t")
    ln, lu, lr = _item_counts(lines, len(s))
    pn, pu, pr = _item_counts(paras, len(s))
    return ([dup_frac(n, u) for n, u in zip(ln, lu)], [dup_frac(n, u) for n, u in zip(pn, pu)], lr, pr)


@dataclass(frozen=True)
class Tokens:
    """Every text's lower-cased words as ids, flat: text index, id and character length per token, and where
    each text's tokens start (offsets has one entry more than there are texts)."""

    text: np.ndarray
    ids: np.ndarray
    lens: np.ndarray
    offsets: np.ndarray


def tokens(s: pl.Series) -> Tokens:
    """Words by the Rust pass, lower-cased by Python once per distinct word (see the module's docstring)."""
    flat = s.to_frame().with_row_index("i").select("i", pl.col("t").str.extract_all(WORD_RS)).explode("t")
    flat = flat.drop_nulls("t")
    vocab = flat.select(pl.col("t").unique())
    lowered = [w.lower() for w in vocab["t"].to_list()]
    ids_of: dict[str, int] = {}
    vocab = vocab.with_columns(
        pl.Series("id", [ids_of.setdefault(w, len(ids_of)) for w in lowered], dtype=pl.Int64),
        pl.Series("n", [len(w) for w in lowered], dtype=pl.Int64))
    flat = flat.with_row_index("pos").join(vocab, on="t", how="left").sort("pos")
    text = flat["i"].to_numpy().astype(np.int64)
    counts = np.bincount(text, minlength=len(s))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return Tokens(text=text, ids=flat["id"].to_numpy(), lens=flat["n"].to_numpy(), offsets=offsets)


def _grams(tok: Tokens, chosen: np.ndarray, n: int) -> pl.DataFrame:
    """One row per n-gram start in the chosen texts: its text, start, and how often and first where that
    n-gram occurs in its text (the n word ids are grouped as columns, so equality is exact)."""
    starts = [np.arange(tok.offsets[i], tok.offsets[i + 1] - n + 1) for i in np.flatnonzero(chosen)]
    start = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    cols = {f"w{k}": tok.ids[start + k] for k in range(n)}
    keys = ["text", *cols]
    return (pl.DataFrame({"text": tok.text[start], "start": start, **cols})
            .with_columns(pl.len().over(keys).alias("count"), pl.col("start").min().over(keys).alias("first")))


def _covered_share(tok: Tokens, grams: pl.DataFrame, n: int, min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per text: characters of words inside an n-gram occurring min_count+ times, and all word characters."""
    start = grams.filter(pl.col("count") >= min_count)["start"].to_numpy()
    marks = np.zeros(len(tok.ids) + 1, dtype=np.int64)
    np.add.at(marks, start, 1)
    np.add.at(marks, start + n, -1)
    covered = np.cumsum(marks[:-1]) > 0
    n_texts = len(tok.offsets) - 1
    cov = np.bincount(tok.text[covered], weights=tok.lens[covered], minlength=n_texts).astype(np.int64)
    total = np.bincount(tok.text, weights=tok.lens, minlength=n_texts).astype(np.int64)
    return cov, total


def coverage_fracs(tok: Tokens, chosen: np.ndarray, n: int, min_count: int) -> dict[int, float]:
    """quality.loop_fraction (min_count 3) and dup_ngram_frac (min_count 2) for the chosen texts."""
    if not chosen.any():
        return {}
    cov, total = _covered_share(tok, _grams(tok, chosen, n), n, min_count)
    at = np.flatnonzero(chosen)
    # as Python ints, so each share is the same float Python's division and round() give, a scalar at a time
    # through numpy costs more than the rest of the measure
    return {i: round(c / t, 4) for i, c, t in zip(at.tolist(), cov[at].tolist(), np.maximum(total[at], 1).tolist())}


def top_fracs(tok: Tokens, chosen: np.ndarray, n: int) -> dict[int, float]:
    """quality.top_ngram_frac for the chosen texts: the first-seen of the most frequent n-grams."""
    out = {int(i): 0.0 for i in np.flatnonzero(chosen)}
    grams = _grams(tok, chosen, n)
    if grams.is_empty():
        return out
    best = (grams.sort(["text", "count", "first"], descending=[False, True, False])
            .group_by("text", maintain_order=True).first())
    csum = np.concatenate([[0], np.cumsum(tok.lens)])
    total = np.bincount(tok.text, weights=tok.lens, minlength=len(tok.offsets) - 1).astype(np.int64)
    for i, count, first in zip(best["text"].to_list(), best["count"].to_list(), best["first"].to_list()):
        if count >= 2:
            gram_chars = int(csum[first + n] - csum[first])
            out[i] = round(count * gram_chars / max(1, int(total[i])), 4)
    return out


def text_stats(texts: Sequence[str], gopher: Iterable[bool], *, loop_ngram: int, ngram_min_words: int,
               top_ns: Iterable[int], dup_ns: Iterable[int], spaced) -> TextStats | None:
    """Every statistic quality measures within one text, for all texts at once; None when polars cannot take
    the batch. `gopher` marks the texts of documents; `spaced(text)` is quality.is_spaced, asked only of
    documents long enough for Gopher's n-gram rules."""
    s = series(texts)
    if s is None or s.str.contains(SEP, literal=True).any():
        return None
    tok = tokens(s)
    words = np.diff(tok.offsets)
    dl, dp, lr, pr = line_and_para_stats(s)
    stats = TextStats(words=words.tolist(), dup_line_frac=dl, dup_para_frac=dp, line_repeats=lr,
                      para_repeats=pr, loop_frac=[0.0] * len(s))
    for i, v in coverage_fracs(tok, words >= 3 * loop_ngram, loop_ngram, 3).items():
        stats.loop_frac[i] = v
    gopher = np.fromiter(gopher, dtype=bool, count=len(s)) & (words >= ngram_min_words)
    for i in np.flatnonzero(gopher):
        gopher[i] = spaced(texts[i])
    for n in top_ns:
        stats.top[n] = [None if not g else 0.0 for g in gopher]
        for i, v in top_fracs(tok, gopher, n).items():
            stats.top[n][i] = v
    for n in dup_ns:
        stats.dup[n] = [None if not g else 0.0 for g in gopher]
        for i, v in coverage_fracs(tok, gopher & (words >= 2 * n), n, 2).items():
            stats.dup[n][i] = v
    return stats


# Beyond its own upper and lower case, what an ASCII letter matches under Python's re.IGNORECASE: i the dotted
# capital and the dotless i, s the long s, k the Kelvin sign (a test checks this against every code point).
IGNORECASE_EXTRA = {"i": "\u0130\u0131", "s": "\u017f", "k": "\u212a"}


def case_variants(char: str) -> str:
    """Every character the literal `char` matches case-insensitively in Python's re; Rust's (?i) follows other
    folding rules, so they are spelled out. Only ASCII letters are known here; others raise ValueError."""
    if char.lower() == char.upper():
        return char
    if not ("a" <= char.lower() <= "z"):
        raise ValueError(f"no case table for {char!r}")
    return char.lower() + char.upper() + IGNORECASE_EXTRA.get(char.lower(), "")


def _class_members(chars: str) -> str:
    return "".join(f"\\x{{{ord(c):x}}}" for c in chars)


@cache
def superset_pattern(pattern: str) -> str:
    """A Rust regex matching wherever the case-insensitive Python `pattern` matches (and maybe elsewhere):
    cased letters become classes of their variants, `\\s` Python's whitespace, and `\\b` is dropped (a
    zero-width test removed can only let more through). Matches are then confirmed by Python's own regex."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            esc = pattern[i: i + 2]
            i += 2
            if esc == r"\s":
                out.append(_class_members(PY_SPACE) if in_class else f"[{_class_members(PY_SPACE)}]")
            elif esc != r"\b":
                out.append(esc)
            continue
        if ch in "[]":
            in_class = ch == "["
            out.append(ch)
        elif ch.lower() != ch.upper():
            members = _class_members(case_variants(ch))
            out.append(members if in_class else f"[{members}]")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def may_match(pattern: re.Pattern, texts: Sequence[str]) -> list[bool] | None:
    """Which texts the case-insensitive `pattern` could match, by one Rust pass: a superset, for Python to
    confirm on the few it flags. None when polars cannot take the texts."""
    s = series(texts)
    try:
        rust = superset_pattern(pattern.pattern)
    except ValueError:  # a letter without a known case table: Python alone decides
        return None
    return None if s is None else s.str.contains(rust).to_list()
