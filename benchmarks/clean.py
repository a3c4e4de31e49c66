"""The cleaning chain (normalize + langid + pii + quality) against the obvious pandas `apply` of the same rules.

Run: .venv/bin/python benchmarks/clean.py [--records 200000] [--baseline-records 20000]

The baseline applies the same rules one record at a time the straightforward way: ftfy on every text,
HTML parsing wherever a '<' appears, langdetect on the whole text and on each role, one regex pass per PII
type and libphonenumber's matcher over every text for each region of its language, and the same quality
measurements. It is far slower, so by default it runs on the first 20,000 records and its records per second
are compared (the rate does not depend on the count).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "recipes" / "data"))

from content import AR_QA, EN_QA, ES_QA, ZH_QA  # noqa: E402

from benchmarks._corpus import medical_sentence  # noqa: E402

NOISE = ["", "", "", " Contact dr.lee@clinic-example.org.", " Call +1 415-555-0100.", "<p>See your doctor.</p>",
         " Don’t stop suddenly."]


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--baseline-records", type=int, default=20_000)
    args = ap.parse_args()

    import copy

    from curation.ledger import Ledger
    from curation.pipeline import build_steps, run_steps

    chain = [("normalize", None), ("langid", None), ("pii", None), ("quality", None)]
    records = generate(args.records)
    results = []
    for workers in (1, 2):
        recs = copy.deepcopy(records)
        t = time.perf_counter()
        kept = run_steps(recs, build_steps(chain), rejects=None, ledger=Ledger(), workers=workers)
        secs = time.perf_counter() - t
        results.append((f"medcurate chain, {workers} process{'es' if workers > 1 else ''}", len(recs), secs))
        print(f"  {workers} workers: {len(kept):,} of {len(recs):,} kept in {secs:.1f}s", flush=True)
    sub = copy.deepcopy(records[: args.baseline_records])
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


if __name__ == "__main__":
    main()
