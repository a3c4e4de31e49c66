"""Commands that run steps over one input file: clean and its parts, dedupe, decontaminate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..commands import CLEAN_CHAIN
from ..errors import MedcurateError
from .app import ConfigOpt, EncodingOpt, RejectsOpt, WorkersOpt, app, fail, out, print_ledger, step_bars


def _run_steps(input: str, output: Path, names: tuple[str, ...], config: Path | None, rejects: Path | None,
               workers: int, options: dict | None = None, encoding: str | None = None) -> None:
    from ..commands import run_step_command

    try:
        with step_bars() as progress:
            result = run_step_command(input, output, names, config=config, options=options, rejects=rejects,
                                      workers=workers, progress=progress, encoding=encoding)
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
        encoding: EncodingOpt = None,
    ) -> None:
        _run_steps(input, output, steps, config, rejects, workers, encoding=encoding)

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
    char_ngram: Annotated[int | None, typer.Option("--char-ngram", help="Characters in a shared n-gram, for "
                                                   "Chinese and Japanese (default 20).")] = None,
    min_words: Annotated[int | None, typer.Option("--min-words", help="Shortest benchmark field matched as a "
                                                  "phrase, in words (default 6).")] = None,
    min_chars: Annotated[int | None, typer.Option("--min-chars", help="The same for Chinese and Japanese, in "
                                                  "characters (default 10).")] = None,
    near_threshold: Annotated[float | None, typer.Option(help="Jaccard of a near-duplicate question.")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write records matched per benchmark and field "
                                                "(Markdown; JSON for a .json path) and print it.")] = None,
    config: ConfigOpt = None,
    rejects: RejectsOpt = None,
) -> None:
    """Remove records that overlap evaluation benchmarks: shared n-grams with any field of an item, short fields
    found whole, near-duplicate questions."""
    given = {"benchmarks": benchmark, "ngram": ngram, "char_ngram": char_ngram, "min_words": min_words,
             "min_chars": min_chars, "near_threshold": near_threshold, "report": str(report) if report else None}
    _run_steps(input, output, ("decontaminate",), config, rejects, 1,
               {"decontaminate": {k: v for k, v in given.items() if v is not None}})
    if report:
        out.print(report.read_text(encoding="utf-8"), markup=False, soft_wrap=True)
        out.print(f"contamination report: {report}")


_steps_command("clean", CLEAN_CHAIN,
               "The default cleaning chain: normalize -> langid -> pii -> quality -> relevance.")
for _name, _doc in (("normalize", "Unicode, mojibake, control characters, whitespace, HTML to text."),
                    ("langid", "Language of each record and role; keep-list, confidence, mixed pairs."),
                    ("pii", "Replace personal data with typed placeholders (<EMAIL>, <PHONE>, ...)."),
                    ("quality", "Length, repetition, refusals, truncation and symbol filters."),
                    ("relevance", "Drop records that are not medical, each judged in the light of its source."),
                    ("pairs", "Preference pairs (and KTO labels) from review decisions and judged candidates, "
                              "added beside the records.")):
    _steps_command(_name, (_name,), _doc)
