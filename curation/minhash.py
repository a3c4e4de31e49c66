"""MinHash signatures and LSH banding, vectorised with numpy; shared by dedupe and decontaminate.

Shingles are word n-grams for space-separated languages and character n-grams for Chinese and Japanese.
A batch of texts is normalised, tokenised and its tokens hashed in one polars pass (Rust); exact-duplicate
hashes, n-gram hashes and signatures are then computed from the token hashes by compiled loops
(`minhash_kernels`), with no Python object per token or per signature value. Bands hash their rows into one
64-bit key, so candidate pairs come from a group-by over (band, key), never a Python loop per record.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from .record import dotted

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


def on_rows(series, mask: np.ndarray, transform):
    """`series` with `transform` applied to the rows where `mask` is set, and to those only: polars' when/then
    would compute the transform over every row and then pick."""
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        return series
    if len(rows) == len(series):
        return transform(series)
    out = series.clone()
    out.scatter(rows, transform(series.gather(rows)))
    return out


def nfkc_series(texts: list[str]):
    """A polars Series of the texts, NFKC-normalised; ASCII texts skip it (it changes nothing, and costs
    as much as tokenising)."""
    import polars as pl

    series = pl.Series(texts, dtype=pl.String)
    non_ascii = (series.str.len_bytes() != series.str.len_chars()).to_numpy()
    return on_rows(series, non_ascii, lambda s: s.str.normalize("NFKC"))


def arrow_pool():
    """The memory pool for the Arrow arrays of texts the steps build and drop shard after shard: the system
    allocator, which gives a freed large block back at once. pyarrow's default (mimalloc) keeps freed pages
    for reuse, which held about 80 MB more of a dedupe's peak on 100k records."""
    import pyarrow as pa

    return pa.system_memory_pool()


