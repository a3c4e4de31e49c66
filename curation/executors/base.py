"""The executor interface: the run loop asks an executor to read sources and to apply a step to an entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..context import RunContext
from ..steps.base import Step
from ..workdir import Entry, WorkDir

if TYPE_CHECKING:
    from ..mixture import StageMix
    from ..plan import PlannedSource, PlannedStep
    from ..recipe.model import Stage

T = TypeVar("T")
Progress = Callable[[str, int], Callable[[int], None]]


class Executor(Protocol):
    name: str

    def read(self, sources: list[PlannedSource], work: WorkDir, progress: Progress | None, workers: int = 1) -> None:
        """Read every source into its work-dir entry; `workers`: processes for one source, where it can be cut."""

    def run_step(self, planned: PlannedStep, step: Step, ctx: RunContext, inputs: list[Entry], work: WorkDir,
                 tags_of: dict[str, list[str]], progress: Progress | None) -> Entry:
        """Set `step` up with the run's context (adding the executor's own facts), apply it to the records of
        `inputs` (in order) and commit its entry; records out of the step's scope pass through after the ones
        it saw."""

    def write_mixture(self, inputs: list[Entry], stages: dict[str, Stage], seed: int, tags_of: dict[str, list[str]],
                      out: Path, shard_size: int) -> dict[str, StageMix]:
        """Plan every stage's mix over the records of `inputs` and write its shards under `out`/data; returns
        the plans without their rows."""

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` where the data is: here, or on a worker (so the driver never holds the export)."""

    def close(self) -> None: ...
