"""`medcurate run`: a recipe end to end (read → steps → mixture → export), each stage cached in the work dir.

The plan is computed first: a fingerprint per source and per step, chained, so a step is cached exactly
when it and everything before it are unchanged. The run then loads the last cached output and computes
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
from .errors import MedcurateError
from .executors import Executor, ExecutorConfig, make_executor, ray_mixture
from .executors.base import Progress
from .export import clear, export_stages
from .io import reader as reader_module
from .io.reader import SourceSpec
from .ledger import Ledger
from .mixture import mix_all
from .recipe.load import LoadedRecipe
from .record import from_table
from .steps import get_step
from .steps.base import Record
from .workdir import Entry, WorkDir, code_version, file_digest, fingerprint

# where a recipe runs and keeps its files: not part of what it builds, so not of its hash
WHERE_NOT_WHAT = {"executor", "workers", "work_dir", "state_dir", "output"}
PACKAGES = ("medcurate", "datasets", "pyarrow", "polars", "pydantic", "transformers", "torch", "openai", "numba")


@dataclass
class PlannedSource:
    spec: SourceSpec
    digest: str
    fingerprint: str
    entry: Entry


@dataclass
class PlannedStep:
    index: int
    id: str
    name: str
    fingerprint: str
    entry: Entry
    options: dict[str, Any]
    sources: list[str]
    tags: list[str]
    files: dict[str, str] = field(default_factory=dict)  # each file the step reads (as the recipe names it) -> digest

    @property
    def cached(self) -> bool:
        return self.entry.done

    def describe(self) -> dict[str, Any]:
        """What the work dir keeps with the step's output, so a later plan can say what changed since."""
        return {"step": self.name, "id": self.id, "options": self.options, "files": self.files}


@dataclass
class Plan:
    sources: list[PlannedSource]
    steps: list[PlannedStep]
    export_fingerprint: str

    def records_after(self, index: int) -> list[Record]:
        """The output of step `index` from the work dir; -1: what the sources read."""
        if index >= 0:
            return self.steps[index].entry.records()
        return [r for src in self.sources for r in src.entry.records()]


def exported_manifest(loaded: LoadedRecipe, plan: Plan) -> dict[str, Any] | None:
    """The output's manifest when it was exported from exactly this plan (the export is then cached)."""
    path = loaded.output / "manifest.json"
    if not path.exists():
        return None
    manifest = orjson.loads(path.read_bytes())
    return manifest if manifest.get("export_fingerprint") == plan.export_fingerprint else None


@dataclass
class RunResult:
    plan: Plan
    ledger: Ledger
    manifest: dict[str, Any]
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    exported: bool = False


def make_plan(loaded: LoadedRecipe) -> Plan:
    recipe, work = loaded.recipe, WorkDir(loaded.work)
    work.check()
    reader_code = code_version(reader_module, SourceSpec, from_table)
    sources = []
    for spec in loaded.sources:
        digest = file_digest(Path(spec.path))
        fp = fingerprint("read", spec.model_dump(mode="json", exclude={"path"}), digest, reader_code)
        sources.append(PlannedSource(spec, digest, fp, work.read_entry(spec.source_name(), fp)))
    previous = fingerprint("inputs", [s.fingerprint for s in sources])
    steps = []
    for i, (entry, step_id) in enumerate(zip(recipe.steps, loaded.step_ids)):
        cls = get_step(entry.step)
        options = entry.config.model_dump(mode="json")
        llm = recipe.llm.model_dump(mode="json") if getattr(cls, "uses_llm", False) else None
        base = loaded.file.resolve().parent
        state = cls.state_key(entry.config, loaded.work_dir, base)
        files = step_files(step_id, cls.input_files(entry.config, base), base)
        previous = fingerprint("step", previous, entry.step, options, entry.sources, entry.tags, llm, recipe.seed,
                               code_version(cls), state, files)
        steps.append(PlannedStep(i, step_id, entry.step, previous, work.step_entry(i, step_id, previous), options,
                                 entry.sources, entry.tags, files))
    export = fingerprint("export", previous, recipe.model_dump(mode="json", include={"mixture", "export", "seed",
                                                                                      "name", "description"}),
                         code_version(export_stages, mix_all, ray_mixture))
    return Plan(sources, steps, export)


PROJECT_ROOT = Path(__file__).resolve().parents[1]  # shipped prompts and lexicons lie below it


def why_to_run(loaded: LoadedRecipe, plan: Plan) -> dict[str, str]:
    """For each step that has to run, what differs from its last finished output in the work dir: the files it
    reads (named), its options, or something before it."""
    work = WorkDir(loaded.work)
    reasons: dict[str, str] = {}
    upstream = next((f"source {s.spec.source_name()} changed" for s in plan.sources if not s.entry.done), None)
    for s in plan.steps:
        if s.cached and upstream is None:
            continue
        last = work.latest_step_entry(s.index, s.id)
        before = last.info() if last is not None else None
        if before is None:
            reasons[s.id] = upstream or "not run yet"
        elif (changed := _changed_files(before.get("files") or {}, s.files)):
            reasons[s.id] = "changed: " + ", ".join(changed)
        elif before.get("options") not in (None, s.options):
            keys = sorted(k for k in {*s.options, *before["options"]} if s.options.get(k) != before["options"].get(k))
            reasons[s.id] = "options changed: " + ", ".join(keys)
        else:
            reasons[s.id] = upstream or "code or inputs changed"
        upstream = upstream or f"after {s.id}"
    return reasons