def _buffers(strings) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes and offsets of a polars string Series, without a Python object per string."""
    import pyarrow as pa

    arr = strings.to_arrow()
    arr = arr.cast(pa.large_string(), memory_pool=arrow_pool()) if arr.type != pa.large_string() else arr
    arr = pa.concat_arrays(arr.chunks, memory_pool=arrow_pool()) if isinstance(arr, pa.ChunkedArray) else arr
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, dtype=np.uint8)
    return data, offsets


def token_batch(texts: Sequence[str], cjk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of each text's normalised tokens (words; characters for CJK texts): a flat array and offsets
    (text i owns tok[offsets[i]:offsets[i+1]]). ASCII texts are lowercased by Python and cut and hashed in one
    compiled pass over their bytes (no polars copy of them, whose allocator keeps freed memory a while); the
    others are NFKC-normalised and cut by a Unicode-aware regex in polars, their tokens hashed the same way."""
    from .minhash_kernels import ascii_tokens, gather_segments, string_hashes

    texts = list(texts)
    cjk = np.asarray(cjk, dtype=bool)
    plain = np.fromiter((t.isascii() for t in texts), dtype=bool, count=len(texts)) & ~cjk
    counts = np.zeros(len(texts), dtype=np.int64)
    parts = []
    rows = np.flatnonzero(plain)
    if len(rows):
        chosen = [texts[i] for i in rows.tolist()]
        data = np.frombuffer("".join(chosen).lower().encode("ascii"), dtype=np.uint8)
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, chosen), dtype=np.int64, count=len(chosen)), out=offsets[1:])
        del chosen
        tok = np.empty(len(data) // 2 + len(rows), dtype=np.uint64)  # at most one token per two bytes
        n_tok = np.zeros(len(rows), dtype=np.int64)
        used = ascii_tokens(data, offsets, tok, n_tok)
        counts[rows] = n_tok
        parts.append((rows, tok[:used].copy() if used < len(tok) // 2 else tok[:used], n_tok))
        del data, tok
    rest = np.flatnonzero(~plain)
    if len(rest):
        series = nfkc_series([texts[i] for i in rest.tolist()]).str.to_lowercase()
        # CJK texts: every word character a token of its own
        for at, pattern in ((np.flatnonzero(~cjk[rest]), r"\w+"), (np.flatnonzero(cjk[rest]), r"\w")):
            if len(at):
                tokens = (series.gather(at) if len(at) < len(rest) else series).str.extract_all(pattern)
                n_tok = tokens.list.len().fill_null(0).to_numpy().astype(np.int64)
                data, offsets = _buffers(tokens.explode().drop_nulls())
                tok = np.empty(len(offsets) - 1, dtype=np.uint64)
                string_hashes(data, offsets, tok)
                counts[rest[at]] = n_tok
                parts.append((rest[at], tok, n_tok))
    out_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if len(parts) == 1 and len(parts[0][0]) == len(texts):
        return parts[0][1], out_offsets
    flat = np.empty(int(out_offsets[-1]), dtype=np.uint64)
    for rows, tok, n_tok in parts:
        gather_segments(tok, np.concatenate([[0], np.cumsum(n_tok)]).astype(np.int64), flat, out_offsets, rows)
    return flat, out_offsets


def sequence_hashes(tok: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Exact-duplicate hash per text: equal token sequences (case, width, punctuation, spacing aside)."""
    from .minhash_kernels import sequence_hashes as kernel

    out = np.empty(len(offsets) - 1, dtype=np.uint64)
    kernel(tok, offsets, out)
    return out


def ngrams(tok: np.ndarray, offsets: np.ndarray, cjk: np.ndarray, ngram: int, char_ngram: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes from token hashes: windows of `ngram` words, or `char_ngram` characters for CJK."""
    from .minhash_kernels import ngram_hashes

    lengths = np.diff(offsets)
    ns = np.where(cjk, char_ngram, ngram).astype(np.int64)
    windows = np.where(lengths >= ns, lengths - ns + 1, (lengths > 0).astype(np.int64))
    out_offsets = np.concatenate([[0], np.cumsum(windows)]).astype(np.int64)
    out = np.empty(int(out_offsets[-1]), dtype=np.uint64)
    ngram_hashes(tok, offsets, ns, out_offsets, out)
    return out, out_offsets


def shingle_batch(texts: Sequence[str], cjk: np.ndarray, ngram: int, char_ngram: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of many texts: one flat array and offsets (text i owns flat[offsets[i]:offsets[i+1]])."""
    tok, offsets = token_batch(texts, np.asarray(cjk, dtype=bool))
    return ngrams(tok, offsets, np.asarray(cjk, dtype=bool), ngram, char_ngram)


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 2 ** 32, size=num_perm, dtype=np.uint64) | np.uint64(1)).astype(np.uint32)
    b = rng.integers(0, 2 ** 32, size=num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


def signatures(flat: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures, shape (texts, num_perm), uint32."""
    from .minhash_kernels import minhash

    out = np.empty((max(0, len(offsets) - 1), num_perm), dtype=np.uint32)
    if len(out):
        a, b = permutations(num_perm, seed)
        minhash(np.ascontiguousarray(flat, dtype=np.uint64), np.ascontiguousarray(offsets, dtype=np.int64), a, b,
                out)
    return out


def engine_version() -> str:
    """What signatures depend on; a persistent index built with another engine is refused."""
    import polars as pl

    return f"polars-{pl.__version__}/minhash-kernels-2"


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


def estimated_jaccard(sig: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The share of equal signature values of each pair (i[k], j[k]), in compiled code: comparing rows gathered
    with numpy would build two (pairs, num_perm) copies first."""
    from .minhash_kernels import equal_share

    out = np.empty(len(i), dtype=np.float32)
    equal_share(np.ascontiguousarray(sig), np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64), out)
    return out


def pair_jaccard(flat: np.ndarray, offsets: np.ndarray, first: np.ndarray, second: np.ndarray,
                 copy: bool = True) -> np.ndarray:
    """Exact Jaccard of the shingle sets of many pairs of texts of one shingle batch, in compiled code.
    `flat` is sorted per text in place when `copy` is off (a caller's own batch: no second copy of it)."""
    from .minhash_kernels import pair_jaccard as kernel
    from .minhash_kernels import sort_segments

    flat = np.array(flat, dtype=np.uint64, copy=copy or None)
    sort_segments(flat, offsets)
    out = np.empty(len(first), dtype=np.float64)
    kernel(flat, offsets, np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64), out)
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
        value = dotted(record, field)
        return value if isinstance(value, str) else ("" if value is None else str(value))
    msgs = record.get("messages") or []
    if key == "user":
        return "\n".join(m["content"] for m in msgs if m["role"] == "user") or (record.get("text") or "")
    if msgs:
        return "\n".join(f"{m['role']}: {m['content']}" for m in msgs if m["role"] != "system")
    return record.get("text") or ""


def role_texts(record: dict, key: str = "conversation") -> tuple[str, str]:
    """A conversation's user and assistant turns, each compared on its own with `key: conversation`; two
    empty strings when the record lacks one of them or is compared by another key."""
    msgs = record.get("messages") or []
    if key != "conversation" or not msgs:
        return "", ""
    user = "\n".join(m["content"] for m in msgs if m["role"] == "user")
    assistant = "\n".join(m["content"] for m in msgs if m["role"] == "assistant")
    return (user, assistant) if user and assistant else ("", "")
