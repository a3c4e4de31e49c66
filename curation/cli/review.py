"""`medcurate review`: queues of records for clinicians, the local review app, and the spreadsheet round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import MedcurateError
from ..review.queues import records_to_review, store_path
from .app import app, fail, option_errors, out

review_app = typer.Typer(no_args_is_help=True, help="Human review: create queues, serve the review app, export, "
                                                     "import, stats.")
app.add_typer(review_app, name="review")

NameArg = Annotated[str, typer.Argument(help="The queue's name.")]
WorkOpt = Annotated[Path | None, typer.Option(
    "--work-dir", "-w", help="A recipe (its work dir) or a folder holding review.sqlite; ./work by default.")]


@review_app.command("create")
def create(
    source: Annotated[Path, typer.Argument(help="A recipe (the records entering its review step) or a file of "
                                                "records.")],
    name: Annotated[str, typer.Option("--name", "-n", help="The queue's name.")],
    select: Annotated[str, typer.Option(help="sample, stratified, below_score, derived or all.")] = "sample",
    size: Annotated[int | None, typer.Option(help="Most records in the queue.")] = 200,
    seed: Annotated[int, typer.Option()] = 0,
    stratify_by: Annotated[str, typer.Option(help="stratified: comma-separated source, lang, origin.")] =
        "source,lang",
    score: Annotated[str, typer.Option(help="below_score: dotted path of the score.")] = "meta.judge.overall",
    threshold: Annotated[float, typer.Option(help="below_score: queue records under this.")] = 3.0,
    double: Annotated[float, typer.Option(help="Share of records decided by two reviewers.")] = 0.0,
    reasons: Annotated[str | None, typer.Option(help="Reject reasons, separated by ';'.")] = None,
    db: Annotated[Path | None, typer.Option(help="The review store (default: the work dir's review.sqlite).")] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Update an existing queue from the records.")] = False,
) -> None:
    """Queue records for review by a policy: a (stratified) sample, low judge scores, derived records, or all."""
    from pydantic import ValidationError

    from ..review import QueuePolicy, ReviewStore
    from ..review.policy import select as pick

    try:
        fields: dict[str, Any] = {"select": select, "size": size, "seed": seed, "score": score,
                                  "threshold": threshold, "double": double,
                                  "stratify_by": [s.strip() for s in stratify_by.split(",") if s.strip()]}
        if reasons:
            fields["reasons"] = [r.strip() for r in reasons.split(";") if r.strip()]
        policy = QueuePolicy(**fields)
    except ValidationError as e:
        fail(option_errors(e))
    try:
        records, default_db, origin = records_to_review(source, name)
        store = ReviewStore(db or default_db)
        counts = store.create(name, records, pick(records, policy), policy, origin, refresh=refresh)
    except MedcurateError as e:
        fail(str(e))
    out.print(f"queue '{name}' in {store.path}: {counts['queued']:,} records queued"
              + (f", {counts['changed']:,} changed since queued (back to undecided)" if refresh else ""))


@review_app.command("serve")
def serve(
    name: NameArg,
    work_dir: WorkOpt = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
) -> None:
    """Start the review app on 127.0.0.1; the link it prints carries the access token."""
    import secrets

    import uvicorn

    from ..review import ReviewStore
    from ..review.app import make_app

    try:
        path = store_path(work_dir)
        if not path.exists():
            raise MedcurateError(f"no review store at {path} (create a queue first)")
        token = secrets.token_urlsafe(24)
        web = make_app(ReviewStore(path), name, token)
    except MedcurateError as e:
        fail(str(e))
    out.print(f"review '{name}' at http://127.0.0.1:{port}/?token={token}  (the token is needed: keep the link "
              f"to yourself)", soft_wrap=True)
    uvicorn.run(web, host="127.0.0.1", port=port, log_level="warning")


@review_app.command("export")
def export(
    name: NameArg,
    to: Annotated[Path, typer.Option("--to", help="A .csv or .jsonl file.")],
    work_dir: WorkOpt = None,
) -> None:
    """Write the queue (records and decisions) for reviewers who work in a spreadsheet."""
    from ..review import ReviewStore
    from ..review.offline import export_queue

    try:
        n = export_queue(ReviewStore(store_path(work_dir)), name, to)
    except MedcurateError as e:
        fail(str(e))
    out.print(f"wrote {n:,} rows to {to}")


@review_app.command("import")
def import_(
    name: NameArg,
    file: Annotated[Path, typer.Argument(help="The filled-in .csv or .jsonl.")],
    reviewer: Annotated[str | None, typer.Option(help="For rows whose reviewer column is empty.")] = None,
    work_dir: WorkOpt = None,
) -> None:
    """Store the decisions of a filled-in export; a bad row stops the import and is named."""
    from ..review import ReviewStore
    from ..review.offline import import_decisions

    try:
        n = import_decisions(ReviewStore(store_path(work_dir)), name, file, reviewer)
    except MedcurateError as e:
        fail(str(e))
    out.print(f"imported {n:,} decisions into queue '{name}'")


@review_app.command("stats")
def stats(name: NameArg, work_dir: WorkOpt = None) -> None:
    """Progress, accept/reject counts by source and reason, and agreement (Cohen's kappa)."""
    from ..review import ReviewStore
    from ..review.stats import queue_stats

    try:
        path = store_path(work_dir)
        if not path.exists():
            raise MedcurateError(f"no review store at {path}")
        s = queue_stats(ReviewStore(path), name)
    except MedcurateError as e:
        fail(str(e))
    out.print(f"[bold]{name}[/]: {s['decided']:,} of {s['records']:,} records decided ({s['progress']:.1%}); "
              f"{s['decisions']:,} decisions by {len(s['reviewers'])} reviewer(s); {s['stale_decisions']} stale")
    t = Table(title="by source")
    for col in ("source", "accept", "reject", "edit"):
        t.add_column(col, justify="left" if col == "source" else "right")
    for src, c in s["by_source"].items():
        t.add_row(src, *(str(c.get(k, 0)) for k in ("accept", "reject", "edit")))
    out.print(t)
    if s["reject_reasons"]:
        t = Table(title="reject reasons")
        t.add_column("reason")
        t.add_column("records", justify="right")
        for reason, n in s["reject_reasons"].items():
            t.add_row(reason, str(n))
        out.print(t)
    if s["double_reviewed"]:
        out.print(f"agreement on {s['double_reviewed']} double-reviewed records: {s['agreement']:.1%}, "
                  f"Cohen's kappa {s['kappa']:.3f}")
