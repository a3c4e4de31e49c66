"""Running steps from the command line: read any input, apply steps, write output and rejects beside it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .context import RunContext
from .errors import MedcurateError
from .io.parallel import read_parallel
from .io.reader import SourceSpec
from .io.writers import open_writer
from .io.yaml_mapping import read_yaml_mapping
from .ledger import Ledger
from .pipeline import build_steps, run_steps
from .record import from_table, to_table
from .rejects import RejectWriter, default_rejects_path

CLEAN_CHAIN = ("normalize", "langid", "pii", "quality", "relevance")
# (label, total or None) -> a callback advancing that bar by n records; the command line draws the bars
Progress = Callable[[str, int | None], Callable[[int], None]]


def no_progress(label: str, total: int | None) -> Callable[[int], None]:
    return lambda n: None


@dataclass
class StepRun:
    ledger: Ledger
    written: int
    output: Path
    rejects_path: Path
    summaries: dict[str, dict[str, Any]]


def load_step_options(config: Path | None, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """A YAML file mapping step name to its options; for a single step the options may stand alone."""
    if config is None:
        return {}
    _, data = read_yaml_mapping(config, "expected a mapping of step name to options")
    if len(names) == 1 and names[0] not in data:
        return {names[0]: data}
    unknown = set(data) - set(names)
    if unknown:
        raise MedcurateError(f"{config}: options for steps not in this run: {', '.join(sorted(unknown))} "
                             f"(steps: {', '.join(names)})")
    return data


def run_step_command(
    input: str, output: Path, names: tuple[str, ...], *, config: Path | None = None,
    options: dict[str, dict[str, Any]] | None = None, rejects: Path | None = None, workers: int = 1,
    progress: Progress = no_progress, context: RunContext | None = None, dry_run: bool = False,
    encoding: str | None = None,
) -> StepRun:
    """Read `input`, apply the steps, write `output` and the rejects beside it (nothing at all on a dry run).
    `progress` opens one counter for reading and one per step, so a caller can show bars without this module
    knowing how they are drawn."""
    opts = load_step_options(config, names)
    for name, extra in (options or {}).items():
        opts[name] = {**opts.get(name, {}), **extra}
    try:
        steps = build_steps([(n, opts.get(n)) for n in names])
    except Exception as e:  # pydantic's ValidationError names the field; KeyError an unknown step
        raise MedcurateError(f"step options: {e}") from None
    ctx = replace(context or RunContext(), dry_run=dry_run, workers=workers)
    for step in steps:
        step.setup(ctx)
    ledger = Ledger()
    rejects_path = rejects or default_rejects_path(output)
    with RejectWriter(rejects_path if not dry_run else Path("/dev/null")) as rw:
        advance = progress(f"reading {input}", None)
        records = []
        for table in read_parallel(SourceSpec(path=input, encoding=encoding), rejects=rw, ledger=ledger,
                                   on_progress=advance):
            records.extend(from_table(table))
        records = run_steps(records, steps, rejects=rw, ledger=ledger, workers=workers, progress=progress)
        if not dry_run:
            writer = open_writer(output)
            writer.write(to_table(records))
            writer.close()
    ledger.check()
    return StepRun(ledger, len(records), output, rejects_path, {s.name: s.summary() for s in steps})
