"""Reading a recipe: YAML → model, with every problem reported at once, each with its YAML path and line."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..context import RunContext
from ..errors import MedcurateError
from ..io.reader import SourceSpec
from ..storage import Location, check_uri, is_uri
from .model import Recipe


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line else ""
        return f"{where}{self.path or '(top)'}: {self.message}"


class RecipeError(MedcurateError):
    def __init__(self, file: Path, problems: list[Problem]):
        self.file, self.problems = file, problems
        lines = "\n".join(f"  {file}:{p}" for p in problems)
        super().__init__(f"{file}: {len(problems)} problem(s) in the recipe\n{lines}")


@dataclass
class LoadedRecipe:
    """A valid recipe with its paths resolved: sources expanded from globs, work and output dirs absolute.

    `work` holds the steps' cached outputs (a local folder or object storage); `work_dir` is the local
    folder of the SQLite stores (LLM request cache, review queues): the work dir itself when it is local.
    """

    recipe: Recipe
    file: Path
    sources: list[SourceSpec]
    work_dir: Path
    output: Path
    work: Location

    @property
    def step_ids(self) -> list[str]:
        return self.recipe.step_ids()

    def context(self, **facts: Any) -> RunContext:
        """The run context its steps get: the recipe's folder, its stores and endpoints; `facts` add the
        executor's (`executor`, `workers`, `llm_backends`, `dry_run`)."""
        llm = self.recipe.llm
        return RunContext(base_dir=self.file.resolve().parent, state_dir=self.work_dir, endpoints=llm.endpoints,
                          default_endpoint=llm.default, **facts)

    def decontaminated_against(self) -> list[str]:
        """The benchmark files of the recipe's decontaminate steps, relative paths taken from the recipe's folder."""
        base = self.file.resolve().parent
        return [str(base / b) for e in self.recipe.steps if e.step == "decontaminate" for b in e.config.benchmarks]


