"""The pii step: recall per type and language, replacements on real medical text with no personal data, speed.

Run: .venv/bin/python benchmarks/pii.py [--seed 2026] [--part test] [--show 40]

1. Recall: the generated corpus of `tests/test_pii.py` on a fresh seed (phones in every country x layout,
   e-mails, URLs, dates of birth and of admission/discharge/death in en, es, fr, zh, ar ...), per type x
   language, with the record's language given and without it, for this step and for the step at git HEAD.
2. False positives: replacements per 1,000 records on real medical text that holds no personal data, Apollo
   MedBench (`--part test` or `dev`, every language) and PubMedQA (items 501-1000 for test, 1-500 for dev),
   from `../shared/data`. Every replacement is printed with its context (`--show`), so it can be judged.
3. Speed: records per second of the step on those real records, and on generated records with planted
   identifiers, now and at git HEAD (its source is read with `git show HEAD:curation/steps/pii.py`).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.io.reader import read_records  # noqa: E402
from curation.record import make_record  # noqa: E402
from curation.steps.base import STEPS  # noqa: E402
from curation.steps.pii import Pii  # noqa: E402
from tests.test_pii import Case, caught, generate_cases  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
APOLLO_LANGS = ("en", "zh", "es", "fr", "ar", "hi")


def baseline_class() -> type:
    """The pii step class as committed at HEAD, loaded from git without touching the working tree."""
    source = subprocess.run(["git", "show", "HEAD:curation/steps/pii.py"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    spec = importlib.util.spec_from_loader("curation.steps._pii_head", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "curation.steps"
    current = STEPS.get("pii")
    exec(compile(source, "HEAD:curation/steps/pii.py", "exec"), module.__dict__)  # noqa: S102
    STEPS["pii"] = current  # the registry keeps this step; the old class is used only here
    return module.Pii


def chain_rate(records: list[dict], pii_class: type) -> float:
    """Records per second of the cleaning chain (normalize, langid, pii, quality) in one process."""
    from curation.ledger import Ledger
    from curation.pipeline import build_steps, run_steps

    current = STEPS["pii"]
    STEPS["pii"] = pii_class
    try:
        recs = copy.deepcopy(records)
        t = time.perf_counter()
        run_steps(recs, build_steps([("normalize", None), ("langid", None), ("pii", None), ("quality", None)]),
                  rejects=None, ledger=Ledger(), workers=1)
        return len(recs) / (time.perf_counter() - t)
    finally:
        STEPS["pii"] = current


def scrub(step: object, case: Case, with_lang: bool) -> bool:
    if isinstance(step, Pii):
        return caught(step, case, with_lang)
    out = step.scrub(case.text, {})  # the HEAD step takes no language
    return case.value not in out and f"<{case.kind}>" in out


def recall_table(cases: list[Case], steps: dict[str, object]) -> None:
    langs = sorted({c.lang for c in cases})
    kinds = sorted({c.kind for c in cases})
    for name, step in steps.items():
        for with_lang in ((True, False) if isinstance(step, Pii) else (False,)):
            label = f"{name}, {'language given' if with_lang else 'no language'}"
            print(f"\nrecall: {label}\n| type | " + " | ".join(langs) + " | all |\n|" + "---|" * (len(langs) + 2))
            for kind in kinds:
                row, tot = [], [0, 0]
                for lang in langs:
                    sel = [c for c in cases if c.kind == kind and c.lang == lang]
                    hit = sum(scrub(step, c, with_lang) for c in sel)
                    tot[0] += hit
                    tot[1] += len(sel)
                    row.append(f"{hit / len(sel):.1%}" if sel else "-")
                print(f"| {kind} | " + " | ".join(row) + f" | {tot[0] / tot[1]:.1%} ({tot[0]}/{tot[1]}) |")


def real_records(part: str) -> list[dict]:
    """Apollo MedBench (every language file of the part) and PubMedQA's half for that part, language set."""
    out = []
    for lang in APOLLO_LANGS:
        path = DATA / "apollo-medbench" / part / f"{lang}.json"
        if path.exists():
            for r in read_records(str(path)):
                r["lang"] = lang
                out.append(r)
    pubmed = list(read_records(str(DATA / "pubmedqa" / "ori_pqal.json")))
    for r in pubmed[500:] if part == "test" else pubmed[:500]:
        r["lang"] = "en"
        out.append(r)
    return out


