"""Memory of a local run: wall time and the peak memory of its whole process tree, for `benchmarks/scale.py`'s
recipe on the local executor (`workers: 2`).

Run: .venv/bin/python benchmarks/local_memory.py --records 250000,1000000 --until pii
     .venv/bin/python benchmarks/local_memory.py --records 250000 --code ../other-checkout   # the same run
                                                                                             # by other code

The peak is the proportional set size (PSS) summed over the `medcurate run` process and every process it
starts (worker processes from a forkserver), sampled every 0.2 s: worker processes are not the driver, so the
driver's own resident set would miss them. `--code` runs the recipe with another checkout's `curation`
package (this project's virtual environment), so a change is measured before and after on one machine.
The inputs are generated once, as `benchmarks/scale.py` generates them, under benchmarks/_data/scale/.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.scale import DATA, recipe, timed_run, tree_memory  # noqa: E402


def measured_run(code: Path, recipe_file: Path, until: str | None) -> tuple[float, float, str]:
    """Seconds and the process tree's peak PSS in GB of one `medcurate run`, with `code`'s package, and the
    peak of each stage (the samples taken until the stage's entry in the work dir finished)."""
    from benchmarks.run import stage_ends

    cmd = [str(ROOT / ".venv" / "bin" / "python"), "-c", "from curation.cli import app; app()", "run",
           str(recipe_file), *(["--until", until] if until else [])]
    samples: list[tuple[float, int]] = []

    def measure(pid: int) -> tuple[int]:
        samples.append((time.time(), tree_memory(pid)))
        return (samples[-1][1],)

    seconds, peak = timed_run(cmd, measure, period=0.2, cwd=code)
    stages, prev = [], 0.0
    for end, name in stage_ends(recipe_file.parent):
        stages.append(f"{name} {max((m for t, m in samples if prev < t <= end), default=0) / 1e9:.2f}")
        prev = end
    return seconds, (peak[0] if peak else 0) / 1e9, ", ".join(stages)


def main() -> None:
    from benchmarks.run import write_input

    ap = argparse.ArgumentParser()
    ap.add_argument("--records", default="250000,1000000", help="Record counts, comma-separated.")
    ap.add_argument("--until", default=None, help="Stop after this step (e.g. pii: the per-record steps).")
    ap.add_argument("--code", type=Path, default=ROOT, help="The checkout whose `curation` package runs.")
    args = ap.parse_args()
    print("| records | code | until | seconds | tree peak PSS | per stage, GB |\n|---:|---|---|---:|---:|---|")
    for n in [int(s) for s in args.records.split(",")]:
        data = DATA / str(n)
        data.mkdir(parents=True, exist_ok=True)
        if not (data / "records.jsonl").exists():
            write_input(n, data / "records.jsonl")
        folder = data / "local-memory"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe("local", 2, data / "records.jsonl")))
        seconds, peak, stages = measured_run(args.code.resolve(), folder / "recipe.yaml", args.until)
        print(f"| {n:,} | {args.code.resolve().name} | {args.until or 'whole recipe'} | {seconds:.1f} | "
              f"{peak:.2f} GB | {stages} |", flush=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
