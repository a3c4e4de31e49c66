"""Training from a recipe: its `train` section on its export, and "run, then train" as one library call.

Layering: this module is where curation's application layer meets `training` (which never reads recipes);
a recipe's train section is already `training.config.TrainConfig`, validated once when the recipe loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MedcurateError
from ..executors.config import ExecutorConfig
from ..io.yaml_mapping import read_yaml_mapping
from .load import LoadedRecipe, load_recipe

if TYPE_CHECKING:  # run.py imports the executors and the steps: loaded only when a run starts
    from training.train import TrainJob

    from ..run import RunResult

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    """The default `say`: a library call prints nothing unless asked."""


@dataclass
class RunAndTrain:
    """What `run_then_train` did: the curation run, and the training report (None when nothing was trained:
    no train section, training turned off, or the run stopped before the export)."""

    run: RunResult
    training: dict[str, Any] | None


def recipe_job(loaded: LoadedRecipe) -> TrainJob:
    """The recipe's train section as a training job: its data is the recipe's export, its weights go beside it,
    and the decontaminate steps' benchmarks travel with it, so the evaluation can warn about the others."""
    from training.train import TrainJob

    cfg = loaded.recipe.train
    if cfg is None:
        raise MedcurateError(f"{loaded.file}: the recipe has no train section")
    base = loaded.file.resolve().parent
    data = base / cfg.data if cfg.data else loaded.output
    output = base / cfg.output if cfg.output else loaded.output.parent / f"{loaded.recipe.name}-model"
    # a copy: the trainer settles defaults on its config (a first stage's adapter policy), the recipe stays as read
    return TrainJob(cfg.model_copy(deep=True), Path(data), Path(output), loaded.recipe.name, base,
                    loaded.decontaminated_against())


def train_recipe(loaded: LoadedRecipe, *, resume: bool = True, say: Say = _quiet) -> dict[str, Any]:
    """Train the recipe's train section on its (already built) export; finished stages are reused."""
    from training.train import run_job

    return run_job(recipe_job(loaded), resume=resume, say=say)


def train_file(path: Path, *, resume: bool = True, say: Say = _quiet) -> dict[str, Any]:
    """Train what a file describes, a recipe (its train section) or a training-only config, reading it once."""
    from training.train import config_job, run_job

    path = Path(path)
    text, data = read_yaml_mapping(path, "neither a recipe nor a training config (a mapping is expected)")
    if "sources" in data:
        return train_recipe(load_recipe(path, text=text), resume=resume, say=say)
    return run_job(config_job(data, path), resume=resume, say=say)


def run_then_train(loaded: LoadedRecipe, *, train: bool = True, resume: bool = True,
                   force: tuple[str, ...] = (), until: str | None = None, workers: int | None = None,
                   executor: ExecutorConfig | None = None, progress: Any = None, say: Say = _quiet,
                   on_run: Callable[[RunResult], None] | None = None) -> RunAndTrain:
    """Build the recipe's datasets, then train its train section on them (what `medcurate run` does).

    Training follows only a run that exported (not one stopped by `until`), and only where the recipe has a
    train section and `train` is set. `on_run` sees the run's result before training starts, so a caller can
    report the curation first; `progress` and `say` are `run_recipe`'s callbacks, `say` also the trainer's.
    """
    from ..run import run_recipe

    result = run_recipe(loaded, force=force, until=until, workers=workers, progress=progress, say=say,
                        executor=executor)
    if on_run is not None:
        on_run(result)
    trained = None
    if train and loaded.recipe.train is not None and result.manifest:
        trained = train_recipe(loaded, resume=resume, say=say)
    return RunAndTrain(result, trained)
