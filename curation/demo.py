"""The demo job: every shipped sample file read, cleaned and deduplicated, with a report of what went where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console

from .commands import CLEAN_CHAIN
from .io.reader import SourceSpec, read_batches
from .io.writers import open_writer
from .ledger import Ledger
from .pipeline import build_steps, run_steps
from .record import from_table, to_table
from .rejects import RejectWriter, read_rejects
from .stats import plot_stats

DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet", ".gz", ".zst")
DEMO_STEPS = [(name, None) for name in (*CLEAN_CHAIN, "dedupe")]


@dataclass
class DemoResult:
    table: pa.Table
    ledger: Ledger
    output: Path
    rejects_path: Path
    rejects: list[dict[str, Any]]
    plots: Path


def sample_sources(data_dir: Path) -> list[SourceSpec]:
    files = sorted(p for p in data_dir.iterdir() if p.name.endswith(DATA_SUFFIXES) and p.name != "planted.json")
    return [SourceSpec(path=str(p)) for p in files]


def run_demo(data_dir: Path, out_dir: Path, console: Console) -> DemoResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger()
    output = out_dir / "records.parquet"
    rejects_path = out_dir / "records.rejects.jsonl"
    records = []
    with RejectWriter(rejects_path) as rw:
        for spec in sample_sources(data_dir):
            console.print(f"reading {spec.path}")
            for t in read_batches(spec, rejects=rw, ledger=ledger):
                records.extend(from_table(t))
        console.print("steps: " + " -> ".join(name for name, _ in DEMO_STEPS))
        records = run_steps(records, build_steps(DEMO_STEPS), rejects=rw, ledger=ledger, workers=1)
    table = to_table(records)
    ledger.check()
    writer = open_writer(output)
    writer.write(table)
    writer.close()
    plots = out_dir / "plots"
    plot_stats(table, plots)
    return DemoResult(table, ledger, output, rejects_path, read_rejects(rejects_path), plots)