def false_positives(records: list[dict], step: Pii, show: int) -> None:
    per_source: dict[str, Counter] = defaultdict(Counter)
    n_source: Counter = Counter()
    shown = 0
    for rec in records:
        src = f"{rec['source']}:{rec['lang']}"
        n_source[src] += 1
        for m in rec["messages"] or []:
            counts: dict[str, int] = {}
            out = step.scrub(m["content"], counts, rec["lang"])
            per_source[src].update(counts)
            if counts and shown < show:
                shown += 1
                print(f"  [{src} {rec['meta']['provenance']['locator']}] {counts}: {_diff(m['content'], out)}")
    total = sum(n_source.values())
    print("\n| source | records | replacements | per 1,000 records | by type |\n|---|---|---|---|---|")
    for src in sorted(n_source):
        c = per_source[src]
        print(f"| {src} | {n_source[src]:,} | {sum(c.values())} | {1000 * sum(c.values()) / n_source[src]:.2f} | "
              f"{dict(c) or '-'} |")
    allc = sum((per_source[s] for s in per_source), Counter())
    print(f"| all | {total:,} | {sum(allc.values())} | {1000 * sum(allc.values()) / total:.2f} | {dict(allc)} |")


def _diff(before: str, after: str) -> str:
    """The first placeholder in context, with what it replaced."""
    i = after.find("<")
    while i >= 0 and not after[i:].split(">")[0][1:].isupper():
        i = after.find("<", i + 1)
    if i < 0:
        return after[:120]
    j = len(after) - len(after[i:].split(">", 1)[1])
    tail = len(after) - j
    return f"...{after[max(0, i - 50):j + 30]}...  (was: {before[i:len(before) - tail]!r})"


def rate(step: object, records: list[dict]) -> float:
    """Records per second of one step instance over copies of the records (a fresh instance: no warm cache)."""
    work = copy.deepcopy(records)
    t = time.perf_counter()
    for rec in work:
        step.process(rec)
    return len(records) / (time.perf_counter() - t)


def _rate_of(step_class: type, records: list[dict]) -> float:
    return rate(step_class(), records)


def best_of(measure, *args, times: int = 2) -> float:
    """The best of a few runs: on a shared machine the slowest runs measure the neighbours."""
    return max(measure(*args) for _ in range(times))


def planted_records(cases: list[Case]) -> list[dict]:
    return [make_record("bench", "instruction", lang=c.lang, messages=[
        {"role": "user", "content": "I have a question about my treatment. " + c.text},
        {"role": "assistant", "content": "Take 500 mg twice daily with food; BP 130/85 is acceptable."}])
        for c in cases]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--part", choices=["test", "dev"], default="test")
    ap.add_argument("--show", type=int, default=40, help="replacements on real text to print for inspection")
    ap.add_argument("--chain-records", type=int, default=4000, help="records of benchmarks/clean.py's corpus")
    args = ap.parse_args()

    head_class = baseline_class()
    now, head = Pii(), head_class()
    cases = generate_cases(args.seed)
    print(f"generated corpus, seed {args.seed}: {len(cases):,} identifiers")
    recall_table(cases, {"this step": now, "HEAD step": head})

    records = real_records(args.part)
    print(f"\nreal text with no personal data ({args.part}): {len(records):,} records; replacements:")
    false_positives(records, now, args.show)

    planted = planted_records(cases)
    print("\n| records | HEAD records/s | this step records/s | ratio |\n|---|---|---|---|")
    for name, recs in ((f"real ({args.part})", records), ("generated, one identifier each", planted)):
        r_head, r_now = best_of(_rate_of, head_class, recs), best_of(_rate_of, Pii, recs)
        print(f"| {name} ({len(recs):,}) | {r_head:,.0f} | {r_now:,.0f} | {r_now / r_head:.2f}x |")

    sys.path.insert(0, str(ROOT / "recipes" / "data"))
    from benchmarks.clean import generate

    chain = generate(args.chain_records)
    chain_rate(chain[:200], Pii)  # loads the language model once, outside the timings
    c_head, c_now = best_of(chain_rate, chain, head_class), best_of(chain_rate, chain, Pii)
    print(f"| cleaning chain, benchmarks/clean.py corpus ({len(chain):,}) | {c_head:,.0f} | {c_now:,.0f} | "
          f"{c_now / c_head:.2f}x |")


if __name__ == "__main__":
    main()
