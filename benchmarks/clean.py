"""The quality step against datatrove's Gopher repetition, Gopher quality and C4 filters; and the cleaning
chain (normalize + langid + pii + quality) against the obvious pandas `apply` of the same rules.

Run: .venv/bin/python benchmarks/clean.py [--records 100000] [--documents N] [--rounds 2] [--workers 2]
                                          [--chain-records 200000] [--baseline-records 20000]

Peers. datatrove 0.10.1 runs in its own virtual environment under benchmarks/.venvs/ (made on first run with
venv and pip, see benchmarks/_peers.py), its three filters with their defaults, built per language, in a
pipeline's order; medcurate runs its `quality` step with its defaults, record by record as the runner calls it
today and through the step's vectorised batch path (`Quality.process_batch`, a chunk of 2,000 records at a
time). Each method runs in a fresh process over the same records read from one file, `--workers` processes
each, and the methods alternate for `--rounds` rounds. Reported: documents per second of the filtering alone
(reading excluded), peak resident memory of the whole process tree (parent and workers summed, sampled every
50 ms; pages a forked worker shares with its parent count twice, for every method alike) and what each
rejects. Two corpora: the generated multilingual Q&A below (en, es, zh, ar), and generated English
medical documents of about 110 words in four paragraphs (task `text`, where Gopher's line and paragraph
rules apply to medcurate too).

Chain. The baseline applies the same rules one record at a time the straightforward way: ftfy on every text,
HTML parsing wherever a '<' appears, langdetect on the whole text and on each role, one regex pass per PII
type and libphonenumber's matcher over every text for each region of its language, and the same quality
measurements. It is far slower, so by default it runs on the first 20,000 records and its records per second
are compared (the rate does not depend on the count). --chain-records 0 skips this part.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "recipes" / "data"))

from content import AR_QA, EN_QA, ES_QA, ZH_QA  # noqa: E402

from benchmarks._corpus import medical_sentence  # noqa: E402

NOISE = ["", "", "", " Contact dr.lee@clinic-example.org.", " Call +1 415-555-0100.", "<p>See your doctor.</p>",
         " Don’t stop suddenly."]
LANGS = ["en", "es", "zh", "ar"]
DATATROVE = ["datatrove[processing]==0.10.1", "spacy==3.8.18", "jieba==0.42.1", "orjson==3.13.0"]
DATA = ROOT / "benchmarks" / "_data" / "clean"


def generate(n: int, seed: int = 0) -> list[dict]:
    from curation.record import make_record

    rng = random.Random(seed)
    pools = [EN_QA, ES_QA, ZH_QA, AR_QA]
    out = []
    for i in range(n):
        pool = pools[i % 4]
        q, a = rng.choice(pool)
        if pool is EN_QA:
            a = a + " " + medical_sentence(rng, 8, 20) + "."
        noise = rng.choice(NOISE)
        if noise == NOISE[-1]:
            noise = noise.encode("utf-8").decode("cp1252", errors="replace")
        out.append(make_record("bench", "instruction", messages=[
            {"role": "user", "content": q}, {"role": "assistant", "content": a + noise + f" ({i})"}]))
    return out


def documents(n: int, seed: int = 1) -> list[dict]:
    """English medical documents: four paragraphs of one or two generated sentences, about 110 words."""
    from curation.record import make_record

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        paras = [" ".join(medical_sentence(rng, 10, 18) + "." for _ in range(rng.randint(1, 2))) for _ in range(4)]
        out.append(make_record("bench", "text", text="\n\n".join(paras), lang="en"))
    return out


def lang_of(i: int, record: dict) -> str:
    return record.get("lang") or LANGS[i % 4]


def write_inputs(name: str, records: list[dict]) -> tuple[Path, Path]:
    """The records for medcurate and the same texts (its content, messages joined) as datatrove documents."""
    from curation.steps.base import texts_of

    DATA.mkdir(parents=True, exist_ok=True)
    recs, docs = DATA / f"{name}.records.jsonl", DATA / f"{name}.docs.jsonl"
    with recs.open("w", encoding="utf-8") as r, docs.open("w", encoding="utf-8") as d:
        for i, rec in enumerate(records):
            r.write(json.dumps(rec, ensure_ascii=False) + "\n")
            text = "\n".join(t for _, t in texts_of(rec))
            d.write(json.dumps({"id": rec["id"], "text": text, "lang": lang_of(i, rec)}, ensure_ascii=False) + "\n")
    return recs, docs


def _batch_chunk(records: list[dict]) -> tuple[list[dict], list[str | None]]:
    """One chunk through the quality step's batch path, as a pipeline worker would run it."""
    from curation.steps.quality import Quality

    outcomes = Quality().process_batch(records)
    return records, [None if o is None else o.reason for o in outcomes]


