"""The loops of MinHash that numpy cannot vectorise, compiled with numba: n-gram hashes over each text's
tokens, an order-sensitive hash of each token sequence, and the signatures themselves.

Signatures use one 32-bit universal hash per permutation (multiply-add with an odd multiplier, then a
xorshift-multiply finaliser so that low and high bits mix), which the compiler vectorises across
permutations. Measured against rensa's compiled kernel plus the copy of its result into numpy, this is
about five times faster for 128 permutations, and its Jaccard estimates are unbiased with the textbook spread.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MIX = np.uint64(0x100000001B3)
SEQ = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True)
def ngram_hashes(tok, offsets, ns, out_offsets, out):  # pragma: no cover (compiled)
    """Text i's windows of ns[i] consecutive token hashes (one window of all, if shorter) into out."""
    for i in range(offsets.shape[0] - 1):
        start, end, n = offsets[i], offsets[i + 1], ns[i]
        length = end - start
        w = out_offsets[i]
        if length == 0:
            continue
        if length < n:
            n = length
        for s in range(start, end - n + 1):
            h = np.uint64(0)
            for j in range(n):
                h = h * MIX + tok[s + j] + np.uint64(j)
            out[w] = h
            w += 1


@njit(cache=True, nogil=True)
def sequence_hashes(tok, offsets, out):  # pragma: no cover (compiled)
    """One order-sensitive hash per text over its token hashes: equal exactly when the token lists are."""
    for i in range(offsets.shape[0] - 1):
        h = np.uint64(offsets[i + 1] - offsets[i]) * SEQ
        for k in range(offsets[i], offsets[i + 1]):
            h = (h ^ tok[k]) * MIX
            h ^= h >> np.uint64(29)
        out[i] = h


@njit(cache=True, nogil=True)
def minhash(flat, offsets, a, b, out):  # pragma: no cover (compiled)
    """out[i, p] = min over text i's shingles x of h_p(x); an empty text keeps the maximum everywhere."""
    for i in range(offsets.shape[0] - 1):
        row = out[i]
        for p in range(a.shape[0]):
            row[p] = np.uint32(0xFFFFFFFF)
        for k in range(offsets[i], offsets[i + 1]):
            x = flat[k]
            x32 = np.uint32((x ^ (x >> np.uint64(32))) & np.uint64(0xFFFFFFFF))
            for p in range(a.shape[0]):
                h = np.uint32(x32 * a[p] + b[p])
                h ^= h >> np.uint32(15)
                h = np.uint32(h * np.uint32(0x2C1B3C6D))
                h ^= h >> np.uint32(12)
                if h < row[p]:
                    row[p] = h


@njit(cache=True, nogil=True)
def equal_share(sig, first, second, out):  # pragma: no cover (compiled)
    """out[k] = the share of positions where rows first[k] and second[k] of `sig` are equal."""
    width = sig.shape[1]
    for k in range(first.shape[0]):
        a, b = sig[first[k]], sig[second[k]]
        same = 0
        for p in range(width):
            if a[p] == b[p]:
                same += 1
        out[k] = np.float32(same / width)


@njit(cache=True, nogil=True)
def pair_jaccard(flat, offsets, first, second, out):  # pragma: no cover (compiled)
    """Exact Jaccard of the shingle sets of texts first[k] and second[k]; `flat` is sorted within each text."""
    for k in range(first.shape[0]):
        i, j = first[k], second[k]
        p, pe, q, qe = offsets[i], offsets[i + 1], offsets[j], offsets[j + 1]
        inter = 0
        union = 0
        while p < pe or q < qe:
            if q >= qe or (p < pe and flat[p] < flat[q]):
                x = flat[p]
                union += 1
            elif p >= pe or flat[q] < flat[p]:
                x = flat[q]
                union += 1
            else:
                x = flat[p]
                inter += 1
                union += 1
            while p < pe and flat[p] == x:  # a set: repeated shingles count once
                p += 1
            while q < qe and flat[q] == x:
                q += 1
        out[k] = 1.0 if union == 0 else inter / union


@njit(cache=True, nogil=True)
def sort_segments(flat, offsets):  # pragma: no cover (compiled)
    for i in range(offsets.shape[0] - 1):
        flat[offsets[i]: offsets[i + 1]] = np.sort(flat[offsets[i]: offsets[i + 1]])


FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)


@njit(cache=True, nogil=True)
def ascii_tokens(data, offsets, out, counts):  # pragma: no cover (compiled)
    """Hash every run of [a-z0-9_] in each (lowercased, ASCII) string; counts[i] = tokens of string i.
    The same hash as `string_hashes`, so a token hashes alike whichever way it was cut."""
    w = 0
    for i in range(offsets.shape[0] - 1):
        n = 0
        in_word = False
        h = FNV_OFFSET
        for k in range(offsets[i], offsets[i + 1]):
            c = data[k]
            word = (97 <= c <= 122) or (48 <= c <= 57) or c == 95 or (65 <= c <= 90)
            if word:
                if not in_word:
                    h = FNV_OFFSET
                    in_word = True
                h = (h ^ np.uint64(c)) * FNV_PRIME
            elif in_word:
                out[w] = h
                w += 1
                n += 1
                in_word = False
        if in_word:
            out[w] = h
            w += 1
            n += 1
        counts[i] = n
    return w


@njit(cache=True, nogil=True)
def string_hashes(data, offsets, out):  # pragma: no cover (compiled)
    """The hash of each string's UTF-8 bytes (tokens that were cut by a Unicode-aware regex)."""
    for i in range(offsets.shape[0] - 1):
        h = FNV_OFFSET
        for k in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[k])) * FNV_PRIME
        out[i] = h


@njit(cache=True, nogil=True)
def gather_segments(src, src_offsets, dest, dest_offsets, rows):  # pragma: no cover (compiled)
    """dest's segment rows[k] gets src's segment k."""
    for k in range(rows.shape[0]):
        d = dest_offsets[rows[k]]
        for s in range(src_offsets[k], src_offsets[k + 1]):
            dest[d] = src[s]
            d += 1


@njit(cache=True, nogil=True)
def absent_from(part, keys, out):  # pragma: no cover (compiled)
    """out[i] = whether keys[i] is missing from `part`; both sorted ascending. One pass over both, galloping
    through `part` from where the previous key left off: O(len(keys) * log(gap)) sequential reads, where a
    binary search per key from the whole array's middle (numpy's searchsorted) reads at random."""
    n = part.shape[0]
    j = 0
    for i in range(keys.shape[0]):
        k = keys[i]
        lo, step = j, 1  # every part[< j] is below the previous key, so below k
        while lo + step < n and part[lo + step] < k:
            lo += step
            step *= 2
        hi = min(lo + step, n)  # part[hi] >= k, or hi == n
        while lo < hi:
            mid = (lo + hi) // 2
            if part[mid] < k:
                lo = mid + 1
            else:
                hi = mid
        j = lo
        out[i] = j >= n or part[j] != k
