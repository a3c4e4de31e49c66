"""Language identification on real medical benchmarks: both backends side by side.

Run: .venv/bin/python benchmarks/langid.py [--data ../shared/data] [--limit N]
Apollo MedBench files are read with medcurate's reader (question + options as the user turn); PubMedQA items
become question / long-answer pairs, so mixed-language checks run on them. For every file and backend it
prints the share labelled with the file's language, the share rejected (with defaults every reject is for a
language reason: unknown, low confidence or mixed), the labels found instead, and records per second of the
langid step alone.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from curation.io.reader import read_records  # noqa: E402
from curation.record import make_record  # noqa: E402
from curation.steps.base import Reject  # noqa: E402
from curation.steps.langid import Langid, LangidConfig  # noqa: E402


def apollo(path: Path) -> list[dict[str, Any]]:
    """Every item of an Apollo file as medcurate reads it."""
    return list(read_records(str(path)))


def pubmedqa(path: Path) -> list[dict[str, Any]]:
    """PubMedQA question / long-answer pairs as instruction records (English on both sides)."""
    items = orjson.loads(path.read_bytes())
    return [make_record("pubmedqa", "instruction", messages=[
        {"role": "user", "content": it["QUESTION"]}, {"role": "assistant", "content": it["LONG_ANSWER"]}])
        for it in items.values()]


def measure(records: list[dict[str, Any]], lang: str, backend: str) -> dict[str, Any]:
    """Accuracy against `lang`, reject counts by reason, other labels and throughput for one backend."""
    step = Langid(LangidConfig(backend=backend))
    step.load_resources()  # the identifier is loaded before the clock starts
    right, reasons, others = 0, Counter(), Counter()
    start = time.perf_counter()
    for rec in records:
        rec = {**rec, "meta": {}, "lang": None}
        try:
            step.process(rec)
        except Reject as r:
            reasons[r.reason] += 1
        got = rec["meta"]["langid"]["lang"]
        right += got == lang
        if got != lang:
            others[got] += 1
    elapsed = time.perf_counter() - start
    n = len(records)
    return {"n": n, "acc": right / n, "rejected": sum(reasons.values()) / n, "reasons": dict(reasons),
            "others": dict(others.most_common(4)), "rps": n / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=0, help="seeded sample of at most this many records per file")
    args = ap.parse_args()
    data = Path(args.data)
    files = [(p, p.stem, apollo) for split in ("dev", "test")
             for p in sorted((data / "apollo-medbench" / split).glob("*.json"))]
    files.append((data / "pubmedqa" / "ori_pqal.json", "en", pubmedqa))
    print(f"{'file':<28}{'lang':<5}{'n':>6}  {'backend':<11}{'acc':>8}{'reject':>8}{'rec/s':>10}"
          "  reasons / other labels")
    for path, lang, load in files:
        records = load(path)
        if args.limit and len(records) > args.limit:
            records = random.Random(0).sample(records, args.limit)
        name = "/".join(path.parts[-2:])
        for backend in ("fasttext", "langdetect"):
            m = measure(records, lang, backend)
            print(f"{name:<28}{lang:<5}{m['n']:>6}  {backend:<11}{m['acc']:>8.2%}{m['rejected']:>8.2%}"
                  f"{m['rps']:>10.0f}  {m['reasons'] or ''} {m['others'] or ''}")


if __name__ == "__main__":
    main()
