"""A whole recipe run (the CPU steps, no LLM) over generated records, then the same run again, all cached.

Run: .venv/bin/python benchmarks/run.py [--records 500000] [--workers 2]

Reports wall time, peak memory (PSS of the `medcurate run` process and its workers) and records per second of the
first run, the time of the second run as a share of the first (target: under 5%), and the first run's time
per stage (from the times the work dir's entries finished).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

import orjson
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "benchmarks" / "_data" / "run"


def write_input(n: int, path: Path) -> None:
    """70% English records with unique generated answers, 30% Spanish, Chinese and Arabic records built on the
    sample QA pool (near duplicates of each other, as real translated collections are), 4% exact copies."""
    from benchmarks._corpus import medical_sentence
    from benchmarks.clean import generate

    pool = generate(max(1, n * 3 // 10), seed=11)
    rng = random.Random(5)
    rows: list[dict] = []
    for i in range(n):
        if i % 25 == 24:
            rows.append(rows[rng.randrange(i)])
        elif i % 10 < 3:
            rows.append({"messages": pool[(i // 10) * 3 + i % 10]["messages"]})
        else:
            q = f"{medical_sentence(rng, 8, 14)}: what is the recommended management?"
            a = ". ".join(medical_sentence(rng, 10, 20) for _ in range(rng.randint(3, 6))) + "."
            rows.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
    with open(path, "wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))


def recipe(workers: int) -> dict:
    return {
        "name": "bench", "seed": 1, "work_dir": "work", "output": "out", "workers": workers,
        "sources": [{"path": "records.jsonl", "license": "CC-BY-4.0", "tags": ["qa"]}],
        "steps": [{"step": "normalize"}, {"step": "langid"}, {"step": "pii"}, {"step": "quality"},
                  {"step": "dedupe", "config": {"workers": workers}}],
        "mixture": {"stage1": {"temperature": 2.0, "validation": 0.01},
                    "stage2": {"size": 20000, "replay": {"stage": "stage1", "fraction": 0.1}}},
        "export": {"charts": True},
    }


def stage_ends(folder: Path) -> list[tuple[float, str]]:
    """When each stage of a run ended, in order, from the times the work dir's entries finished (reading each
    source, then each step; the mixture and export end with the manifest)."""
    ends = []
    for done in [*(folder / "work" / "read").glob("*/done.json"), *(folder / "work" / "steps").glob("*/done.json")]:
        info = orjson.loads(done.read_bytes())
        ends.append((info["finished"], "read" if done.parent.parent.name == "read" else info.get("id", info["step"])))
    manifest = folder / "out" / "manifest.json"
    if manifest.exists():
        ends.append((manifest.stat().st_mtime, "mixture + export"))
    return sorted(ends)


def step_seconds(folder: Path, started: float) -> list[tuple[str, float]]:
    """Each stage of the first run and its seconds."""
    ends = stage_ends(folder)
    return [(name, end - prev) for (end, name), prev in zip(ends, [started, *(e for e, _ in ends)])]


def timed_run(folder: Path) -> tuple[float, float]:
    """Wall seconds and the peak memory (GB, PSS of the whole process tree: the run and its worker processes)
    of one `medcurate run` in a fresh child process."""
    from benchmarks.scale import timed_run as sampled_run
    from benchmarks.scale import tree_memory

    cmd = [str(ROOT / ".venv" / "bin" / "medcurate"), "run", str(folder / "recipe.yaml")]
    seconds, peak = sampled_run(cmd, lambda pid: (tree_memory(pid),), period=0.2)
    return seconds, (peak[0] if peak else 0) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    folder = DATA / f"{args.records}"
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "records.jsonl"
    if not data.exists():
        print(f"generating {args.records:,} records ...", flush=True)
        write_input(args.records, data)
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe(args.workers), sort_keys=False))
    for sub in ("work", "out"):
        shutil.rmtree(folder / sub, ignore_errors=True)
    print(f"input: {data.stat().st_size / 1e6:.0f} MB, {args.records:,} records; workers {args.workers}", flush=True)
    started = time.time()
    first, peak = timed_run(folder)
    steps = step_seconds(folder, started)
    second, _ = timed_run(folder)
    manifest = orjson.loads((folder / "out" / "manifest.json").read_bytes())
    kept = manifest["ledger"]["dedupe"]["kept"]
    print("| run | seconds | records/s | tree peak PSS |\n|---|---:|---:|---:|")
    print(f"| first (nothing cached) | {first:.1f} | {args.records / first:,.0f} | {peak:.2f} GB |")
    print(f"| second (all cached) | {second:.2f} | | |")
    print(f"second run / first run: {100 * second / first:.2f}% (target < 5%)")
    print("\n| first run, stage | seconds | records/s |\n|---|---:|---:|")
    for name, seconds in steps:
        print(f"| {name} | {seconds:.1f} | {args.records / max(seconds, 1e-9):,.0f} |")
    print(f"kept after dedupe: {kept:,}; stage1 train {manifest['stages']['stage1']['train']:,}, "
          f"stage2 train {manifest['stages']['stage2']['train']:,}")


if __name__ == "__main__":
    main()
