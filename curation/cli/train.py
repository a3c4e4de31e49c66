"""`medcurate train`: fine-tune on an exported dataset, stage after stage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import MedcurateError
from .app import app, console, fail, out


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="A recipe with a train section, or a training-only config.")],
    fresh: Annotated[bool, typer.Option("--fresh", help="Start over instead of resuming finished stages and "
                                                        "checkpoints.")] = False,
) -> None:
    """Train the stages (cpt / sft; full, LoRA, DoRA, prompt or prefix tuning); resumes after a kill."""
    from ..recipe import train_file

    try:
        report = train_file(config, resume=not fresh, say=lambda m: console.print(m, highlight=False))
    except MedcurateError as e:
        fail(str(e))
    print_training(report)


def print_training(report: dict[str, Any]) -> None:
    """One line per trained stage: its steps and losses."""
    for name, r in report.items():
        if isinstance(r, dict):
            out.print(f"{name}: {r['steps']} steps, train loss {r['train_loss']:.4f}"
                      + (f", eval loss {r['eval_loss']:.4f}" if "eval_loss" in r else ""))
