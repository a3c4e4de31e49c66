"""The executor interface: the run loop asks an executor to read sources and to apply a step to an entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..steps.base import Record, Step
from ..workdir import Entry, WorkDir

if TYPE_CHECKING:
    from ..run import PlannedSource, PlannedStep

Progress = Callable[[str, int], Callable[[int], None]]


class Executor(Protocol):
    name: str

    def read(self, sources: list[PlannedSource], work: WorkDir, progress: Progress | None) -> None:
        """Read every source into its work-dir entry."""

    def run_step(self, planned: PlannedStep, step: Step, inputs: list[Entry], work: WorkDir,
                 tags_of: dict[str, list[str]], workers: int, progress: Progress | None) -> Entry:
        """Apply `step` to the records of `inputs` (in order) and commit its entry; records out of the step's
        scope pass through after the ones it saw."""

    def records(self, inputs: list[Entry]) -> list[Record]:
        """The records of `inputs`, in order, on this process (for the mixture and export)."""

    def close(self) -> None: ...
