"""The shared parts of the command line: the app, consoles, error exit, tables and progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import MedcurateError
from ..ledger import Ledger
from .quiet import quiet_third_party

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Curate multilingual medical instruction data, and fine-tune models on it.")
console = Console(stderr=True)
out = Console()


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Keep the third-party libraries' warnings "
                                                                       "and progress bars.")] = False) -> None:
    """Curate multilingual medical instruction data, and fine-tune models on it."""
    if not verbose:
        quiet_third_party()

FormatOpt = Annotated[str | None, typer.Option("--format", "-f", help="Input format; detected if left out.")]
FieldsOpt = Annotated[str | None, typer.Option(
    "--fields", help="Map canonical fields to your column names: question=Frage,answer=Antwort")]
RejectsOpt = Annotated[Path | None, typer.Option(
    "--rejects", help="Where rejected records go (default: <output>.rejects.jsonl beside the output).")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Stop at the first bad record.")]

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML: step name -> options.")]
EncodingOpt = Annotated[str | None, typer.Option(
    "--encoding", help="Text encoding of a JSONL, JSON or CSV input (utf-8, gb18030, big5, shift_jis, cp1252, "
    "utf-16, ...); detected from the head of the file when left out.")]
WorkersOpt = Annotated[int, typer.Option("--workers", "-j", help="Processes for per-record steps.")]


def parse_fields(spec: str | None) -> dict[str, str]:
    if not spec:
        return {}
    pairs = {}
    for part in spec.split(","):
        if "=" not in part:
            raise MedcurateError(f"--fields: '{part}' is not canonical=column")
        k, v = part.split("=", 1)
        pairs[k.strip()] = v.strip()
    return pairs


@contextmanager
def progress_bar(label: str):
    """A live count of records with their rate; it disappears when done."""
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed:,} records"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda n: progress.advance(task, n)


class StepBars:
    """The `progress(label, total)` callback library calls take, drawing one bar per label; `stop` ends the
    display early (before training, whose own progress would fight the live bars)."""

    def __init__(self, bars: Progress):
        self.bars = bars

    def __call__(self, label: str, total: int | None) -> Callable[[int], None]:
        task = self.bars.add_task(label, total=total or None)
        return lambda n: self.bars.advance(task, n)

    def stop(self) -> None:
        self.bars.stop()


@contextmanager
def step_bars() -> Iterator[StepBars]:
    """Bars for a run's reading and steps; they disappear when done."""
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bars:
        yield StepBars(bars)


def option_errors(e) -> str:
    """A pydantic ValidationError over command-line options, named as the options are: --max-tokens: ..."""
    return "; ".join(f"--{'.'.join(map(str, err['loc'])).replace('_', '-')}: {err['msg']}" for err in e.errors())


def fail(message: str) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(2)


def print_ledger(ledger: Ledger) -> None:
    t = Table(title="Ledger", show_lines=False)
    for col in ("stage", "in", "kept", "rejected", "top reasons"):
        t.add_column(col, justify="right" if col in ("in", "kept", "rejected") else "left")
    for name, e in ledger.to_dict().items():
        reasons = "; ".join(f"{k} ×{v}" for k, v in sorted(e["reasons"].items(), key=lambda kv: -kv[1])[:3])
        t.add_row(name, f"{e['in'] + e['added']:,}", f"{e['kept']:,}", f"{e['rejected']:,}", reasons)
    console.print(t)


def print_stats(stats: dict, title: str) -> None:
    out.print(f"[bold]{title}[/]: {stats['records']:,} records")
    for key, label in (("by_source", "source"), ("by_lang", "language"), ("by_task", "task")):
        t = Table(title=f"by {label}")
        t.add_column(label)
        t.add_column("records", justify="right")
        t.add_column("share", justify="right")
        for k, v in stats[key].items():
            t.add_row(k, f"{v:,}", f"{100 * v / max(1, stats['records']):.1f}%")
        out.print(t)
    t = Table(title="length")
    t.add_column("unit")
    for col in ("min", "p50", "p90", "p99", "max", "mean"):
        t.add_column(col, justify="right")
    for unit in ("chars", "words"):
        d = stats[unit]
        t.add_row(unit, *(f"{d.get(c, 0):,.0f}" if c != "mean" else f"{d.get(c, 0):,.1f}"
                          for c in ("min", "p50", "p90", "p99", "max", "mean")))
    out.print(t)


def print_reject_report(report: dict) -> None:
    for step, reasons in report.items():
        t = Table(title=f"rejected by step '{step}'", show_lines=True)
        t.add_column("reason")
        t.add_column("records", justify="right")
        t.add_column("examples")
        for reason, slot in reasons.items():
            ex = "\n".join(f"{e['where']}: {e['text']}" for e in slot["examples"])
            t.add_row(reason, str(slot["count"]), ex)
        out.print(t)


__all__ = ["MedcurateError", "app", "console", "fail", "out"]
