"""MinHash signatures and LSH banding, vectorised with numpy; shared by dedupe and decontaminate.

Shingles are word n-grams for space-separated languages and character n-grams for Chinese and Japanese.
A batch of texts is normalised, tokenised and its tokens hashed in polars (Rust); n-gram hashes are
combined from token hashes in numpy over the whole batch; the signatures come from rensa's compiled batch
kernel, which measured 50 times faster than the same permutations in numpy. Bands hash their rows into one
64-bit key, so candidate pairs come from a group-by over (band, key), never a Python loop per record.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence

import numpy as np

CJK_LANGS = frozenset({"zh", "ja"})
HASH_SEED = 0x5EED
MIX = np.uint64(0x100000001B3)
CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
PUNCT = re.compile(r"[^\w\s]")


def normalise(text: str) -> str:
    """Case, width, punctuation and whitespace do not make two texts different."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(PUNCT.sub(" ", text).split())


def is_cjk(text: str, lang: str | None) -> bool:
    if lang:
        return lang in CJK_LANGS
    sample = text[:300]
    return len(CJK_CHAR.findall(sample)) > 0.3 * max(1, len(sample))


def shingle_hashes(text: str, cjk: bool, ngram: int, char_ngram: int) -> np.ndarray:
    """Distinct 64-bit hashes of one record's shingles; for checks on a few records (true Jaccard)."""
    flat, offsets = shingle_batch([text], np.array([cjk]), ngram, char_ngram)
    return np.unique(flat[offsets[0]: offsets[1]])


def nfkc_series(texts: list[str]):
    """A polars Series of the texts, NFKC-normalised; ASCII texts skip it (it changes nothing, and costs
    as much as tokenising)."""
    import polars as pl

    series = pl.Series(texts, dtype=pl.String)
    non_ascii = series.str.contains(r"[^\x00-\x7F]")
    if non_ascii.any():
        series = pl.select(pl.when(non_ascii).then(series.str.normalize("NFKC")).otherwise(series)).to_series()
    return series


