"""The CPU steps of a recipe on the local executor and on Ray (a local Ray instance on this machine), in one run.

Run: .venv/bin/python benchmarks/scale.py [--sizes 250000,500000,1000000] [--local-sizes 1000000] [--cpus 2]
     .venv/bin/python benchmarks/scale.py --sizes 250000,1000000,2000000 --local-only

Each run is a fresh `medcurate run` of the whole recipe (read → normalize → pii → dedupe → decontaminate,
then a two-stage mixture with validation, upsampling and replay, and the export: parquet shards,
`save_to_disk`, statistics, charts, curated.parquet; nothing cached) in its own process, the driver.
Reports wall time, the driver's peak resident memory (that process alone, sampled every 0.1 s: Ray's
workers are other processes; also its private part, without the shared libraries and object-store pages
it maps), the peak proportional memory of its whole process tree (worker processes included) and records
per second, then Ray's time over local's at each size both ran (target: within 1.5x)
and the driver's memory across sizes (target: flat on Ray). The ledgers and the exported files of the two
executors are compared too: they must be equal.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
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


def proportional(pid: int) -> int:
    """The process's proportional set size in bytes: shared pages divided among the processes sharing them, so
    a process tree's sum counts each page once."""
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def tree_of(root: int) -> list[int]:
    """The process and all its descendants (the local executor's worker processes, forked or from a forkserver)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def tree_memory(root: int) -> int:
    total = 0
    for pid in tree_of(root):
        with contextlib.suppress(OSError):  # ended between the listing and the read
            total += proportional(pid)
    return total


def timed_run(cmd: list[str], measure: Callable[[int], tuple[int, ...]], period: float = 0.1,
              cwd: Path | None = None) -> tuple[float, list[int]]:
    """Run `cmd`, sampling `measure(pid)` every `period` seconds; its wall seconds and each measure's peak."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak: list[int] = []

    def sample() -> None:
        while proc.poll() is None:
            try:
                now = measure(proc.pid)
            except (FileNotFoundError, ProcessLookupError):
                return
            peak[:] = [max(a, b) for a, b in zip(peak, now)] if peak else list(now)
            time.sleep(period)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, err = proc.communicate()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[-3:])} failed:\n{err.decode()[-3000:]}")
    return time.perf_counter() - t, peak


def driver_run(folder: Path, executor: str) -> tuple[float, float, float, float]:
    """Wall seconds, the driver process's peak RSS and peak private (anonymous) memory, and the peak PSS of
    its whole process tree (the driver and every process it started: worker processes, a Ray instance), in
    GB."""
    cmd = [str(ROOT / ".venv" / "bin" / "medcurate"), "run", str(folder / executor / "recipe.yaml")]
    seconds, peak = timed_run(cmd, lambda pid: (*resident(pid), tree_memory(pid)))
    rss, anon, tree = (p / 1e9 for p in (peak or [0, 0, 0]))
    return seconds, rss, anon, tree


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
    ap.add_argument("--local-only", action="store_true", help="Run the local executor alone, at every size.")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    local_sizes = set(sizes) if args.local_only else {int(s) for s in args.local_sizes.split(",") if s}
    executors_at = {n: (["local"] if n in local_sizes else []) + ([] if args.local_only else ["ray"]) for n in sizes}
    rows, results = [], {}
    for n in sizes:
        folder = DATA / str(n)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "records.jsonl").exists():
            print(f"generating {n:,} records ...", flush=True)
            write_input(n, folder / "records.jsonl")
        for executor in executors_at[n]:
            shutil.rmtree(folder / executor, ignore_errors=True)  # each executor's recipe, work dir and output
            (folder / executor).mkdir()
            spec = recipe(executor, args.cpus, folder / "records.jsonl")
            (folder / executor / "recipe.yaml").write_text(yaml.safe_dump(spec))
            started = time.time()
            wall, peak, heap, tree = driver_run(folder, executor)
            results[(n, executor)] = (wall, peak, heap, tree)
            rows.append(f"| {n:,} | {executor} | {wall:.1f} | {n / wall:,.0f} | {peak:.2f} GB | {heap:.2f} GB | "
                        f"{tree:.2f} GB |")
            print(rows[-1], flush=True)
            seconds = step_seconds(folder, executor, started)
            print("  per step: " + ", ".join(f"{k} {v:.1f} s ({1e6 * v / n:.0f} µs/record)"
                                             for k, v in seconds.items()), flush=True)
        if len(executors_at[n]) == 2:
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
    print("| records | executor | seconds | records/s | driver peak RSS | driver peak private | tree peak PSS |\n"
          "|---:|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    for n in sizes:
        if len(executors_at[n]) == 2:
            ratio = results[(n, "ray")][0] / results[(n, "local")][0]
            print(f"{n:,} records: ray / local wall time = {ratio:.2f}x (target <= 1.5x)")
    for executor, k, what in (("ray", 1, "driver peak RSS"), ("ray", 2, "driver peak private memory"),
                              ("local", 3, "process tree peak PSS")):
        peaks = [(n, results[(n, executor)][k]) for n in sizes if (n, executor) in results]
        if peaks:
            print(f"{executor} {what} by size: " + ", ".join(f"{n:,}: {p:.2f} GB" for n, p in peaks)
                  + f"; largest / smallest = {max(p for _, p in peaks) / min(p for _, p in peaks):.2f}")


if __name__ == "__main__":
    main()
