"""Star clustering of dedupe's likely pairs, judging a pair only when the stars need its answer.

Exact duplicates are one unit (their texts are the same tokens, so any of them stands for all). Units are taken
in the order of their best row's rank; a unit not yet removed survives and removes its unassigned near-duplicate
neighbours, except units holding an `indexed` row (kept by an earlier run, so every one of them stays a survivor
new records can duplicate). Unlike connected components this never chains: A~B and B~C with A and C unlike
does not remove C for A.

The stars depend only on the pairs from a surviving unit to a unit still unassigned when it is reached, so pairs
are judged (the exact Jaccard of their texts, which costs a shingling of both) block by block in that order:
a block's pairs are judged only where their first unit and the other are both unassigned after the blocks
before it. In a corpus of large clusters of copies most pairs join two members of one cluster, and once the
survivor has taken the members their pairs with one another are never judged. The result is the one that
judging every pair first gives.

The pairs are walked where they lie, sorted by their first row: a unit's pairs are its rows' pairs, plus the
few whose second row's unit comes first (a row with an earlier exact copy). No table of unit pairs is built,
so beside the pairs this needs a few arrays per row and one block's judged pairs (a sorted copy of tens of
millions of pairs would hold them three times over).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit

from .. import minhash as mh

STAR_BLOCK = 1 << 20  # pairs per block: pairs judged in vain are those within a block whose unit is taken in it

# likely pairs (indices into them) -> each one's similarity (float32) and whether it is a duplicate
Judge = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def star_clusters(n: int, exact_edges: np.ndarray, pairs: np.ndarray, rank: np.ndarray, indexed: np.ndarray,
                  judge: Judge) -> tuple[np.ndarray, np.ndarray]:
    """The survivor of each of n rows (itself when kept) and its similarity to it. `pairs` are the likely
    near-duplicate row pairs (a, b), a before b in rank, sorted by a; `judge` says which are duplicates."""
    unit = mh.components(n, exact_edges.astype(np.int64).reshape(-1, 2)).astype(np.int64)
    best = np.full(int(unit.max()) + 1 if n else 0, n, dtype=np.int64)  # each unit's best rank
    np.minimum.at(best, unit, rank)
    row_of_rank = np.argsort(rank)
    rep = row_of_rank[np.minimum(best, n - 1)] if n else best
    owner = np.arange(len(best), dtype=np.int64)  # unit -> surviving unit
    sim_u = np.ones(len(best))
    if len(pairs):
        fixed = np.zeros(len(best), dtype=bool)
        fixed[unit[indexed]] = True
        PairWalk(pairs, unit, best).assign(judge, fixed, owner, sim_u)
    survivor = rep[owner[unit]]
    return survivor, np.where(survivor == np.arange(n), 1.0, np.where(owner[unit] == unit, 1.0, sim_u[unit]))


class PairWalk:
    """The pairs a unit starts, found without reordering the pairs: each unit's rows (unit_rows[unit_ptr[u]:
    unit_ptr[u+1]]), each row's pairs as first row (row_ptr[r]:row_ptr[r+1]), and the pairs whose second row's
    unit comes first, by that row (rev[rev_ptr[r]:rev_ptr[r+1]])."""

    def __init__(self, pairs: np.ndarray, unit: np.ndarray, best: np.ndarray) -> None:
        self.a, self.b, self.unit, self.best = pairs[:, 0], pairs[:, 1], unit, best
        n = len(unit)
        self.unit_rows = np.argsort(unit, kind="stable")
        self.unit_ptr = np.searchsorted(unit[self.unit_rows], np.arange(len(best) + 1)).astype(np.int64)
        self.row_ptr = first_row_ptr(self.a, n)
        self.rev_ptr, self.rev = reversed_pairs(self.a, self.b, unit, best, n)
        degree = np.bincount(unit, weights=np.diff(self.row_ptr) + np.diff(self.rev_ptr), minlength=len(best))
        units = np.flatnonzero(degree)
        self.order = units[np.argsort(best[units], kind="stable")]  # the units that start a pair, in rank order
        self.degree = degree[self.order]

    def assign(self, judge: Judge, fixed: np.ndarray, owner: np.ndarray, sim_u: np.ndarray) -> None:
        """The star loop, a block of units at a time: the pairs the block can use (from a unit not yet assigned
        to a unit neither assigned nor fixed) are judged, then the block's units are taken in rank order."""
        assigned = np.zeros(len(owner), dtype=np.bool_)
        width = int(self.degree.max()) if len(self.degree) else 0  # the most pairs one unit starts
        walk = (self.unit_ptr, self.unit_rows, self.row_ptr, self.rev_ptr, self.rev, self.a, self.b, self.unit,
                self.best, np.empty(width, dtype=np.int64), np.empty(width, dtype=np.int64))
        cuts = np.searchsorted(np.cumsum(self.degree), np.arange(STAR_BLOCK, self.degree.sum(), STAR_BLOCK)) + 1
        lo = 0
        for hi in [*np.unique(cuts).tolist(), len(self.order)]:
            units, lo = self.order[lo:hi], hi
            wanted = block_pairs(units, *walk, assigned, fixed)
            sim = np.zeros(0, dtype=np.float32)
            if len(wanted):  # the block's judged pairs, sorted, and their similarity (-1: not a duplicate)
                judged, dup = judge(wanted)
                order = np.argsort(wanted)
                wanted, sim = wanted[order], np.where(dup, judged, np.float32(-1.0)).astype(np.float32)[order]
            assign_block(units, *walk, assigned, fixed, wanted, sim, owner, sim_u)