def _token_hashes(texts: list[str], pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """Normalised tokens of each text, hashed in polars; flat hashes and per-text token counts."""
    tokens = nfkc_series(texts).str.to_lowercase().str.extract_all(pattern)
    lengths = tokens.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = tokens.explode().drop_nulls().hash(seed=HASH_SEED).to_numpy().astype(np.uint64)
    return flat, lengths


def _ngram_hashes(tok: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every window of n consecutive tokens inside each text (a shorter text: one window of all).

    Windows are combined over the whole flat token array with contiguous shifted slices (fast), and the
    windows that cross from one text into the next are then dropped.
    """
    ends = np.cumsum(lengths)
    starts = ends - lengths
    windows = np.where(lengths >= n, lengths - n + 1, (lengths > 0).astype(np.int64))
    offsets = np.concatenate([[0], np.cumsum(windows)]).astype(np.int64)
    total = int(offsets[-1])
    if total == 0:
        return np.zeros(0, dtype=np.uint64), offsets
    full = np.zeros(max(0, len(tok) - n + 1), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            full = full * MIX + tok[j: j + len(full)] + np.uint64(j)
    long_ = lengths >= n
    owner = np.repeat(np.arange(len(lengths)), windows)
    pos = starts[owner] + (np.arange(total) - offsets[:-1][owner])
    out = np.empty(total, dtype=np.uint64)
    in_long = long_[owner]
    out[in_long] = full[pos[in_long]]
    for i in np.flatnonzero(~long_ & (lengths > 0)):  # texts shorter than n: one window of all their tokens
        h = np.uint64(0)
        with np.errstate(over="ignore"):
            for j in range(int(lengths[i])):
                h = h * MIX + tok[starts[i] + j] + np.uint64(j)
        out[offsets[i]] = h
    return out, offsets


def shingle_batch(texts: Sequence[str], cjk: np.ndarray, ngram: int, char_ngram: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of many texts: one flat array and offsets (text i owns flat[offsets[i]:offsets[i+1]])."""
    texts = list(texts)
    parts = []
    for mask, pattern, n in ((~cjk, r"\w+", ngram), (cjk, r"\w", char_ngram)):
        idx = np.flatnonzero(mask)
        if len(idx):
            tok, lengths = _token_hashes([texts[i] for i in idx], pattern)
            h, off = _ngram_hashes(tok, lengths, n)
            parts.append((idx, h, off))
    if not parts:
        return np.zeros(0, dtype=np.uint64), np.zeros(1, dtype=np.int64)
    if len(parts) == 1:
        return parts[0][1], parts[0][2]
    counts = np.zeros(len(texts), dtype=np.int64)
    pieces: list[np.ndarray] = [np.zeros(0, dtype=np.uint64)] * len(texts)
    for idx, h, off in parts:
        counts[idx] = np.diff(off)
        for k, i in enumerate(idx):
            pieces[i] = h[off[k]: off[k + 1]]
    return np.concatenate(pieces), np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def signatures(flat: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures, shape (texts, num_perm), uint32, from rensa's compiled batch kernel."""
    import rensa

    n = len(offsets) - 1
    if n <= 0:
        return np.zeros((0, num_perm), dtype=np.uint32)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        np.ascontiguousarray(flat, dtype=np.uint64), np.ascontiguousarray(offsets, dtype=np.uint64), num_perm, seed)
    rows = matrix.to_rows()
    return np.fromiter(itertools.chain.from_iterable(rows), dtype=np.uint32, count=n * num_perm).reshape(n, num_perm)


def engine_version() -> str:
    """What signatures depend on; a persistent index built with another engine is refused."""
    import polars as pl
    import rensa

    return f"polars-{pl.__version__}/rensa-{rensa.RMinHash.ALGORITHM_VERSION}"


def _false_positive(threshold: float, b: int, r: int, steps: int = 200) -> float:
    x = np.linspace(0.0, threshold, steps)
    return float(np.trapezoid(1 - (1 - x ** r) ** b, x))


def _false_negative(threshold: float, b: int, r: int, steps: int = 200) -> float:
    x = np.linspace(threshold, 1.0, steps)
    return float(np.trapezoid(1 - (1 - (1 - x ** r) ** b), x))


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false-positive and false-negative areas, as datasketch does."""
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            err = fp_weight * _false_positive(threshold, b, r) + fn_weight * _false_negative(threshold, b, r)
            if err < best_err:
                best, best_err = (b, r), err
    return best


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per (record, band): shape (records, bands)."""
    keys = np.zeros((sig.shape[0], bands), dtype=np.uint64)
    mult = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        for j in range(rows):
            cols = sig[:, j: bands * rows: rows].astype(np.uint64)  # row j of every band
            keys = (keys ^ cols) * mult + np.uint64(j + 1)
    return keys


def candidate_edges(keys: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
    """Edges (i, j) between records sharing a band key: each member to the smallest member of its bucket."""
    import polars as pl

    n, bands = keys.shape
    rows = np.arange(n, dtype=np.int64) if ids is None else ids.astype(np.int64)
    df = pl.DataFrame({
        "band": np.repeat(np.arange(bands, dtype=np.int32)[None, :], n, axis=0).ravel(),
        "key": keys.ravel(),
        "row": np.repeat(rows, bands),
    })
    edges = (
        df.with_columns(pl.col("row").min().over(["band", "key"]).alias("root"))
        .filter(pl.col("row") != pl.col("root"))
        .select("root", "row").unique()
    )
    return edges.to_numpy()


def estimated_jaccard(sig: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 100_000) -> np.ndarray:
    out = np.empty(len(i), dtype=np.float32)
    for s in range(0, len(i), chunk):
        out[s: s + chunk] = (sig[i[s: s + chunk]] == sig[j[s: s + chunk]]).mean(axis=1)
    return out


def true_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def components(n: int, edges: np.ndarray) -> np.ndarray:
    """Connected components (union-find's answer) over candidate edges; label per record."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(edges) == 0:
        return np.arange(n)
    m = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, labels = connected_components(m, directed=False)
    return labels


def record_text(record: dict, key: str = "conversation", field: str | None = None) -> str:
    """The text a record is compared by: the whole conversation, the user turns, or one named field."""
    if key == "field" and field:
        value: object = record
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, str) else ("" if value is None else str(value))
    msgs = record.get("messages") or []
    if key == "user":
        return "\n".join(m["content"] for m in msgs if m["role"] == "user") or (record.get("text") or "")
    if msgs:
        return "\n".join(f"{m['role']}: {m['content']}" for m in msgs if m["role"] != "system")
    return record.get("text") or ""
