"""Star clustering that judges pairs only as the stars need them gives the stars of judging every pair first."""

from __future__ import annotations

import numpy as np
import pytest

from curation.steps import dedupe_stars
from curation.steps.dedupe_stars import star_clusters


def eager_stars(n, exact_edges, pairs, rank, indexed, sims, dups):
    """The reference: every pair judged first, units of exact copies, then the star loop in plain Python. Also
    the pairs the stars needed: those from a surviving unit to a unit neither assigned nor fixed when it came."""
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in exact_edges:
        parent[find(x)] = find(y)
    unit = [find(r) for r in range(n)]
    best = {}
    for r in range(n):
        best[unit[r]] = min(best.get(unit[r], n), rank[r])
    edges = {}  # (earlier unit, later unit) -> the pairs joining them
    for k, (a, b) in enumerate(pairs.tolist()):
        ua, ub = unit[a], unit[b]
        if ua != ub:
            edges.setdefault((ua, ub) if best[ua] < best[ub] else (ub, ua), []).append(k)
    fixed = {unit[r] for r in range(n) if indexed[r]}
    owner, sim_u, assigned, needed = {}, {}, set(), set()
    for u in sorted(set(unit), key=lambda u: best[u]):
        if u in assigned:
            continue
        assigned.add(u)
        for (x, v), ks in sorted(edges.items()):
            if x != u or v in assigned or v in fixed:
                continue
            needed.update(ks)
            duplicates = [float(sims[k]) for k in ks if dups[k]]
            if duplicates:
                assigned.add(v)
                owner[v], sim_u[v] = u, max(duplicates)
    row_of_rank = {rank[r]: r for r in range(n)}
    survivor, sim = [], []
    for r in range(n):
        u = unit[r]
        top = owner.get(u, u)
        survivor.append(row_of_rank[best[top]])
        sim.append(1.0 if survivor[-1] == r or top == u else sim_u[u])
    return np.array(survivor), np.array(sim), needed


def corpus(seed: int, n: int = 400):
    """Clusters of near copies (a few exact), unrelated pairs, rows of an earlier run (indexed), a shuffled
    keep order: pairs (a, b) with a before b in rank, sorted by a, as the candidates reduce gives them."""
    rng = np.random.default_rng(seed)
    rank = rng.permutation(n)
    cluster = rng.integers(0, n // 8, size=n)
    members = {c: np.flatnonzero(cluster == c) for c in np.unique(cluster)}
    exact = [(r, rng.choice(members[cluster[r]])) for r in range(n) if rng.random() < 0.25]
    pairs = set()
    for _ in range(n * 12):
        a, b = rng.integers(0, n, size=2)
        if a != b and (cluster[a] == cluster[b] or rng.random() < 0.2):
            pairs.add((a, b) if rank[a] < rank[b] else (b, a))
    pairs = np.array(sorted(pairs), dtype=np.int32)
    same = cluster[pairs[:, 0]] == cluster[pairs[:, 1]]
    sims = np.where(same, rng.uniform(0.7, 1.0, len(pairs)), rng.uniform(0.3, 0.8, len(pairs))).astype(np.float32)
    indexed = rank < n // 20  # an earlier run's rows come first in keep order, as the keep policy puts them
    return rank, np.array(exact, dtype=np.int64).reshape(-1, 2), pairs, sims, indexed


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("block", [1, 7, 1 << 20])
def test_lazy_stars_equal_eager_stars(monkeypatch, seed, block):
    monkeypatch.setattr(dedupe_stars, "STAR_BLOCK", block)
    rank, exact, pairs, sims, indexed = corpus(seed)
    threshold = 0.7
    judged: list[int] = []

    def judge(at):
        judged.extend(at.tolist())
        return sims[at], sims[at] >= threshold

    survivor, sim = star_clusters(len(rank), exact, pairs, rank, indexed, judge)
    want_survivor, want_sim, needed = eager_stars(len(rank), exact, pairs, rank, indexed, sims, sims >= threshold)
    assert survivor.tolist() == want_survivor.tolist()
    assert np.allclose(sim, want_sim)
    assert len(set(judged)) == len(judged)  # no pair judged twice
    assert needed <= set(judged)
    if block == 1:  # a unit at a time: exactly the pairs the stars need are judged, about half of them here
        assert set(judged) == needed and len(judged) < 0.6 * len(pairs)
    assert all(survivor[survivor[r]] == survivor[r] for r in range(len(rank)))  # stars, never chains
    assert indexed[survivor[indexed]].all()  # an earlier run's rows are never removed for this run's


def test_a_pair_whose_second_row_has_an_earlier_exact_copy_starts_from_that_copy():
    # rows 0..3 in rank order 0, 1, 2, 3; rows 0 and 3 are exact copies, so the pair (1, 3) starts from unit {0, 3}
    rank = np.arange(4)
    pairs = np.array([[1, 3], [1, 2]], dtype=np.int32)
    sims = np.array([0.9, 0.95], dtype=np.float32)
    survivor, sim = star_clusters(4, np.array([[0, 3]]), pairs, rank, np.zeros(4, bool),
                                  lambda at: (sims[at], sims[at] >= 0.7))
    assert survivor.tolist() == [0, 0, 2, 0]  # 1 joins the copies' star; 2 survives (its pair's unit was taken)
    assert sim[1] == pytest.approx(0.9) and sim[3] == 1.0
