"""Calibration on real medical data: what each default step rejects on curated, public medical records.

Every record in these files is real and medical, so every reject is a false rejection. For each file it runs
the default `medcurate clean` chain and each of its steps alone, and prints, per file and language: records
in, records unreadable, rejects per reason with two examples each, langid accuracy against the file's
language, and records/s. Apollo's dev sets are the calibration part (defaults were chosen on them) and its
test sets the report part; PubMedQA is split into its first and last 500 items the same way.

    .venv/bin/python benchmarks/real_data.py [--data ../shared/data] [--out table.md]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from curation.commands import CLEAN_CHAIN
from curation.io.reader import read_records
from curation.ledger import Ledger
from curation.pipeline import build_steps, process_records
from curation.rejects import RejectWriter, read_rejects


def sources(data: Path, tmp: Path) -> list[tuple[str, str, str, Path]]:
    """(name, part, language, path) for every real file; PubMedQA is cut into a calibration and a report half."""
    out = []
    for part in ("dev", "test"):
        for path in sorted((data / "apollo-medbench" / part).glob("*.json")):
            out.append((f"apollo {part}/{path.stem}", "calibration" if part == "dev" else "report", path.stem, path))
    pqa = data / "pubmedqa" / "ori_pqal.json"
    if pqa.exists():
        items = list(json.loads(pqa.read_text(encoding="utf-8")).items())
        for half, part, chunk in (("1-500", "calibration", items[:500]), ("501-1000", "report", items[500:])):
            path = tmp / f"pubmedqa-{half}.json"
            path.write_text(json.dumps(dict(chunk), ensure_ascii=False), encoding="utf-8")
            out.append((f"pubmedqa {half}", part, "en", path))
    return out


def user_text(record: dict) -> str:
    for m in record.get("messages") or []:
        if m["role"] == "user":
            return m["content"]
    return record.get("text") or ""


def run_chain(names: tuple[str, ...], records: list[dict]) -> tuple[dict[str, list[dict]], float, list[dict]]:
    """Rejected records per 'step: reason', the seconds taken, and the records kept."""
    steps = build_steps([(n, None) for n in names])
    records = copy.deepcopy(records)
    rejected: dict[str, list[dict]] = defaultdict(list)
    start = time.perf_counter()
    for step in steps:
        if step.scope == "global":
            result = step.apply(records)
            records, rej = result.kept, result.rejected
        else:
            records, rej = process_records(step, records)
        for rec, r in rej:
            rejected[f"{step.name}: {r.reason}"].append(rec)
    return rejected, time.perf_counter() - start, records


def langid_accuracy(records: list[dict], lang: str) -> tuple[float, Counter]:
    (step,) = build_steps([("langid", None)])
    recs = copy.deepcopy(records)
    step.load_resources()
    got: Counter = Counter()
    for rec in recs:
        with contextlib.suppress(Exception):  # a reject still labelled the record
            step.process(rec)
        got[(rec.get("meta", {}).get("langid") or {}).get("lang")] += 1
    return got[lang] / max(1, len(recs)), got


def measure(name: str, part: str, lang: str, path: Path, tmp: Path) -> dict:
    rejects = tmp / f"{path.stem}.read.rejects.jsonl"
    with RejectWriter(rejects) as rw:
        records = read_records(str(path), rejects=rw, ledger=Ledger())
    unreadable = len(read_rejects(rejects)) if rejects.exists() else 0
    chain, seconds, _ = run_chain(CLEAN_CHAIN, records)
    alone = {n: run_chain((n,), records) for n in CLEAN_CHAIN}
    acc, labels = langid_accuracy(records, lang)
    return {"name": name, "part": part, "lang": lang, "n": len(records) + unreadable, "read": len(records),
            "unreadable": unreadable, "chain": chain, "rps": len(records) / max(seconds, 1e-9),
            "alone": {n: (sum(map(len, r.values())), len(records) / max(s, 1e-9)) for n, (r, s, _) in alone.items()},
            "langid_acc": acc, "labels": labels}


def pct(k: int, n: int) -> str:
    return f"{100 * k / max(1, n):.1f}%"


def report(rows: list[dict]) -> str:
    steps = " | ".join(f"{n} alone" for n in CLEAN_CHAIN)
    lines = [f"| file | part | lang | records | unreadable | chain rejected | {steps} | langid acc | chain rec/s |",
             "|---|---|---|---:|---:|---:|" + "---:|" * len(CLEAN_CHAIN) + "---:|---:|"]
    for r in rows:
        rej = sum(map(len, r["chain"].values()))
        alone = " | ".join(pct(r["alone"][n][0], r["read"]) for n in CLEAN_CHAIN)
        lines.append(f"| {r['name']} | {r['part']} | {r['lang']} | {r['n']:,} | {r['unreadable']} | "
                     f"{pct(rej, r['read'])} | {alone} | {100 * r['langid_acc']:.2f}% | {r['rps']:,.0f} |")
    lines += ["", "Rejects of the default chain per reason, two examples each:", ""]
    for r in rows:
        for reason, recs in sorted(r["chain"].items(), key=lambda kv: -len(kv[1])):
            examples = " / ".join(repr(user_text(x)[:90]) for x in recs[:2])
            lines.append(f"- {r['name']}: **{reason}** {len(recs)} ({pct(len(recs), r['read'])}): {examples}")
    lines += ["", "Languages langid gave where the file's language was not given:", ""]
    for r in rows:
        other = {k: v for k, v in r["labels"].items() if k != r["lang"]}
        if other:
            lines.append(f"- {r['name']}: {dict(sorted(other.items(), key=lambda kv: -kv[1]))}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--only", default=None, help="Only files whose name contains this.")
    ap.add_argument("--out", type=Path, default=None, help="Also write the Markdown table here.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        rows = [measure(*s, tmp) for s in sources(args.data, tmp) if not args.only or args.only in s[0]]
    text = report(rows)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