def locate(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[str, int | None]:
    """The dotted path and YAML line of a pydantic error location.

    The tag pydantic adds to a step entry's location (the step's name after its list index) is not in the
    YAML and is skipped; a key the YAML lacks (a missing field) stays in the path, on the line of the mapping
    that lacks it.
    """
    path, node = "", root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            if isinstance(node, yaml.SequenceNode) and part < len(node.value):
                node = node.value[part]
            continue
        if isinstance(node, yaml.MappingNode):
            keys = {k.value: v for k, v in node.value}
            if part not in keys and getattr(keys.get("step"), "value", None) == part:
                continue
            node = keys.get(part, node)
        path += f".{part}" if path else str(part)
    return path, (node.start_mark.line + 1 if node is not None else None)


def _resolve(base: Path, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p


def expand_sources(recipe: Recipe, base: Path) -> tuple[list[SourceSpec], list[tuple[tuple, str]]]:
    """Globs become one spec per file (sharing the source's name when it has one); missing paths are problems."""
    specs, problems = [], []
    for i, spec in enumerate(recipe.sources):
        pattern = str(_resolve(base, spec.path))
        matches = sorted(glob.glob(pattern)) if any(c in spec.path for c in "*?[") else [pattern]
        matches = [m for m in matches if Path(m).exists()]
        if not matches:
            problems.append((("sources", i, "path"), f"no file matches '{spec.path}' (looked in {base})"))
        for m in matches:
            specs.append(spec.model_copy(update={"path": m}))
    return specs, problems


def semantic_problems(recipe: Recipe, specs: list[SourceSpec]) -> list[tuple[tuple, str]]:
    """What the model alone cannot check: names that must refer to something else in the recipe."""
    problems: list[tuple[tuple, str]] = []
    names = {s.source_name() for s in specs} | {s.name for s in recipe.sources if s.name}
    tags = {t for s in recipe.sources for t in s.tags}
    ids = recipe.step_ids()
    for i, dup in enumerate(ids):
        if ids.index(dup) != i:
            problems.append((("steps", i, "id"), f"step id '{dup}' is used twice"))
    for i, entry in enumerate(recipe.steps):
        for j, s in enumerate(entry.sources):
            if s not in names:
                known = ", ".join(sorted(names))
                problems.append((("steps", i, "sources", j), f"unknown source '{s}' (known: {known})"))
        for j, t in enumerate(entry.tags):
            if t not in tags:
                problems.append((("steps", i, "tags", j), f"no source has the tag '{t}'"))
        endpoint = getattr(entry.config, "endpoint", None)
        if endpoint is not None and endpoint not in recipe.llm.endpoints:
            problems.append((("steps", i, "config", "endpoint"),
                             f"unknown endpoint '{endpoint}' (known: {', '.join(recipe.llm.endpoints)})"))
    if recipe.work_dir and is_uri(recipe.work_dir) and (why := check_uri(recipe.work_dir)):
        problems.append((("work_dir",), why))
    if recipe.state_dir and is_uri(recipe.state_dir):
        problems.append((("state_dir",), "the SQLite stores need a local folder, not a URI"))
    if recipe.llm.default not in recipe.llm.endpoints:
        problems.append((("llm", "default"), f"unknown endpoint '{recipe.llm.default}'"))
    stages = list(recipe.mixture)
    for k, (stage_name, stage) in enumerate(recipe.mixture.items()):
        for field in ("sources", "weights", "epochs"):
            for s in getattr(stage, field):
                if s not in names:
                    problems.append((("mixture", stage_name, field, s) if field != "sources"
                                     else ("mixture", stage_name, field, stage.sources.index(s)),
                                     f"unknown source '{s}'"))
        for j, t in enumerate(stage.tags):
            if t not in tags:
                problems.append((("mixture", stage_name, "tags", j), f"no source has the tag '{t}'"))
        if stage.replay and stage.replay.stage not in stages[:k]:
            problems.append((("mixture", stage_name, "replay", "stage"),
                             f"replay must name an earlier stage (earlier: {', '.join(stages[:k]) or 'none'})"))
    return problems


def load_recipe(file: str | Path, *, check_paths: bool = True, text: str | None = None) -> LoadedRecipe:
    """Validate a recipe; raises RecipeError listing every problem with its YAML path and line.

    `text` is the file's content when the caller has read it already (it is then not read again).
    """
    file = Path(file)
    if text is None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as e:
            raise MedcurateError(f"{file}: cannot read the recipe ({e.strerror})") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise RecipeError(file, [Problem("", line, f"not valid YAML: {getattr(e, 'problem', e)}")]) from None
    if not isinstance(data, dict):
        raise RecipeError(file, [Problem("", 1, "a recipe is a mapping (name, sources, steps, ...)")])
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = (*err["loc"], "step") if err["type"] == "union_tag_invalid" else err["loc"]
            problems.append(Problem(*locate(root, loc), _message(err)))
        raise RecipeError(file, problems) from None
    base = file.resolve().parent
    specs, found = expand_sources(recipe, base) if check_paths else (list(recipe.sources), [])
    found += semantic_problems(recipe, specs)
    if found:
        raise RecipeError(file, [Problem(*locate(root, loc), msg) for loc, msg in found])
    remote = recipe.work_dir if recipe.work_dir and is_uri(recipe.work_dir) else None
    local = _resolve(base, recipe.work_dir) if recipe.work_dir and not remote else base.parent / "work" / recipe.name
    state = _resolve(base, recipe.state_dir) if recipe.state_dir else local
    output = _resolve(base, recipe.output) if recipe.output else base.parent / "out" / recipe.name
    work = Location.of(remote or local.resolve())
    return LoadedRecipe(recipe, file, specs, state.resolve(), output.resolve(), work)


def _message(err: dict[str, Any]) -> str:
    if err["type"] == "union_tag_invalid":
        from ..steps import STEPS

        return f"unknown step '{err['input'].get('step')}' (known: {', '.join(sorted(STEPS))})"
    if err["type"] == "union_tag_not_found":
        return "each step entry needs `step: <name>`"
    return err["msg"]