def quality_worker(mode: str, path: str, workers: int) -> None:
    """Run in a fresh process: the quality step over a records file; prints what _datatrove_filters prints."""
    from concurrent.futures import ProcessPoolExecutor

    from curation.ledger import Ledger
    from curation.pipeline import build_steps, run_steps
    from curation.relevance import tables

    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    tables()  # the lexicon is read once per process before workers fork, for every method alike
    t = time.perf_counter()
    reasons: Counter = Counter()
    if mode == "record":
        ledger = Ledger()
        kept = len(run_steps(records, build_steps([("quality", None)]), rejects=None, ledger=ledger,
                             workers=workers))
        reasons.update(ledger.to_dict()["quality"]["reasons"])
    else:
        chunks = [records[i: i + 2000] for i in range(0, len(records), 2000)]
        results = ProcessPoolExecutor(workers).map(_batch_chunk, chunks) if workers > 1 else map(_batch_chunk, chunks)
        kept = 0
        for _, outcome in results:
            kept += sum(o is None for o in outcome)
            reasons.update(o for o in outcome if o is not None)
    secs = time.perf_counter() - t
    print(json.dumps({"docs": len(records), "kept": kept, "seconds": secs, "rejects": dict(reasons.most_common())}))


def peers(corpora: dict[str, list[dict]], rounds: int, workers: int) -> None:
    from benchmarks._peers import peer_python, run_measured

    dt_python = peer_python("datatrove", DATATROVE)
    me = [sys.executable, str(Path(__file__).resolve())]
    for name, records in corpora.items():
        recs, docs = write_inputs(name, records)
        methods = {
            "medcurate quality, per record": [*me, "--worker", "record", str(recs), str(workers)],
            "medcurate quality, batch": [*me, "--worker", "batch", str(recs), str(workers)],
            "datatrove Gopher rep. + Gopher quality + C4": [str(dt_python), str(ROOT / "benchmarks" /
                                                                            "_datatrove_filters.py"),
                                                            str(docs), str(workers)],
        }
        runs: dict[str, list[tuple[float, int, dict]]] = {m: [] for m in methods}
        for r in range(rounds):
            for method, cmd in methods.items():
                with (DATA / f"{name}.log").open("a") as log:  # the peers' progress logs, kept out of the table
                    _, peak, out = run_measured(cmd, cwd=ROOT, stderr=log)
                res = json.loads(out.strip().splitlines()[-1])
                runs[method].append((res["seconds"], peak, res))
                print(f"  [{name} round {r + 1}] {method}: {res['docs'] / res['seconds']:,.0f} docs/s, "
                      f"peak {peak / 2**20:,.0f} MiB", flush=True)
        print(f"\n{name}: {len(records):,} records, {workers} worker processes, {rounds} rounds alternating")
        print(f"{'method':<46} {'docs/s':>15} {'tree peak MiB':>15} {'kept':>8}  rejects (reason: count)")
        for method, rs in runs.items():
            rates = sorted(res["docs"] / secs for secs, _, res in rs)
            peaks = sorted(p / 2**20 for _, p, _ in rs)
            last = rs[-1][2]
            rej = "; ".join(f"{k}: {v:,}" for k, v in list(last["rejects"].items())[:6])
            print(f"{method:<46} {rates[0]:>7,.0f}-{rates[-1]:<7,.0f} {peaks[0]:>7,.0f}-{peaks[-1]:<7,.0f} "
                  f"{last['kept']:>8,}  {rej}")
        print()


