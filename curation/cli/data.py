"""Commands over data files: inspect, convert, stats, schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer

from ..errors import MedcurateError
from ..io.parallel import read_parallel
from ..io.reader import SourceSpec, read_batches, read_table
from ..io.writers import open_writer
from ..ledger import Ledger
from ..record import empty_table
from ..rejects import RejectWriter, default_rejects_path, read_rejects
from ..stats import compute_stats, plot_stats, reject_report
from .app import (
    EncodingOpt,
    FieldsOpt,
    FormatOpt,
    RejectsOpt,
    StrictOpt,
    app,
    fail,
    out,
    parse_fields,
    print_ledger,
    print_reject_report,
    print_stats,
    progress_bar,
)


def render_record(rec: dict) -> str:
    lines = [f"[dim]id={rec['id']} source={rec['source']} lang={rec['lang']} task={rec['task']}[/]"]
    for m in rec.get("messages") or []:
        lines.append(f"[bold cyan]{m['role']}[/]: {m['content'][:300]}")
    if rec.get("text"):
        lines.append(rec["text"][:300])
    return "\n".join(lines)


@app.command()
def inspect(
    path: Annotated[str, typer.Argument(help="A file or Hugging Face dataset folder.")],
    format: FormatOpt = None,
    fields: FieldsOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Detected format and encoding, record count, language and task mix, and two sample records."""
    try:
        from ..io.reader import open_source
        from ..record import from_table

        spec = SourceSpec(path=path, format=format, fields=parse_fields(fields), encoding=encoding)
        opened = open_source(spec)
        container, fmt = opened.container, opened.format
        spec = spec.model_copy(update={"format": fmt, "encoding": opened.encoding})
        ledger = Ledger()
        with progress_bar(f"reading {path}") as tick:
            table = pa.concat_tables(list(read_batches(spec, ledger=ledger, on_progress=tick)))
        stats = compute_stats(table)
    except MedcurateError as e:
        fail(str(e))
    entry = ledger.to_dict()[f"read:{spec.source_name()}"]
    enc = f", encoding [green]{opened.encoding}[/]" if opened.encoding else ""
    out.print(f"[bold]{path}[/]: container [green]{container}[/], format [green]{fmt}[/]{enc}")
    out.print(f"records: {entry['kept']:,} readable, {entry['rejected']:,} rejected")
    for reason, n in entry["reasons"].items():
        out.print(f"  rejected: {reason} ×{n}")
    out.print("languages: " + ", ".join(f"{k} {v}" for k, v in stats["by_lang"].items()))
    out.print("tasks: " + ", ".join(f"{k} {v}" for k, v in stats["by_task"].items()))
    for rec in from_table(table.slice(0, 2)):
        out.rule()
        out.print(render_record(rec))


@app.command()
def convert(
    input: Annotated[str, typer.Argument(help="Input file or Hugging Face dataset folder.")],
    output: Annotated[Path, typer.Argument(help="Output: .jsonl[.gz|.zst], .parquet, or a folder for hf.")],
    format: FormatOpt = None,
    to: Annotated[str | None, typer.Option("--to", help="jsonl | parquet | hf (default: from the name)")] = None,
    fields: FieldsOpt = None,
    source: Annotated[str | None, typer.Option("--source", help="Source name (default: file name).")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Language of every record, if known.")] = None,
    encoding: EncodingOpt = None,
    rejects: RejectsOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Read any supported format and write canonical records."""
    ledger = Ledger()
    rejects_path = rejects or default_rejects_path(output)
    try:
        spec = SourceSpec(path=input, format=format, fields=parse_fields(fields), name=source, lang=lang,
                          encoding=encoding)
        writer = open_writer(output, to)
        with RejectWriter(rejects_path) as rw, progress_bar(f"converting {input}") as tick:
            for table in read_parallel(spec, rejects=rw, ledger=ledger, strict=strict, on_progress=tick):
                writer.write(table)
            writer.close()
        ledger.check()
    except MedcurateError as e:
        fail(str(e))
    print_ledger(ledger)
    n_rejected = ledger.to_dict()[f"read:{spec.source_name()}"]["rejected"]
    out.print(f"wrote {writer.count:,} records to {output}; {n_rejected:,} rejects to {rejects_path}")


@app.command()
def stats(
    path: Annotated[str, typer.Argument(help="Records (any readable format) or a rejects file.")],
    plot: Annotated[Path | None, typer.Option("--plot", help="Write PNG charts to this folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Counts by source, language and task; lengths; and, for rejects, counts per step and reason."""
    try:
        p = Path(path)
        is_rejects = p.name.endswith(".rejects.jsonl")
        result: dict = {}
        table = empty_table()
        if not is_rejects:
            with progress_bar(f"reading {path}") as tick:
                table = read_table(SourceSpec(path=path), on_progress=tick)
            result["stats"] = compute_stats(table)
            beside = default_rejects_path(p)
            if beside.exists():
                result["rejects"] = reject_report(read_rejects(beside))
        else:
            result["rejects"] = reject_report(read_rejects(p))
    except MedcurateError as e:
        fail(str(e))
    if as_json:
        out.print_json(json.dumps(result, ensure_ascii=False))
    else:
        if "stats" in result:
            print_stats(result["stats"], path)
        if result.get("rejects"):
            print_reject_report(result["rejects"])
    if plot and table.num_rows:
        for f in plot_stats(table, plot):
            out.print(f"chart: {f}")


@app.command()
def schemas(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the JSON Schemas.")] = Path("schemas"),
) -> None:
    """Regenerate the JSON Schemas from the code models."""
    from ..schemas import write_schemas

    for f in write_schemas(out_dir):
        out.print(f"wrote {f}")
