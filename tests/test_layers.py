"""The packages' layering: `training` sits on curation's library modules only, and those never reach
`training` at import time, so neither package's import can loop through the other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# what `training` may import from curation: its library modules (shared values, the LLM client, readers)
ALLOWED = ("curation.errors", "curation.record", "curation.workdir", "curation.minhash", "curation.llm",
           "curation.io", "curation.steps.langid")


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module) of each import in a file; with `top_level_only`, those run when it is imported
    (not the ones inside functions, nor under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_of(path).split(".") if path.name == "__init__.py" else module_of(path).split(".")[:-1]
    nodes = ast.walk(tree) if not top_level_only else _top_level(tree.body)
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            mod = ".".join(p for p in (base, node.module or "") if p)
            found.append((node.lineno, mod))
            found += [(node.lineno, f"{mod}.{a.name}") for a in node.names]  # `from . import x` names modules
    return found


def _top_level(body: list[ast.stmt]):
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If | ast.Try):
            yield from _top_level([*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                                   *(h for t in getattr(node, "handlers", []) for h in t.body)])


def file_of(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def test_training_imports_only_curations_library_modules():
    wrong = [f"{p.relative_to(ROOT)}:{line}: imports {mod}"
             for p in sorted((ROOT / "training").rglob("*.py")) for line, mod in imports(p)
             if mod.split(".")[0] == "curation" and file_of(mod) is not None
             and not any(mod == a or mod.startswith(a + ".") for a in ALLOWED)]
    assert not wrong, "training may import only " + ", ".join(ALLOWED) + " from curation:\n" + "\n".join(wrong)


def test_curations_library_modules_never_import_training_when_loaded():
    """Follow the import-time imports from every allowed module: none may reach `training`, or the two
    packages' imports could loop (the recipe model imports training.config, which imports these)."""
    seen: dict[str, str] = {}
    modules = [module_of(f) for a in ALLOWED if (ROOT.joinpath(*a.split("."))).is_dir()
               for f in ROOT.joinpath(*a.split(".")).rglob("*.py")]
    todo = [(a, a) for a in (*ALLOWED, *modules)]
    while todo:
        mod, via = todo.pop()
        path = file_of(mod)
        if mod in seen or path is None:
            continue
        seen[mod] = via
        parents = [".".join(mod.split(".")[:i]) for i in range(1, mod.count(".") + 1)]  # packages run first
        for line, target in [(0, p) for p in parents] + imports(path, top_level_only=True):
            top = target.split(".")[0]
            assert top != "training", f"{path.relative_to(ROOT)}:{line} imports {target} (reached from {via})"
            if top == "curation":
                todo.append((target, via))
    assert "curation.llm.config" in seen  # the walk did follow the imports


def test_a_training_import_outside_the_allowed_set_is_caught(tmp_path):
    """The check itself: a curation application module imported inside a function is still found."""
    bad = ROOT / "training" / "_layer_probe.py"
    bad.write_text("def f():\n    from curation.run import run_recipe\n    return run_recipe\n", encoding="utf-8")
    try:
        try:
            test_training_imports_only_curations_library_modules()
        except AssertionError as e:
            assert "_layer_probe.py:2: imports curation.run" in str(e)
        else:
            raise AssertionError("the layering check missed curation.run")
    finally:
        bad.unlink()
