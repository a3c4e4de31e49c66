"""The CPU steps of a recipe on the local executor and on Ray (a local Ray instance on this machine), in one run.

Run: .venv/bin/python benchmarks/scale.py [--sizes 250000,500000,1000000] [--local-sizes 1000000] [--cpus 2]

Each run is a fresh `medcurate run` of the whole recipe (read → normalize → pii → dedupe → decontaminate,
then a two-stage mixture with validation, upsampling and replay, and the export: parquet shards,
`save_to_disk`, statistics, charts, curated.parquet; nothing cached) in its own process, the driver.
Reports wall time, the driver's peak resident memory (that process alone, sampled every 0.1 s: Ray's
workers are other processes; also its private part, without the shared libraries and object-store pages
it maps) and records per second, then Ray's time over local's at each size both ran (target: within 1.5x)
and the driver's memory across sizes (target: flat on Ray). The ledgers and the exported files of the two
executors are compared too: they must be equal.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import xxhash
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "benchmarks" / "_data" / "scale"
LAST = "decontaminate"


def recipe(executor: str, cpus: int, records: Path) -> dict:
    return {
        "name": "scale", "seed": 1, "work_dir": "work", "output": "out", "workers": cpus,
        "executor": {"type": executor, "num_cpus": cpus} if executor == "ray" else {"type": "local"},
        "sources": [{"path": str(records), "license": "CC-BY-4.0", "tags": ["qa"]}],
        "steps": [{"step": "normalize"}, {"step": "pii"}, {"step": "dedupe", "config": {"workers": cpus}},
                  {"step": "decontaminate", "config": {"benchmarks": [str(ROOT / "recipes/eval/med_mcq.jsonl")]}}],
        "mixture": {"stage1": {"validation": 0.01},
                    "stage2": {"langs": ["es", "zh", "ar"], "temperature": 2.0, "max_upsample": 2,
                               "replay": {"stage": "stage1", "fraction": 0.1}}},
        "export": {"shard_size": 50_000},
    }


def resident(pid: int) -> tuple[int, int]:
    """The process's resident memory and the private (anonymous) part of it, in bytes."""
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                fields[key] = int(value.split()[0]) * 1024
    return fields.get("VmRSS", 0), fields.get("RssAnon", 0)


def driver_run(folder: Path, executor: str) -> tuple[float, float, float]:
    """Wall seconds, and the driver process's peak RSS and peak private (anonymous) memory in GB."""
    cmd = [str(ROOT / ".venv" / "bin" / "medcurate"), "run", str(folder / executor / "recipe.yaml")]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0, 0]

    def sample() -> None:
        while proc.poll() is None:
            try:
                now = resident(proc.pid)
            except (FileNotFoundError, ProcessLookupError):
                return
            peak[:] = [max(a, b) for a, b in zip(peak, now)]
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, err = proc.communicate()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{executor} run failed:\n{err.decode()[-3000:]}")
    return time.perf_counter() - t, peak[0] / 1e9, peak[1] / 1e9


def step_seconds(folder: Path, executor: str, started: float) -> dict[str, float]:
    """Each step's wall time, from when its work-dir entry (and the one before) was committed; the mixture
    and export until the manifest, written last."""
    entries = sorted((folder / executor / "work" / "steps").glob("[0-9]*"))
    reads = list((folder / executor / "work" / "read").glob("*/done.json"))
    out, before = {}, max((p.stat().st_mtime for p in reads), default=started)
    out["read"] = before - started
    for entry in entries:
        done = (entry / "done.json").stat().st_mtime
        out[entry.name.split("-")[1]] = done - before
        before = done
    out["mixture+export"] = (folder / executor / "out" / "manifest.json").stat().st_mtime - before
    return out


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): xxhash.xxh3_128_hexdigest(p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def ledger(folder: Path, executor: str) -> dict:
    steps = sorted((folder / executor / "work" / "steps").glob(f"*-{LAST}-*"))
    return orjson.loads((steps[-1] / "ledger.json").read_bytes())


def main() -> None:
    from benchmarks.run import write_input

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="250000,500000,1000000", help="Record counts run on Ray.")
    ap.add_argument("--local-sizes", default="1000000", help="Record counts also run locally.")
    ap.add_argument("--cpus", type=int, default=2)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    local_sizes = {int(s) for s in args.local_sizes.split(",") if s}
    rows, results = [], {}
    for n in sizes:
        folder = DATA / str(n)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "records.jsonl").exists():
            print(f"generating {n:,} records ...", flush=True)
            write_input(n, folder / "records.jsonl")
        for executor in (["local"] if n in local_sizes else []) + ["ray"]:
            shutil.rmtree(folder / executor, ignore_errors=True)  # each executor's recipe, work dir and output
            (folder / executor).mkdir()
            spec = recipe(executor, args.cpus, folder / "records.jsonl")
            (folder / executor / "recipe.yaml").write_text(yaml.safe_dump(spec))
            started = time.time()
            wall, peak, heap = driver_run(folder, executor)
            results[(n, executor)] = (wall, peak, heap)
            rows.append(f"| {n:,} | {executor} | {wall:.1f} | {n / wall:,.0f} | {peak:.2f} GB | {heap:.2f} GB |")
            print(rows[-1], flush=True)
            seconds = step_seconds(folder, executor, started)
            print("  per step: " + ", ".join(f"{k} {v:.1f} s ({1e6 * v / n:.0f} µs/record)"
                                             for k, v in seconds.items()), flush=True)
        if n in local_sizes:
            same = ledger(folder, "local") == ledger(folder, "ray")
            print(f"{n:,}: ledgers of local and ray {'equal' if same else 'DIFFER'}", flush=True)
            local, ray = tree_digest(folder / "local" / "out"), tree_digest(folder / "ray" / "out")
            differ = sorted(k for k in local.keys() | ray.keys() if local.get(k) != ray.get(k))
            print(f"{n:,}: exports of local and ray " + (f"DIFFER in {differ}" if differ else "byte-identical")
                  + f" ({len(ray)} files)", flush=True)
        for executor in ("local", "ray"):
            shutil.rmtree(folder / executor, ignore_errors=True)
    print(f"\nsteps: read, normalize, pii, dedupe, decontaminate, mixture and export; {args.cpus} CPUs for each "
          "executor")
    print("| records | executor | seconds | records/s | driver peak RSS | driver peak private |\n"
          "|---:|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    for n in sorted(local_sizes & set(sizes)):
        ratio = results[(n, "ray")][0] / results[(n, "local")][0]
        print(f"{n:,} records: ray / local wall time = {ratio:.2f}x (target <= 1.5x)")
    for k, what in ((1, "peak RSS"), (2, "peak private memory")):
        peaks = [results[(n, "ray")][k] for n in sizes]
        print(f"ray driver {what} by size: " + ", ".join(f"{n:,}: {p:.2f} GB" for n, p in zip(sizes, peaks))
              + f"; largest / smallest = {max(peaks) / min(peaks):.2f}")


if __name__ == "__main__":
    main()
