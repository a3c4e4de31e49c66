"""The `medcurate` command line."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .commands import CLEAN_CHAIN
from .errors import MedcurateError
from .io.parallel import read_parallel
from .io.reader import SourceSpec, read_batches, read_table
from .io.writers import open_writer
from .ledger import Ledger
from .record import empty_table
from .rejects import RejectWriter, default_rejects_path, read_rejects
from .stats import compute_stats, plot_stats, reject_report

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Curate multilingual medical instruction data, and fine-tune models on it.")
console = Console(stderr=True)
out = Console()

FormatOpt = Annotated[str | None, typer.Option("--format", "-f", help="Input format; detected if left out.")]
FieldsOpt = Annotated[str | None, typer.Option(
    "--fields", help="Map canonical fields to your column names: question=Frage,answer=Antwort")]
RejectsOpt = Annotated[Path | None, typer.Option(
    "--rejects", help="Where rejected records go (default: <output>.rejects.jsonl beside the output).")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Stop at the first bad record.")]


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


def fail(message: str) -> None:
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
) -> None:
    """Detected format, record count, language and task mix, and two sample records."""
    try:
        from .io.reader import open_source
        from .record import from_table

        spec = SourceSpec(path=path, format=format, fields=parse_fields(fields))
        _, container, fmt, _ = open_source(spec)
        ledger = Ledger()
        with progress_bar(f"reading {path}") as tick:
            table = pa.concat_tables(list(read_batches(spec, ledger=ledger, on_progress=tick)))
        stats = compute_stats(table)
    except MedcurateError as e:
        fail(str(e))
    entry = ledger.to_dict()[f"read:{spec.source_name()}"]
    out.print(f"[bold]{path}[/]: container [green]{container}[/], format [green]{fmt}[/]")
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
    rejects: RejectsOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Read any supported format and write canonical records."""
    ledger = Ledger()
    rejects_path = rejects or default_rejects_path(output)
    try:
        spec = SourceSpec(path=input, format=format, fields=parse_fields(fields), name=source, lang=lang)
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
    from .schemas import write_schemas

    for f in write_schemas(out_dir):
        out.print(f"wrote {f}")


SAMPLE_DATA = Path(__file__).resolve().parents[1] / "recipes" / "data"

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML: step name -> options.")]
WorkersOpt = Annotated[int, typer.Option("--workers", "-j", help="Processes for per-record steps.")]


def _run_steps(input: str, output: Path, names: tuple[str, ...], config: Path | None, rejects: Path | None,
               workers: int, options: dict | None = None) -> None:
    from .commands import run_step_command

    try:
        result = run_step_command(input, output, names, config=config, options=options, rejects=rejects,
                                  workers=workers, console=console)
    except MedcurateError as e:
        fail(str(e))
    print_ledger(result.ledger)
    out.print(f"wrote {result.written:,} records to {output}; rejects in {result.rejects_path}")


def _steps_command(name: str, steps: tuple[str, ...], doc: str) -> None:
    """Register a command that runs these steps over one input file."""

    def command(
        input: Annotated[str, typer.Argument(help="Input records, any readable format.")],
        output: Annotated[Path, typer.Argument(help="Output: .jsonl[.gz], .parquet, or a folder for hf.")],
        config: ConfigOpt = None,
        rejects: RejectsOpt = None,
        workers: WorkersOpt = 1,
    ) -> None:
        _run_steps(input, output, steps, config, rejects, workers)

    command.__doc__ = doc
    app.command(name=name)(command)


@app.command()
def dedupe(
    input: Annotated[str, typer.Argument(help="Input records, any readable format.")],
    output: Annotated[Path, typer.Argument(help="Output: .jsonl[.gz], .parquet, or a folder for hf.")],
    threshold: Annotated[float | None, typer.Option(help="Jaccard similarity of near duplicates.")] = None,
    num_perm: Annotated[int | None, typer.Option("--num-perm", help="MinHash permutations.")] = None,
    ngram: Annotated[int | None, typer.Option(help="Words per shingle.")] = None,
    key: Annotated[str | None, typer.Option(help="conversation | user | field")] = None,
    field: Annotated[str | None, typer.Option(help="With --key field: a dotted path, e.g. mcq.question.")] = None,
    exact_only: Annotated[bool, typer.Option("--exact-only", help="Only exact duplicates.")] = False,
    index: Annotated[Path | None, typer.Option("--index", help="Persistent index folder (incremental).")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write the largest clusters (Markdown).")] = None,
    config: ConfigOpt = None,
    rejects: RejectsOpt = None,
    workers: WorkersOpt = 1,
) -> None:
    """Remove exact and near duplicates (MinHash LSH) across all sources."""
    given = {"threshold": threshold, "num_perm": num_perm, "ngram": ngram, "key": key, "field": field,
             "index_dir": str(index) if index else None, "report": str(report) if report else None,
             "workers": workers if workers > 1 else None, "near": False if exact_only else None}
    options = {k: v for k, v in given.items() if v is not None}
    _run_steps(input, output, ("dedupe",), config, rejects, 1, {"dedupe": options})
    if report:
        out.print(f"cluster report: {report}")


@app.command()
def decontaminate(
    input: Annotated[str, typer.Argument(help="Input records, any readable format.")],
    output: Annotated[Path, typer.Argument(help="Output: .jsonl[.gz], .parquet, or a folder for hf.")],
    benchmark: Annotated[list[str], typer.Option("--benchmark", "-b", help="A benchmark file (repeatable).")],
    ngram: Annotated[int | None, typer.Option(help="Words in a shared n-gram (default 13).")] = None,
    near_threshold: Annotated[float | None, typer.Option(help="Jaccard of a near-duplicate question.")] = None,
    config: ConfigOpt = None,
    rejects: RejectsOpt = None,
) -> None:
    """Remove records that overlap evaluation benchmarks (shared n-grams or near-duplicate questions)."""
    given = {"benchmarks": benchmark, "ngram": ngram, "near_threshold": near_threshold}
    _run_steps(input, output, ("decontaminate",), config, rejects, 1,
               {"decontaminate": {k: v for k, v in given.items() if v is not None}})


_steps_command("clean", CLEAN_CHAIN,
               "The default cleaning chain: normalize -> langid -> pii -> quality.")
for _name, _doc in (("normalize", "Unicode, mojibake, control characters, whitespace, HTML to text."),
                    ("langid", "Language of each record and role; keep-list, confidence, mixed pairs."),
                    ("pii", "Replace personal data with typed placeholders (<EMAIL>, <PHONE>, ...)."),
                    ("quality", "Length, repetition, refusals, truncation and medical-relevance filters.")):
    _steps_command(_name, (_name,), _doc)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the demo writes its outputs.")] = Path("out/demo"),
) -> None:
    """The demo job: every shipped sample file read, cleaned and deduplicated; ledger, stats and charts."""
    from .demo import run_demo

    try:
        result = run_demo(SAMPLE_DATA, out_dir, console)
    except MedcurateError as e:
        fail(str(e))
    print_ledger(result.ledger)
    print_stats(compute_stats(result.table), str(result.output))
    if result.rejects:
        print_reject_report(reject_report(result.rejects))
    out.print(f"records: {result.output}; rejects: {result.rejects_path}; charts: {result.plots}")
