"""Near-duplicate detection: this step against datatrove's MinHash pipeline, datasketch (the obvious way), rensa.

Run: .venv/bin/python benchmarks/dedupe.py [--records 100000] [--rounds 1] [--workers 2] [--scale 1000000]

The corpus is generated medical-style text with planted near-duplicate pairs (word edits, an inserted
sentence, reordered sentences, truncation) and planted look-alike distinct pairs (same opening sentences,
different rest). All three methods use word 3-gram shingles, 128 permutations and a 0.7 threshold; each is
scored by precision, recall and F1 over pairs (a record and the earlier record it is flagged to duplicate).
Peers: datatrove 0.10.1's four-stage MinHash pipeline (signatures, buckets, clusters, filter; 16 bands of 8
hashes, `--workers` processes), and rensa, each in its own virtual environment under benchmarks/.venvs/ (made
on first run, see benchmarks/_peers.py). Every method runs in a fresh process that reads the same texts from
JSONL files, the methods alternating for `--rounds` rounds; peak resident memory is that of the whole process
tree (datatrove forks its workers, which the parent's `ru_maxrss` never sees), sampled every 50 ms. datatrove
pairs each removed document with the member of its cluster that it keeps.
With --scale N, the step alone also runs on N records of about 150 words in a fresh process, reporting wall
time and peak memory.

A second corpus is templated rare-disease Q&A (`templated_qa`): symptom answers that open and close with one
long boilerplate around a short, different symptom list per disease, inheritance answers shared word for word
by many diseases, and planted copies (reformatted, or answered in other words). It reports what the step
removes there: records less similar to the survivor they name than the threshold, removals whose question
asks about another disease, and planted groups not resolved to exactly one member. --no-baselines skips
datasketch and rensa.
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


SYLLABLES = ("al", "bor", "cra", "dan", "el", "fen", "gor", "hal", "ist", "jor", "kal", "lim", "mor", "nor", "ost",
             "pel", "quin", "ros", "sal", "tor", "ul", "ven", "wol", "zel")
KINDS = ("syndrome", "disease", "dysplasia", "myopathy", "ataxia", "leukodystrophy", "deficiency")
SYMPTOMS = (
    "Abnormality of the cardiovascular system", "Hypertrophic cardiomyopathy", "Intellectual disability",
    "Muscle weakness", "Retinopathy", "Short stature", "Scoliosis", "Seizures", "Hearing impairment", "Cataract",
    "Hepatomegaly", "Splenomegaly", "Cleft palate", "Micrognathia", "Broad thumb", "Clinodactyly of the 5th finger",
    "Hypotonia", "Delayed speech and language development", "Ptosis", "Nystagmus", "Joint hypermobility",
    "Craniosynostosis", "Hydrocephalus", "Macrocephaly", "Microcephaly", "Renal cyst", "Proteinuria", "Anemia",
    "Recurrent infections", "Eczema", "Alopecia", "Dystrophic fingernails", "Hypoglycemia", "Lactic acidosis",
    "Peripheral neuropathy", "Spasticity", "Dysarthria", "Optic atrophy", "Conductive hearing loss", "Pectus excavatum",
    "Kyphosis", "Hip dislocation", "Osteopenia", "Exercise intolerance", "Arrhythmia", "Wolff-Parkinson-White syndrome",
    "Myalgia", "Elevated creatine kinase", "Gastroesophageal reflux", "Feeding difficulties in infancy")
FREQUENCIES = ("Very frequent (99-80%)", "Frequent (79-30%)", "Occasional (29-5%)", "Very rare (<4-1%)")
SYMPTOMS_OPEN = ("The Human Phenotype Ontology provides the following list of signs and symptoms for {name}. If the "
                 "information is available, the table below includes how often the symptom is seen in people with "
                 "this condition. You can use the MedlinePlus Medical Dictionary to look up the definitions for these "
                 "medical terms. Signs and Symptoms Approximate number of patients (when available)")
SYMPTOMS_CLOSE = ("The Human Phenotype Ontology (HPO) has collected information on how often a sign or symptom occurs "
                  "in a condition. Much of this information comes from Orphanet, a European rare disease database. "
                  "The frequency of a sign or symptom is usually listed as a rough estimate of the percentage of "
                  "patients who have that feature.")
INHERITANCE = (
    "This condition is inherited in an X-linked dominant pattern. The gene associated with this condition is located "
    "on the X chromosome, which is one of the two sex chromosomes. In females, a mutation in one of the two copies of "
    "the gene in each cell is sufficient to cause the disorder. In males, a mutation in the only copy of the gene in "
    "each cell causes the disorder, and males are often more severely affected.",
    "This condition is inherited in an autosomal recessive pattern, which means both copies of the gene in each cell "
    "have mutations. The parents of an individual with an autosomal recessive condition each carry one copy of the "
    "mutated gene, but they typically do not show signs and symptoms of the condition.",
    "This condition is inherited in an autosomal dominant pattern, which means one copy of the altered gene in each "
    "cell is sufficient to cause the disorder. In some cases, an affected person inherits the mutation from one "
    "affected parent. Other cases result from new mutations in the gene and occur in people with no history of the "
    "disorder in their family.")
REWORDS = (("the following list", "this list"), ("how often", "how frequently"), ("look up", "find"),
           ("which means", "meaning"), ("sufficient", "enough"), ("typically", "usually"))


def disease_names(rng: random.Random, n: int) -> list[str]:
    """n distinct made-up rare-disease names ('Danorost syndrome'), unrelated to one another."""
    stems: dict[str, str] = {}  # one name per stem: 'X syndrome' and 'X dysplasia' would be one question apart
    while len(stems) < n:
        stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
        stems.setdefault(stem, f"{stem} {rng.choice(KINDS)}")
    return list(stems.values())


def symptom_answer(rng: random.Random, name: str) -> str:
    listed = rng.sample(SYMPTOMS, rng.randint(3, 7))
    body = " ".join(f"{s} {rng.choice(FREQUENCIES)}" for s in listed)
    return f"{SYMPTOMS_OPEN.format(name=name)} {body} {SYMPTOMS_CLOSE}"


def reworded(rng: random.Random, answer: str) -> str:
    """The answer in other words: two phrases swapped for synonyms where they occur, one sentence added."""
    for old, new in rng.sample(REWORDS, 2):
        answer = answer.replace(old, new, 1)
    return answer + " Genetic counselling can help families understand the risk."


def templated_qa(diseases: int, seed: int = 0) -> tuple[list[list[dict]], list[list[int]]]:
    """MedQuAD/GARD-style conversations: per disease 'What are the symptoms of X?' (boilerplate around its own
    symptom list) and 'Is X inherited?' (one of three answers shared word for word). One record in ten gets a
    planted copy: reformatted (case, spacing) or with its answer reworded. Returns the conversations and the
    planted groups (indices that are one record)."""
    rng = random.Random(seed)
    convs: list[list[dict]] = []
    groups: list[list[int]] = []
    for name in disease_names(rng, diseases):
        for q, a in ((f"What are the symptoms of {name}?", symptom_answer(rng, name)),
                     (f"Is {name} inherited?", rng.choice(INHERITANCE))):
            convs.append([{"role": "user", "content": q}, {"role": "assistant", "content": a}])
            if rng.random() < 0.1:
                copy = (f"  {q.lower()}", a.upper()) if rng.random() < 0.5 else (q, reworded(rng, a))
                groups.append([len(convs) - 1, len(convs)])
                convs.append([{"role": "user", "content": copy[0]}, {"role": "assistant", "content": copy[1]}])
    return convs, groups


def templated_report(convs: list[list[dict]], groups: list[list[int]], options: dict | None = None) -> dict:
    """What the step removes from the templated corpus, checked on the true Jaccard of the texts it compares."""
    from curation import minhash as mh
    from curation.steps.dedupe import Dedupe

    records = [{"id": str(i), "source": "bench", "lang": "en", "task": "instruction", "messages": m, "text": None,
                "mcq": None, "parent_id": None, "origin": None, "meta": {}} for i, m in enumerate(convs)]
    step = Dedupe(Dedupe.Config(**(options or {})))
    t = time.perf_counter()
    result = step.apply([dict(r) for r in records])
    kept, rejected = result.kept, result.rejected
    secs = time.perf_counter() - t
    c = step.config
    removed = {int(rec["id"]): int(rej.detail["duplicate_of"]) for rec, rej in rejected}

    def jaccard(i: int, j: int) -> float:
        a, b = (mh.shingle_hashes(mh.record_text(records[k], c.key), False, c.ngram, c.char_ngram) for k in (i, j))
        return mh.true_jaccard(a, b)

    def subject(i: int) -> str:
        return normalised_question(convs[i][0]["content"])

    sims = [jaccard(i, s) for i, s in removed.items()]
    kept_ids = {int(r["id"]) for r in kept}
    return {"records": len(records), "removed": len(removed), "seconds": secs,
            "below_threshold": sum(x < c.threshold for x in sims), "min_similarity": min(sims, default=1.0),
            "other_question": sum(subject(i) != subject(s) for i, s in removed.items()),
            "planted_groups": len(groups),
            "unresolved_groups": sum(len(set(g) & kept_ids) != 1 for g in groups),
            "largest_cluster": max((int(rej.detail["cluster_size"]) for _, rej in rejected), default=1)}


def normalised_question(question: str) -> str:
    return " ".join(question.lower().split())


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
    rejected = step.apply(records_of(texts)).rejected
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


TEXTS = ROOT / "benchmarks" / "_data" / "dedupe"
RENSA = ["rensa==0.5.0"]
DATATROVE = ["datatrove[processing]==0.10.1", "spacy==3.8.18", "jieba==0.42.1", "orjson==3.13.0"]
BANDS, ROWS = 16, 8  # datatrove's banding: 16 bands of 8 hashes, the 128 permutations of the others


def write_texts(texts: list[str], files: int) -> Path:
    """The corpus as JSONL files (one per datatrove task), the order of ids kept across files."""
    import json

    folder = TEXTS / "input"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.jsonl"):
        old.unlink()
    size = -(-len(texts) // files)
    for k in range(files):
        with (folder / f"{k:03d}.jsonl").open("w", encoding="utf-8") as f:
            for i in range(k * size, min(len(texts), (k + 1) * size)):
                f.write(json.dumps({"id": str(i), "text": texts[i]}) + "\n")
    return folder


def read_texts(folder: Path) -> list[str]:
    import json

    rows = [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.open(encoding="utf-8")]
    return [r["text"] for r in sorted(rows, key=lambda r: int(r["id"]))]


def method_worker(name: str, folder: Path) -> None:
    """In a fresh process: one method over the texts; prints seconds and pairs as JSON."""
    import json

    texts = read_texts(folder)
    fn = {"datasketch": run_datasketch, "rensa": run_rensa, "step-1": lambda t: run_step(t, 1),
          "step-2": lambda t: run_step(t, 2)}[name]
    t = time.perf_counter()
    pairs = fn(texts)
    print(json.dumps({"seconds": time.perf_counter() - t, "pairs": sorted(pairs)}))


def compare(texts: list[str], truth: set[tuple[int, int]], rounds: int, workers: int, baselines: bool) -> None:
    """Every method in its own process, alternating for `rounds` rounds; time, F1 and process-tree peak."""
    import json
    import shutil

    from benchmarks._peers import peer_python, run_measured

    folder = write_texts(texts, workers)
    me = [sys.executable, str(Path(__file__).resolve())]
    dt = [str(peer_python("datatrove", DATATROVE)), str(ROOT / "benchmarks" / "_datatrove_minhash.py"), str(folder),
          str(TEXTS / "datatrove"), str(workers), str(NGRAM), str(BANDS), str(ROWS)]
    methods = {
        "(a) datasketch, obvious: MinHash.update per shingle, LSH insert+query": [*me, "--method", "datasketch"],
        "(b) rensa: RMinHash + RMinHashLSH, jaccard-checked": [
            str(peer_python("rensa", RENSA)), __file__, "--method", "rensa"],
        f"(d) datatrove: 4-stage MinHash pipeline, {BANDS}x{ROWS} bands, {workers} processes": dt,
        "(c) medcurate dedupe step, 1 thread": [*me, "--method", "step-1"],
        f"(c) medcurate dedupe step, {workers} threads": [*me, "--method", f"step-{workers}"],
    }
    if not baselines:
        methods = {k: v for k, v in methods.items() if k.startswith(("(c)", "(d)"))}
    runs: dict[str, list[tuple[float, int, tuple[float, float, float]]]] = {m: [] for m in methods}
    for r in range(rounds):
        for name, cmd in methods.items():
            shutil.rmtree(TEXTS / "datatrove", ignore_errors=True)
            if cmd[-2] == "--method":
                cmd = [*cmd, "--texts", str(folder)]
            with (TEXTS / "methods.log").open("a") as log:  # datatrove's progress logs, kept out of the table
                _, peak, out = run_measured(cmd, cwd=ROOT, stderr=log)
            res = json.loads(out.strip().splitlines()[-1])
            pred = {(min(int(a), int(b)), max(int(a), int(b))) for a, b in res["pairs"]}
            runs[name].append((res["seconds"], peak, score(pred, truth)))
            print(f"  [round {r + 1}] {name}: {res['seconds']:.1f}s, peak {peak / 2**20:,.0f} MiB"
                  + (f", stages {', '.join(f'{k} {v:.1f}s' for k, v in res['stages'].items())}"
                     if "stages" in res else ""), flush=True)
    print(f"\n{'method':<72} {'seconds':>13} {'records/s':>10} {'P':>6} {'R':>6} {'F1':>6} {'tree peak MiB':>14}")
    for name, rs in runs.items():
        secs = sorted(x[0] for x in rs)
        peaks = sorted(x[1] / 2**20 for x in rs)
        p, rec, f = rs[-1][2]
        print(f"{name:<72} {secs[0]:>6.1f}-{secs[-1]:<6.1f} {len(texts) / secs[0]:>10,.0f} {p:>6.3f} {rec:>6.3f} "
              f"{f:>6.3f} {peaks[0]:>6,.0f}-{peaks[-1]:<7,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=1, help="rounds of the methods, alternating")
    ap.add_argument("--workers", type=int, default=2, help="datatrove processes and the step's threads")
    ap.add_argument("--scale", type=int, default=0, help="also run the step alone on this many records")
    ap.add_argument("--scale-only", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--method", help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    ap.add_argument("--diseases", type=int, default=1500, help="rare diseases in the templated Q&A corpus")
    ap.add_argument("--no-baselines", action="store_true", help="skip datasketch and rensa (datatrove stays)")
    args = ap.parse_args()
    if args.scale_only:
        scale_run(args.scale_only)
        return
    if args.method:
        method_worker(args.method, Path(args.texts))
        return
    convs, groups = templated_qa(args.diseases)
    print(f"templated Q&A: {templated_report(convs, groups)}", flush=True)
    texts, truth = corpus(args.records)
    print(f"corpus: {len(texts):,} records, {len(truth):,} planted near-duplicate pairs, "
          f"{sum(len(t.split()) for t in texts) / len(texts):.0f} words each", flush=True)
    compare(texts, truth, args.rounds, args.workers, not args.no_baselines)
    if args.scale:
        subprocess.run([sys.executable, __file__, "--scale-only", str(args.scale)], check=True)


if __name__ == "__main__":
    main()
