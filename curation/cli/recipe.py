"""Commands over recipes: validate, plan, run, and push an exported dataset to the Hub."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ..errors import MedcurateError
from ..executors.config import ExecutorConfig
from ..recipe import LoadedRecipe, RecipeError, load_recipe
from .app import WorkersOpt, app, console, fail, out, print_ledger, step_bars
from .train import print_training

if TYPE_CHECKING:
    from ..run import RunResult

RecipeArg = Annotated[Path, typer.Argument(help="A recipe YAML file.")]


def load_or_exit(recipe: Path) -> LoadedRecipe:
    """The recipe, or exit 2 with every problem listed (a recipe error) or the one-line error."""
    try:
        return load_recipe(recipe)
    except RecipeError as e:
        console.print(str(e), highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except MedcurateError as e:
        fail(str(e))


@app.command()
def validate(recipe: RecipeArg) -> None:
    """Check a recipe; every problem is reported at once, with its YAML path and line."""
    loaded = load_or_exit(recipe)
    r = loaded.recipe
    out.print(f"{recipe}: valid ({len(loaded.sources)} source files, {len(r.steps)} steps, "
              f"{len(r.mixture)} stages)")


@app.command()
def plan(recipe: RecipeArg) -> None:
    """Each step of a recipe as cached or to run, with record counts where known."""
    from ..plan import exported_manifest, make_plan, why_to_run

    loaded = load_or_exit(recipe)
    try:
        p = make_plan(loaded)
    except MedcurateError as e:
        fail(str(e))
    why = why_to_run(loaded, p)
    t = Table(title=f"plan for {recipe} (work dir {loaded.work})")
    for col in ("stage", "status", "records out", "fingerprint"):
        t.add_column(col, justify="right" if col == "records out" else "left")
    blocked = False
    for src in p.sources:
        cached = src.entry.done
        t.add_row(f"read {src.spec.source_name()}", "cached" if cached else "[yellow]to run[/]",
                  f"{src.entry.info()['records']:,}" if cached else "", src.fingerprint)
    for s in p.steps:
        cached = s.cached and not blocked
        blocked = blocked or not cached
        t.add_row(s.id, "cached" if cached else "[yellow]to run[/]",
                  f"{s.entry.info()['records']:,}" if cached else "", s.fingerprint)
    exported = exported_manifest(loaded, p) is not None
    t.add_row("mixture + export", "cached" if exported and not blocked else "[yellow]to run[/]", "",
              p.export_fingerprint)
    out.print(t)
    for step_id, reason in why.items():
        out.print(f"{step_id} runs: {reason}", highlight=False, soft_wrap=True)


@app.command()
def run(
    recipe: RecipeArg,
    force: Annotated[list[str] | None, typer.Option("--force", help="Recompute this step and all after it "
                                                                    "(repeatable; 'read' re-reads sources).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Stop after this step (no mixture or export).")] = None,
    workers: WorkersOpt = 0,
    no_train: Annotated[bool, typer.Option("--no-train", help="Skip the recipe's train section.")] = False,
    executor: Annotated[str | None, typer.Option("--executor", help="local or ray (overrides the recipe's "
                                                                    "executor type).")] = None,
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster to join ('auto', "
                                                                  "'ray://head:10001').")] = None,
) -> None:
    """Build the datasets a recipe describes (then train, if it says so); cached steps are reused, an interrupted
    run resumes."""
    from ..recipe import run_then_train

    loaded = load_or_exit(recipe)
    chosen = chosen_executor(loaded, executor, address)
    say = lambda m: console.print(m, highlight=False)  # noqa: E731
    with step_bars() as progress:

        def report_run(result: RunResult) -> None:
            progress.stop()  # the bars belong to the curation; training shows its own progress
            print_run(loaded, result)

        try:
            done = run_then_train(loaded, train=not no_train, force=tuple(force or ()), until=until,
                                  workers=workers or None, executor=chosen, progress=progress, say=say,
                                  on_run=report_run)
        except MedcurateError as e:
            fail(str(e))
    if done.training is not None:
        print_training(done.training)


def chosen_executor(loaded: LoadedRecipe, executor: str | None, address: str | None) -> ExecutorConfig:
    """The recipe's executor with the command line's --executor / --address over it."""
    chosen = loaded.recipe.executor
    if executor is None and address is None:
        return chosen
    if executor not in (None, "local", "ray"):
        fail(f"--executor: '{executor}' is not an executor (local, ray)")
    update = {k: v for k, v in (("type", executor), ("address", address)) if v is not None}
    return chosen.model_copy(update=update)


def print_run(loaded: LoadedRecipe, result: RunResult) -> None:
    """The ledger, the exported stages and where they went, and what ran or was reused."""
    print_ledger(result.ledger)
    if result.manifest:
        print_stages(result.manifest)
        first = next(iter(result.manifest["stages"]), "stage1")
        out.print(f"dataset: {loaded.output} (datasets.load_dataset('{loaded.output}', '{first}')); "
                  f"manifest: {loaded.output / 'manifest.json'}; rejects: {loaded.output / 'rejects.jsonl'}")
    out.print(f"ran: {', '.join(result.ran) or 'nothing'}; reused from {loaded.work}: {len(result.reused)}")


def print_stages(manifest: dict[str, Any]) -> None:
    """Each exported stage's split sizes and languages, and what the LLM steps cost."""
    t = Table(title="stages")
    for col in ("stage", "train", "validation", "replayed", "languages"):
        t.add_column(col, justify="left" if col in ("stage", "languages") else "right")
    for name, st in manifest["stages"].items():
        langs = ", ".join(f"{k} {v}" for k, v in st["by_language"].items())
        t.add_row(name, f"{st['train']:,}", f"{st['validation']:,}", f"{st['replayed']:,}", langs)
    out.print(t)
    llm = manifest.get("llm") or {}
    if llm.get("requests"):
        out.print(f"LLM: {llm['requests']:,} requests, {llm['prompt_tokens']:,} prompt + "
                  f"{llm['completion_tokens']:,} completion tokens, cost {llm['cost']:.4f}")


@app.command()
def push(
    folder: Annotated[Path, typer.Argument(help="An exported dataset folder (with README.md and data/).")],
    repo_id: Annotated[str, typer.Argument(help="user/name on the Hugging Face Hub.")],
    private: Annotated[bool, typer.Option("--private", help="Create the repository as private.")] = False,
    token_env: Annotated[str, typer.Option("--token-env", help="Environment variable holding the token.")] = "HF_TOKEN",
) -> None:
    """Upload an exported dataset (card, parquet shards, charts) to the Hugging Face Hub."""
    import os

    from huggingface_hub import HfApi

    if not (folder / "README.md").exists() or not (folder / "data").is_dir():
        fail(f"{folder}: not an exported dataset (no README.md and data/ inside)")
    api = HfApi(token=os.environ.get(token_env) or None)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                          allow_patterns=["README.md", "data/**", "charts/**", "manifest.json"])
    except Exception as e:  # offline, no token, no permission: one line, not a traceback
        fail(f"push to {repo_id} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    out.print(f"pushed {folder} to https://huggingface.co/datasets/{repo_id}")
