"""Near-duplicate detection: this step against datasketch (used the obvious way) and rensa, same corpus.

Run: .venv/bin/python benchmarks/dedupe.py [--records 100000] [--scale 1000000]

The corpus is generated medical-style text with planted near-duplicate pairs (word edits, an inserted
sentence, reordered sentences, truncation) and planted look-alike distinct pairs (same opening sentences,
different rest). All three methods use word 3-gram shingles, 128 permutations and a 0.7 threshold; each is
scored by precision, recall and F1 over pairs (a record and the earlier record it is flagged to duplicate).
With --scale N, the step alone also runs on N records of about 150 words in a fresh process, reporting wall
time and peak memory.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._corpus import medical_sentence  # noqa: E402

NUM_PERM, THRESHOLD, NGRAM = 128, 0.7, 3


def document(rng: random.Random, sentences: int) -> list[str]:
    return [medical_sentence(rng, 12, 24) + "." for _ in range(sentences)]


def variant(rng: random.Random, sents: list[str]) -> list[str]:
    kind = rng.choice(["edit", "insert", "reorder", "truncate"])
    out = list(sents)
    if kind == "edit":  # change about 3% of the words
        words = " ".join(out).split()
        for _ in range(max(1, len(words) // 33)):
            words[rng.randrange(len(words))] = rng.choice(["patient", "dose", "daily", "acute", "therapy"])
        return [" ".join(words)]
    if kind == "insert":
        out.insert(rng.randrange(len(out) + 1), medical_sentence(rng, 12, 20) + ".")
        return out
    if kind == "reorder":
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
        return out
    return out[: max(1, int(len(out) * 0.85))] + [out[-1][: len(out[-1]) // 2]]


def corpus(n: int, seed: int = 0, sentences: int = 6) -> tuple[list[str], set[tuple[int, int]]]:
    """n texts; 10% are near-duplicates of an earlier text, 10% look-alikes that are not duplicates."""
    rng = random.Random(seed)
    texts: list[str] = []
    truth: set[tuple[int, int]] = set()
    bases: list[tuple[int, list[str]]] = []  # (index, sentences) of the original documents
    for _ in range(n):
        r = rng.random()
        if r < 0.1 and bases:
            j, doc = rng.choice(bases)
            truth.add((j, len(texts)))
            texts.append(" ".join(variant(rng, doc)))
        elif r < 0.2 and bases:
            _, doc = rng.choice(bases)
            texts.append(" ".join(doc[:2] + document(rng, sentences - 2)))
        else:
            doc = document(rng, sentences)
            bases.append((len(texts), doc))
            texts.append(" ".join(doc))
    return texts, truth


def shingles(text: str) -> list[str]:
    words = text.lower().replace(".", " ").split()
    return [" ".join(words[i: i + NGRAM]) for i in range(max(1, len(words) - NGRAM + 1))]


def run_datasketch(texts: list[str]) -> set[tuple[int, int]]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    pairs = set()
    for i, t in enumerate(texts):
        m = MinHash(num_perm=NUM_PERM)
        for s in shingles(t):
            m.update(s.encode())
        for j in lsh.query(m):
            pairs.add((min(j, i), max(j, i)))
        lsh.insert(i, m)
    return pairs


def run_rensa(texts: list[str]) -> set[tuple[int, int]]:
    from rensa import RMinHash, RMinHashLSH

    lsh = RMinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=16)  # bands must divide num_perm
    sketches = []
    pairs = set()
    for i, t in enumerate(texts):
        m = RMinHash(num_perm=NUM_PERM, seed=42)
        m.update(shingles(t))
        for j in lsh.query(m):
            if m.jaccard(sketches[j]) >= THRESHOLD:
                pairs.add((min(j, i), max(j, i)))
        lsh.insert(i, m)
        sketches.append(m)
    return pairs


def records_of(texts: list[str]) -> list[dict]:
    return [{"id": str(i), "source": "bench", "lang": "en", "task": "text", "messages": None, "text": t,
             "mcq": None, "parent_id": None, "origin": None, "meta": {}} for i, t in enumerate(texts)]


def run_step(texts: list[str], workers: int) -> set[tuple[int, int]]:
    from curation.steps.dedupe import Dedupe

    step = Dedupe(Dedupe.Config(num_perm=NUM_PERM, threshold=THRESHOLD, ngram=NGRAM, workers=workers))
    _, rejected = step.apply(records_of(texts))
    return {(min(int(r.detail["duplicate_of"]), int(rec["id"])), max(int(r.detail["duplicate_of"]), int(rec["id"])))
            for rec, r in rejected}


def score(pred: set, truth: set) -> tuple[float, float, float]:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth) if truth else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def scale_run(n: int) -> None:
    """In a fresh process: the step alone on n records of about 150 words; wall time and peak memory."""
    texts, _ = corpus(n, seed=1, sentences=8)
    records_of(texts[:10])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    t = time.perf_counter()
    pairs = run_step(texts, workers=2)
    secs = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"scale: {n:,} records, {sum(len(x.split()) for x in texts) / n:.0f} words each: dedupe {secs:.1f}s "
          f"({n / secs:,.0f} records/s), {len(pairs):,} duplicates; peak memory {peak:.2f} GB (the whole "
          f"process, the generated corpus included: {before:.2f} GB before the step)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--scale", type=int, default=0, help="also run the step alone on this many records")
    ap.add_argument("--scale-only", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scale_only:
        scale_run(args.scale_only)
        return
    texts, truth = corpus(args.records)
    print(f"corpus: {len(texts):,} records, {len(truth):,} planted near-duplicate pairs, "
          f"{sum(len(t.split()) for t in texts) / len(texts):.0f} words each", flush=True)
    rows = []
    for name, fn in (("(a) datasketch, obvious: MinHash.update per shingle, LSH insert+query", run_datasketch),
                     ("(b) rensa: RMinHash + RMinHashLSH, jaccard-checked", run_rensa),
                     ("(c) medcurate dedupe step, 1 thread", lambda t: run_step(t, 1)),
                     ("(c) medcurate dedupe step, 2 threads", lambda t: run_step(t, 2))):
        t0 = time.perf_counter()
        pred = fn(texts)
        secs = time.perf_counter() - t0
        rows.append((name, secs, *score(pred, truth)))
        print(f"  {name}: {secs:.1f}s", flush=True)
    base = rows[0][1]
    print(f"\n{'method':<72} {'seconds':>8} {'records/s':>10} {'vs (a)':>7} {'P':>6} {'R':>6} {'F1':>6}")
    for name, secs, p, r, f in rows:
        print(f"{name:<72} {secs:>8.1f} {len(texts) / secs:>10,.0f} {base / secs:>6.1f}x {p:>6.3f} {r:>6.3f} {f:>6.3f}")
    if args.scale:
        subprocess.run([sys.executable, __file__, "--scale-only", str(args.scale)], check=True)


if __name__ == "__main__":
    main()