def _changed_files(before: dict[str, str], now: dict[str, str]) -> list[str]:
    return ([f"{n} (edited)" for n in now if n in before and before[n] != now[n]]
            + [f"{n} (new)" for n in now if n not in before]
            + [f"{n} (no longer read)" for n in before if n not in now])


def step_files(step_id: str, paths: list[Path], base: Path) -> dict[str, str]:
    """Each file a step reads with its content digest, named as the recipe names it (relative to the recipe
    where it lies below it) or, for the project's shipped files, by their place in the package, so that the
    fingerprint does not depend on where the project is installed."""
    files = {}
    for path in paths:
        name = _relative(str(path), base)
        if Path(name).is_absolute() and path.resolve().is_relative_to(PROJECT_ROOT):
            name = "medcurate:" + str(path.resolve().relative_to(PROJECT_ROOT))
        if not path.exists():
            raise MedcurateError(f"step {step_id}: {name}: no such file or folder")
        files[name] = file_digest(path)
    return files


def _tags_of(loaded: LoadedRecipe) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for spec in loaded.sources:
        have = tags.setdefault(spec.source_name(), [])
        have.extend(t for t in spec.tags if t not in have)
    return tags


def _load_ledger(ledger: Ledger, entry: Entry) -> None:
    for name, e in entry.ledger().items():
        ledger.record(name, records_in=e["in"], kept=e["kept"], added=e["added"],
                      rejected_reasons=[k for k, v in e["reasons"].items() for _ in range(v)])


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_recipe(loaded: LoadedRecipe, *, force: tuple[str, ...] = (), until: str | None = None,
               workers: int | None = None, progress: Progress | None = None,
               say: Callable[[str], None] = lambda _: None, executor: ExecutorConfig | None = None) -> RunResult:
    """`executor` overrides the recipe's; the output is the same whichever runs the steps."""
    recipe = loaded.recipe
    work = WorkDir(loaded.work)
    work.check(create=True)
    plan = make_plan(loaded)
    ids = [s.id for s in plan.steps]
    for name in (*force, *([until] if until else [])):
        if name not in ids and name != "read":
            raise MedcurateError(f"no step '{name}' in {loaded.file} (steps: {', '.join(ids) or 'none'})")
    stop = ids.index(until) if until in ids else (-1 if until == "read" else len(ids) - 1)
    first_forced = min((ids.index(f) for f in force if f in ids), default=len(ids))
    result = RunResult(plan, Ledger(), {})
    workers = workers or recipe.workers
    runner: Executor | None = None

    def started() -> Executor:
        nonlocal runner
        if runner is None:
            config = executor or recipe.executor
            say(f"executor: {config.type}" + (f" ({config.address})" if config.address else ""))
            runner = make_executor(config)
        return runner

    try:
        to_read = [src for src in plan.sources if not src.entry.done or "read" in force]
        if to_read:
            for src in to_read:
                say(f"read {src.spec.source_name()}: reading {src.spec.path}")
            started().read(to_read, work, progress)
        for src in plan.sources:
            (result.ran if src in to_read else result.reused).append(f"read:{src.spec.source_name()}")
            _load_ledger(result.ledger, src.entry)
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
                _load_ledger(result.ledger, s.entry)
                continue
            step = get_step(s.name).from_dict(s.options)
            step.bind(recipe=recipe, work_dir=loaded.work_dir, base_dir=loaded.file.resolve().parent)
            say(f"{s.id}: running on {sum(e.info()['records'] for e in inputs):,} records")
            inputs = [started().run_step(s, step, inputs, work, tags_of, workers, progress)]
            result.ran.append(s.id)
            _load_ledger(result.ledger, s.entry)
        result.ledger.check()
        work.prune({src.entry.path.path for src in plan.sources} | {s.entry.path.path for s in plan.steps})
        if until is not None:  # --until stops after that step: no mixture, no export
            return result

        cached = None if force else exported_manifest(loaded, plan)
        if cached is not None:
            say("export cached")
            result.manifest = cached
            return result
        total = sum(e.info()["records"] for e in inputs)
        say(f"mixture of {len(recipe.mixture)} stage(s) over {total:,} records")
        clear(loaded.output)
        mixes = started().write_mixture(inputs, recipe.mixture, recipe.seed, tags_of, loaded.output,
                                        recipe.export.shard_size)
        licenses = {spec.source_name(): spec.license for spec in loaded.sources}
        curated = [p for e in inputs for p in e.parts()] if recipe.export.curated else None
        stats = started().call(export_stages, mixes, loaded.output, recipe.export, recipe.name, recipe.description,
                               licenses, curated)
    finally:
        if runner is not None:
            runner.close()
    _write_run_rejects(plan, loaded.output / "rejects.jsonl")
    result.manifest = build_manifest(loaded, plan, result.ledger, mixes, stats)
    manifest = orjson.dumps(result.manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    (loaded.output / "manifest.json").write_bytes(manifest)
    result.exported = True
    return result


def _write_run_rejects(plan: Plan, path: Path) -> None:
    """All rejects of the run in one file, in pipeline order."""
    with open(path, "wb") as out:
        for entry in [s.entry for s in plan.sources] + [s.entry for s in plan.steps]:
            for chunk in entry.rejects_path.chunks():
                out.write(chunk)


def _relative(path: str, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base))
    except ValueError:
        return path


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
        "inputs": [{"source": s.spec.source_name(), "path": _relative(s.spec.path, base), "xxh3_128": s.digest}
                   for s in plan.sources],
        "steps": steps,
        "ledger": ledger.to_dict(),
        "llm": llm_total,
        "stages": {name: {**mix.report, "stats": stats[name]} for name, mix in mixes.items()},
    }
