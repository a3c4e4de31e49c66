"""`medcurate eval`: benchmark accuracy of a local model or an endpoint, with confidence intervals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import MedcurateError
from .app import app, console, fail, option_errors, out
from .llm import CacheOpt, ConcurrencyOpt, EndpointOpt, KeyEnvOpt, LLMConfigOpt, ModelOpt, resolve_endpoint


def print_results(result: dict) -> None:
    t = Table(title=f"{result['model']} ({result['method']})")
    for col in ("benchmark", "style", "items", "accuracy", "95% CI", "unparseable", "items/s"):
        t.add_column(col, justify="left" if col in ("benchmark", "style") else "right")
    for e in result["summary"]:
        t.add_row(e["benchmark"], e["style"], str(e["n"]), f"{100 * e['accuracy']:.1f}%",
                  f"{100 * e['ci95'][0]:.1f}–{100 * e['ci95'][1]:.1f}", str(e["unparseable"]),
                  f"{e['items_per_s']:.2f}")
    out.print(t)
    t = Table(title="by language")
    for col in ("benchmark", "style", "language", "items", "accuracy", "95% CI"):
        t.add_column(col, justify="right" if col in ("items", "accuracy", "95% CI") else "left")
    for e in result["summary"]:
        for lang, g in e["by_lang"].items():
            t.add_row(e["benchmark"], e["style"], lang, str(g["n"]), f"{100 * g['accuracy']:.1f}%",
                      f"{100 * g['ci95'][0]:.1f}–{100 * g['ci95'][1]:.1f}")
    out.print(t)


@app.command("eval")
def eval_command(
    model: Annotated[str | None, typer.Argument(
        help="A model folder, a .gguf file, an adapter folder, a trainer output folder, or an http(s):// "
             "OpenAI-compatible endpoint; SmolLM2-135M-Instruct when left out.")] = None,
    benchmark: Annotated[list[str], typer.Option("--benchmark", "-b", help="A benchmark file (repeatable).")] = [],  # noqa: B006
    style: Annotated[list[str], typer.Option("--style", "-s", help="direct, cot or verify (repeatable).")] = [],  # noqa: B006
    method: Annotated[str, typer.Option(help="auto, loglik or generate.")] = "auto",
    target: Annotated[str, typer.Option(help="loglik: score the option's letter or its text.")] = "letter",
    normalize: Annotated[str, typer.Option(help="loglik: none, tokens or bytes.")] = "none",
    chat_template: Annotated[bool, typer.Option("--chat-template", help="loglik: wrap prompts in the chat "
                                                                         "template.")] = False,
    shots: Annotated[int, typer.Option(help="Worked examples before each question (needs --dev).")] = 0,
    dev: Annotated[str | None, typer.Option(help="File the k-shot examples come from.")] = None,
    limit: Annotated[int | None, typer.Option(help="Score a seeded sample of this many items per "
                                                   "benchmark.")] = None,
    seed: Annotated[int, typer.Option(help="Seeds the sample, the shots and the bootstrap.")] = 1,
    batch_size: Annotated[int, typer.Option(help="Sequences per forward pass.")] = 8,
    max_tokens: Annotated[int, typer.Option(help="Most tokens per reply or chain of thought.")] = 256,
    base: Annotated[str | None, typer.Option(help="Base model of an adapter folder, when it has moved.")] = None,
    recipe: Annotated[Path | None, typer.Option(help="The recipe the model's data came from: warns about "
                                                     "benchmarks it was not decontaminated against.")] = None,
    output: Annotated[Path, typer.Option("--out", "-o", help="Folder for eval.json and eval.md.")] = Path("eval"),
    api_model: ModelOpt = None,
    api_key_env: KeyEnvOpt = None,
    endpoint: EndpointOpt = None,
    llm_config: LLMConfigOpt = None,
    concurrency: ConcurrencyOpt = None,
    cache: CacheOpt = None,
) -> None:
    """Score MODEL on multiple-choice and PubMedQA benchmarks: accuracy with a bootstrap 95% interval."""
    from training.evaluation.results import write
    from training.evaluation.run import evaluate

    say = lambda m: console.print(m, highlight=False)  # noqa: E731
    spec = eval_spec(benchmark=benchmark, styles=style or ["direct"], method=method, target=target,
                     normalize=normalize, chat_template=chat_template, shots=shots, dev=dev, limit=limit, seed=seed,
                     batch_size=batch_size, max_tokens=max_tokens)
    try:
        decontaminated = decontamination_of(recipe, say)
        if endpoint or (model and model.startswith(("http://", "https://"))):
            subject = endpoint_target(resolve_endpoint(model if not endpoint else None, api_model, api_key_env,
                                                       endpoint, llm_config, concurrency))
        else:
            subject = local_target(model, base)
        result = evaluate(subject, spec, cache_path=cache, decontaminated=decontaminated, say=say)
    except MedcurateError as e:
        fail(str(e))
    print_results(result)
    for note in result["notes"]:
        say(note)
    js, md = write(result, output)
    out.print(f"wrote {js} and {md}")


def eval_spec(*, benchmark: list[str], **options: Any) -> Any:
    """The options as an evaluation spec, or exit naming the option that is wrong."""
    from pydantic import ValidationError

    from training.evaluation import EvalSpec

    try:
        return EvalSpec(benchmarks=benchmark, **options)
    except ValidationError as e:
        fail(option_errors(e))


def decontamination_of(recipe: Path | None, say: Callable[[str], None]) -> list[str] | None:
    """The benchmarks the recipe's data was decontaminated against; None, with a note, when no recipe is given."""
    if recipe is None:
        say("note: no --recipe given, so nothing says whether the training data was decontaminated "
            "against these benchmarks")
        return None
    from ..recipe import load_recipe

    return load_recipe(recipe).decontaminated_against()


def endpoint_target(ep: Any) -> Any:
    """An OpenAI-compatible endpoint to score, named by its model and address."""
    from training.evaluation.run import Target

    return Target(name=f"{ep.model} at {ep.base_url}", endpoint=ep)


def local_target(model: str | None, base: str | None) -> Any:
    """A local model (folder, GGUF file, adapter or trainer output; the embedded default when None) to score."""
    from training.evaluation.models import load_local
    from training.evaluation.run import Target

    with console.status("loading the model"):
        m, tok, described = load_local(model, base)
    return Target(name=described, model=m, tokenizer=tok)