def baseline(records: list[dict]) -> int:
    """The same rules, the obvious way: a pandas apply, one process."""
    import ftfy
    import pandas as pd
    from langdetect import DetectorFactory, detect_langs
    from phonenumbers import Leniency, PhoneNumberMatcher

    from curation.phi.phones import regions_for
    from curation.steps.normalize import html_to_text
    from curation.steps.pii import PATTERNS
    from curation.steps.quality import Quality

    DetectorFactory.seed = 0
    pii = [(name, re.compile(p)) for name, p in PATTERNS]
    quality = Quality()

    def clean_text(s: str) -> str:
        s = ftfy.fix_text(s)
        if "<" in s or "&" in s:
            s = html_to_text(s)
        s = unicodedata.normalize("NFKC", s)
        s = re.sub(r"[^\S\n]+", " ", s)
        return re.sub(r"\n\s*\n(\s*\n)+", "\n\n", s).strip()

    def scrub_phones(s: str, lang: str) -> str:
        """libphonenumber's matcher over the whole text, once per region of the language (no prefilter)."""
        for region in regions_for(lang, s):
            for m in reversed(list(PhoneNumberMatcher(s, region, leniency=Leniency.VALID))):
                s = s[:m.start] + "<PHONE>" + s[m.end:]
        return s

    def row(rec: dict) -> bool:
        for m in rec["messages"]:
            m["content"] = clean_text(m["content"])
        full = "\n".join(m["content"] for m in rec["messages"])
        try:
            rec["lang"] = detect_langs(full)[0].lang
            roles = [detect_langs(m["content"])[0].lang for m in rec["messages"]]
        except Exception:
            return False
        for m in rec["messages"]:
            for name, pat in pii:
                m["content"] = pat.sub(f"<{name}>", m["content"])
            m["content"] = scrub_phones(m["content"], rec["lang"])
        q = quality.measure(rec)
        return not quality.decide(q, rec.get("task")) and len(set(roles)) >= 1

    df = pd.DataFrame({"rec": records})
    kept = df["rec"].apply(row)
    return int(kept.sum())


def chain(records: list[dict], baseline_records: int) -> None:
    """The whole cleaning chain, 1 and 2 processes, against the pandas baseline."""
    import copy

    from curation.ledger import Ledger
    from curation.pipeline import build_steps, run_steps

    steps = [("normalize", None), ("langid", None), ("pii", None), ("quality", None)]
    results = []
    for workers in (1, 2):
        recs = copy.deepcopy(records)
        t = time.perf_counter()
        kept = run_steps(recs, build_steps(steps), rejects=None, ledger=Ledger(), workers=workers)
        secs = time.perf_counter() - t
        results.append((f"medcurate chain, {workers} process{'es' if workers > 1 else ''}", len(recs), secs))
        print(f"  {workers} workers: {len(kept):,} of {len(recs):,} kept in {secs:.1f}s", flush=True)
    sub = copy.deepcopy(records[:baseline_records])
    t = time.perf_counter()
    n_kept = baseline(sub)
    secs = time.perf_counter() - t
    print(f"  baseline: {n_kept:,} of {len(sub):,} kept in {secs:.1f}s", flush=True)
    results.append(("baseline: pandas apply of the same rules, 1 process", len(sub), secs))

    base_rate = results[-1][1] / results[-1][2]
    print(f"\n{'method':<56} {'records':>9} {'seconds':>8} {'records/s':>10} {'vs baseline':>12}")
    for name, n, s in results:
        print(f"{name:<56} {n:>9,} {s:>8.1f} {n / s:>10,.0f} {n / s / base_rate:>11.1f}x")
    one, two = results[0][1] / results[0][2], results[1][1] / results[1][2]
    print(f"\n2 processes vs 1: {two / one:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000, help="records per corpus for the peer comparison")
    ap.add_argument("--documents", type=int, default=None, help="documents in the second corpus (--records)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chain-records", type=int, default=200_000, help="0 skips the chain and its baseline")
    ap.add_argument("--baseline-records", type=int, default=20_000)
    ap.add_argument("--worker", nargs=3, metavar=("MODE", "FILE", "WORKERS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        quality_worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return
    if args.records:
        peers({"qa": generate(args.records), "documents": documents(args.documents or args.records)},
              args.rounds, args.workers)
    if args.chain_records:
        chain(generate(args.chain_records), args.baseline_records)


if __name__ == "__main__":
    main()
