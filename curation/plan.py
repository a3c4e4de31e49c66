"""The plan of a recipe: a fingerprint per source and per step, chained, so that a step is cached exactly when
it and everything before it are unchanged, and the work-dir entry each one reads or writes.

Executors take the planned sources and steps from here; this module imports no executor at load time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .errors import MedcurateError
from .export import export_stages
from .io import reader as reader_module
from .io.reader import SourceSpec
from .mixture import mix_all
from .recipe.load import LoadedRecipe
from .record import from_table
from .steps import get_step
from .steps.base import Record
from .workdir import Entry, WorkDir, code_version, file_digest, fingerprint


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
    ctx = loaded.context()
    base = loaded.file.resolve().parent
    for i, (entry, step_id) in enumerate(zip(recipe.steps, loaded.step_ids)):
        cls = get_step(entry.step)
        options = entry.config.model_dump(mode="json")
        llm = recipe.llm.model_dump(mode="json") if getattr(cls, "uses_llm", False) else None
        state = cls.state_key(entry.config, ctx)
        files = step_files(step_id, cls.input_files(entry.config, ctx), base)
        previous = fingerprint("step", previous, entry.step, options, entry.sources, entry.tags, llm, recipe.seed,
                               code_version(cls), state, files)
        steps.append(PlannedStep(i, step_id, entry.step, previous, work.step_entry(i, step_id, previous), options,
                                 entry.sources, entry.tags, files))
    export = fingerprint("export", previous, recipe.model_dump(mode="json", include={"mixture", "export", "seed",
                                                                                      "name", "description"}),
                         code_version(export_stages, mix_all, RAY_MIXTURE))
    return Plan(sources, steps, export)


# The Ray mixture's module joins the export's fingerprint (both executors export alike); named by its file, as the
# executors import this module
RAY_MIXTURE = Path(__file__).resolve().parent / "executors" / "ray_mixture.py"
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
        name = relative(str(path), base)
        if Path(name).is_absolute() and path.resolve().is_relative_to(PROJECT_ROOT):
            name = "medcurate:" + str(path.resolve().relative_to(PROJECT_ROOT))
        if not path.exists():
            raise MedcurateError(f"step {step_id}: {name}: no such file or folder")
        files[name] = file_digest(path)
    return files




def relative(path: str, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base))
    except ValueError:
        return path
