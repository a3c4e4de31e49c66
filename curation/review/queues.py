"""Where a review queue's records and store are: a recipe's work dir and the records entering its review step,
or a plain file of records. The command line, the review step and the pairs step all find them the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import MedcurateError

DB_NAME = "review.sqlite"


def is_recipe(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml")


def store_path(work: Path | None) -> Path:
    """The review store of a recipe (its work dir), a folder holding one, the .sqlite file itself, or ./work."""
    if work is None:
        return Path("work") / DB_NAME
    if is_recipe(work):
        from ..recipe import load_recipe

        return load_recipe(work).work_dir / DB_NAME
    return work if work.suffix == ".sqlite" else work / DB_NAME


def records_to_review(source: Path, name: str) -> tuple[list[dict[str, Any]], Path, str]:
    """(records, store path, where they came from): a recipe gives the records that enter its review step for
    this queue (or its final records when it has none); any other path is read as records."""
    if not is_recipe(source):
        from ..io.reader import read_records

        return read_records(str(source)), Path("work") / DB_NAME, str(source)
    from ..plan import make_plan
    from ..recipe import load_recipe

    loaded = load_recipe(source)
    plan = make_plan(loaded)
    at = next((i for i, e in enumerate(loaded.recipe.steps) if e.step == "review" and e.config.queue == name),
              len(loaded.recipe.steps))
    if at > 0 and not plan.steps[at - 1].entry.done:
        step = loaded.step_ids[at - 1]
        raise MedcurateError(f"{source}: the records before the review step are not built yet: run "
                             f"`medcurate run {source} --until {step}` first")
    return plan.records_after(at - 1), loaded.work_dir / DB_NAME, f"{source} before step {at}"