@njit(cache=True, nogil=True)
def first_row_ptr(a, n):  # pragma: no cover (compiled)
    """Where each row's pairs start in pairs sorted by first row (a strided column: no copy of it)."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    for k in range(a.shape[0]):
        ptr[a[k] + 1] += 1
    for r in range(n):
        ptr[r + 1] += ptr[r]
    return ptr


@njit(cache=True, nogil=True)
def reversed_pairs(a, b, unit, best, n):  # pragma: no cover (compiled)
    """The pairs whose second row's unit is ranked before the first row's (the second row has an earlier exact
    copy), grouped by second row: such a pair starts from the second row's unit."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    for k in range(a.shape[0]):
        if best[unit[b[k]]] < best[unit[a[k]]]:
            ptr[b[k] + 1] += 1
    for r in range(n):
        ptr[r + 1] += ptr[r]
    fill = ptr[:-1].copy()
    rev = np.empty(ptr[n], dtype=np.int64)
    for k in range(a.shape[0]):
        if best[unit[b[k]]] < best[unit[a[k]]]:
            rev[fill[b[k]]] = k
            fill[b[k]] += 1
    return ptr, rev


@njit(cache=True, nogil=True)
def unit_pairs(u, unit_ptr, unit_rows, row_ptr, rev_ptr, rev, a, b, unit, best, ks, vs):  # pragma: no cover
    """The pairs unit u starts, into ks (pair indices) and vs (the other unit); returns how many. Pairs within
    the unit, or with a unit ranked before it (which started them), are left out."""
    m = 0
    for j in range(unit_ptr[u], unit_ptr[u + 1]):
        r = unit_rows[j]
        for k in range(row_ptr[r], row_ptr[r + 1]):
            v = unit[b[k]]
            if v != u and best[v] > best[u]:
                ks[m] = k
                vs[m] = v
                m += 1
        for i in range(rev_ptr[r], rev_ptr[r + 1]):
            v = unit[a[rev[i]]]
            if v != u and best[v] > best[u]:
                ks[m] = rev[i]
                vs[m] = v
                m += 1
    return m


@njit(cache=True, nogil=True)
def block_pairs(units, unit_ptr, unit_rows, row_ptr, rev_ptr, rev, a, b, unit, best, ks, vs, assigned,
                fixed):  # pragma: no cover (compiled)
    """The pairs the block's units can use: from a unit not yet assigned to another unit, ranked after it,
    neither assigned nor fixed."""
    out = np.empty(16, dtype=np.int64)
    m = 0
    for u in units:
        if assigned[u]:
            continue
        for t in range(unit_pairs(u, unit_ptr, unit_rows, row_ptr, rev_ptr, rev, a, b, unit, best, ks, vs)):
            if assigned[vs[t]] or fixed[vs[t]]:
                continue
            if m == out.shape[0]:
                grown = np.empty(2 * m, dtype=np.int64)
                grown[:m] = out
                out = grown
            out[m] = ks[t]
            m += 1
    return out[:m].copy()


@njit(cache=True, nogil=True)
def assign_block(units, unit_ptr, unit_rows, row_ptr, rev_ptr, rev, a, b, unit, best, ks, vs, assigned, fixed,
                 judged, sim, owner, sim_u):  # pragma: no cover (compiled)
    """The star loop over the block's units in rank order: one not yet assigned survives and takes the units
    its duplicate pairs reach that are neither assigned nor fixed, each with the highest similarity of the pairs
    joining them. The block's judged pairs are found by binary search in `judged` (sorted, `sim` aligned), so
    no similarity is held per pair of the run. Compiled: each step depends on the ones before."""
    for u in units:
        if assigned[u]:
            continue
        assigned[u] = True
        for t in range(unit_pairs(u, unit_ptr, unit_rows, row_ptr, rev_ptr, rev, a, b, unit, best, ks, vs)):
            k, v = ks[t], vs[t]
            at = np.searchsorted(judged, k)
            if at == judged.shape[0] or judged[at] != k or sim[at] < 0:
                continue  # not judged (not needed) or not a duplicate
            if not assigned[v] and not fixed[v]:
                assigned[v] = True
                owner[v] = u
                sim_u[v] = sim[at]
            elif owner[v] == u and sim[at] > sim_u[v]:
                sim_u[v] = sim[at]
