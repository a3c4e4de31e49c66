"""`medcurate run`: a recipe end to end (read → steps → mixture → export), each stage cached in the work dir.

The plan (`curation.plan`) is computed first: a fingerprint per source and per step, chained, so a step is
cached exactly when it and everything before it are unchanged. The run then loads the last cached output and computes
the rest, committing each step as it finishes, which is also what makes an interrupted run resumable.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from . import __version__
from .context import RunContext
from .errors import MedcurateError
from .executors import Executor, ExecutorConfig, make_executor
from .executors.base import Progress
from .export import clear, export_stages
from .ledger import Ledger
from .plan import (
    PROJECT_ROOT,
    Plan,
    PlannedSource,
    PlannedStep,
    exported_manifest,
    make_plan,
    relative,
    step_files,
    why_to_run,
)
from .recipe.load import LoadedRecipe
from .steps import get_step
from .workdir import Entry, WorkDir, fingerprint

# where a recipe runs and keeps its files: not part of what it builds, so not of its hash
WHERE_NOT_WHAT = {"executor", "workers", "work_dir", "state_dir", "output"}
PACKAGES = ("medcurate", "datasets", "pyarrow", "polars", "pydantic", "transformers", "torch", "openai", "numba")


@dataclass
class RunResult:
    plan: Plan
    ledger: Ledger
    manifest: dict[str, Any]
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    exported: bool = False


def _tags_of(loaded: LoadedRecipe) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for spec in loaded.sources:
        have = tags.setdefault(spec.source_name(), [])
        have.extend(t for t in spec.tags if t not in have)
    return tags


def _load_ledger(ledger: Ledger, entry: Entry) -> None:
    for name, e in entry.ledger().items():
        ledger.record(name, records_in=e["in"], kept=e["kept"], added=e["added"], reasons=e["reasons"])


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


class Runner:
    """The executor a run starts on first use (a fully cached run starts none) and closes once."""

    def __init__(self, config: ExecutorConfig, say: Callable[[str], None]):
        self.config, self.say = config, say
        self.executor: Executor | None = None

    def __call__(self) -> Executor:
        if self.executor is None:
            self.say(f"executor: {self.config.type}" + (f" ({self.config.address})" if self.config.address else ""))
            self.executor = make_executor(self.config)
        return self.executor

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()


def run_recipe(loaded: LoadedRecipe, *, force: tuple[str, ...] = (), until: str | None = None,
               workers: int | None = None, progress: Progress | None = None,
               say: Callable[[str], None] = lambda _: None, executor: ExecutorConfig | None = None) -> RunResult:
    """Read, run the steps, mix and export, each part from the work dir where it is cached. `executor`
    overrides the recipe's; the output is the same whichever runs the steps."""
    work = WorkDir(loaded.work)
    work.check(create=True)
    plan = make_plan(loaded)
    stop, first_forced = _bounds(plan, loaded, force, until)
    result = RunResult(plan, Ledger(), {})
    config = executor or loaded.recipe.executor
    ctx = loaded.context(executor=config.type, workers=workers or loaded.recipe.workers)
    runner = Runner(config, say)
    try:
        _read_sources(plan, work, force, runner, ctx.workers, progress, say, result)
        inputs = _run_steps(plan, loaded, ctx, work, force, stop, first_forced, runner, progress, say, result)
        result.ledger.check()
        work.prune({src.entry.path.path for src in plan.sources} | {s.entry.path.path for s in plan.steps})
        if until is not None:  # --until stops after that step: no mixture, no export
            return result
        cached = None if force else exported_manifest(loaded, plan)
        if cached is not None:
            say("export cached")
            result.manifest = cached
            return result
        mixes, stats = _mix_and_export(loaded, inputs, runner, say)
    finally:
        runner.close()
    _write_run_rejects(plan, loaded.output / "rejects.jsonl")
    result.manifest = build_manifest(loaded, plan, result.ledger, mixes, stats)
    manifest = orjson.dumps(result.manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    (loaded.output / "manifest.json").write_bytes(manifest)
    result.exported = True
    return result


def _bounds(plan: Plan, loaded: LoadedRecipe, force: tuple[str, ...], until: str | None) -> tuple[int, int]:
    """The index of the last step to run (`until`) and of the first one forced; unknown step names fail."""
    ids = [s.id for s in plan.steps]
    for name in (*force, *([until] if until else [])):
        if name not in ids and name != "read":
            raise MedcurateError(f"no step '{name}' in {loaded.file} (steps: {', '.join(ids) or 'none'})")
    stop = ids.index(until) if until in ids else (-1 if until == "read" else len(ids) - 1)
    return stop, min((ids.index(f) for f in force if f in ids), default=len(ids))


def _read_sources(plan: Plan, work: WorkDir, force: tuple[str, ...], runner: Runner, workers: int,
                  progress: Progress | None, say: Callable[[str], None], result: RunResult) -> None:
    """Every source not read under its current fingerprint (or all, when `read` is forced) into the work dir."""
    to_read = [src for src in plan.sources if not src.entry.done or "read" in force]
    for src in to_read:
        say(f"read {src.spec.source_name()}: reading {src.spec.path}")
    if to_read:
        runner().read(to_read, work, progress, workers)
    for src in plan.sources:
        (result.ran if src in to_read else result.reused).append(f"read:{src.spec.source_name()}")
        _load_ledger(result.ledger, src.entry)


def _run_steps(plan: Plan, loaded: LoadedRecipe, ctx: RunContext, work: WorkDir, force: tuple[str, ...], stop: int,
               first_forced: int, runner: Runner, progress: Progress | None, say: Callable[[str], None],
               result: RunResult) -> list[Entry]:
    """Steps up to `stop`, resuming after the last one cached in an unbroken line from the start; the entries
    the mixture reads."""
    resume = -1
    for s in plan.steps[: min(stop + 1, first_forced)]:
        if not s.cached or "read" in force:
            break
        resume = s.index
    inputs = [plan.steps[resume].entry] if resume >= 0 else [src.entry for src in plan.sources]
    if resume >= 0:
        say(f"steps up to '{plan.steps[resume].id}' cached")
    tags_of = _tags_of(loaded)
    for s in plan.steps[: stop + 1]:
        if s.index <= resume:
            result.reused.append(s.id)
        else:
            step = get_step(s.name).from_dict(s.options)
            say(f"{s.id}: running on {sum(e.info()['records'] for e in inputs):,} records")
            inputs = [runner().run_step(s, step, ctx, inputs, work, tags_of, progress)]
            result.ran.append(s.id)
        _load_ledger(result.ledger, s.entry)
    return inputs


def _mix_and_export(loaded: LoadedRecipe, inputs: list[Entry], runner: Runner,
                    say: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each training stage's mixture written under the output, then its dataset card, charts and stats."""
    recipe = loaded.recipe
    total = sum(e.info()["records"] for e in inputs)
    say(f"mixture of {len(recipe.mixture)} stage(s) over {total:,} records")
    clear(loaded.output)
    mixes = runner().write_mixture(inputs, recipe.mixture, recipe.seed, _tags_of(loaded), loaded.output,
                                   recipe.export.shard_size)
    licenses = {spec.source_name(): spec.license for spec in loaded.sources}
    curated = [p for e in inputs for p in e.parts()] if recipe.export.curated else None
    stats = runner().call(export_stages, mixes, loaded.output, recipe.export, recipe.name, recipe.description,
                          licenses, curated)
    return mixes, stats


def _write_run_rejects(plan: Plan, path: Path) -> None:
    """All rejects of the run in one file, in pipeline order."""
    with open(path, "wb") as out:
        for entry in [s.entry for s in plan.sources] + [s.entry for s in plan.steps]:
            for chunk in entry.rejects_path.chunks():
                out.write(chunk)


def build_manifest(loaded: LoadedRecipe, plan: Plan, ledger: Ledger, mixes: dict[str, Any],
                   stats: dict[str, Any]) -> dict[str, Any]:
    """What was built from what: deterministic (no clock, no absolute paths), so re-runs compare equal."""
    base = loaded.file.resolve().parent
    recipe = loaded.recipe
    steps = []
    llm_total = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
    for s in plan.steps:
        info = s.entry.info()
        summary = info.get("summary") or {}
        steps.append({"id": s.id, "step": s.name, "fingerprint": s.fingerprint, "records_out": info["records"],
                      "summary": summary})
        for k in llm_total:
            llm_total[k] += summary.get("llm", {}).get(k, 0)
    return {
        "recipe": recipe.name,
        "recipe_file": loaded.file.name,
        "recipe_hash": fingerprint(recipe.model_dump(mode="json", exclude=WHERE_NOT_WHAT)),
        "seed": recipe.seed,
        "export_fingerprint": plan.export_fingerprint,
        "medcurate": __version__,
        "packages": package_versions(),
        "inputs": [{"source": s.spec.source_name(), "path": relative(s.spec.path, base), "xxh3_128": s.digest}
                   for s in plan.sources],
        "steps": steps,
        "ledger": ledger.to_dict(),
        "llm": llm_total,
        "stages": {name: {**mix.report, "stats": stats[name]} for name, mix in mixes.items()},
    }


__all__ = ["PROJECT_ROOT", "Plan", "PlannedSource", "PlannedStep", "RunResult", "build_manifest", "exported_manifest",
           "make_plan", "run_recipe", "step_files", "why_to_run"]
