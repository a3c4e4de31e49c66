"""Commands that use an LLM: translate, synthesize, judge; the embedded local model unless an endpoint is given."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import MedcurateError
from ..io.yaml_mapping import read_yaml_mapping
from ..llm.config import Endpoint
from .app import ConfigOpt, RejectsOpt, app, fail, out, print_ledger, step_bars

InArg = Annotated[str, typer.Argument(help="Input records, any readable format.")]
OutArg = Annotated[Path, typer.Argument(help="Output: .jsonl[.gz], .parquet, or a folder for hf.")]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint, e.g. "
                                                                     "http://127.0.0.1:8000/v1.")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model name sent to the endpoint.")]
KeyEnvOpt = Annotated[str | None, typer.Option("--api-key-env", help="Environment variable holding the API key.")]
EndpointOpt = Annotated[str | None, typer.Option("--endpoint", help="A named endpoint from --llm-config.")]
LLMConfigOpt = Annotated[Path | None, typer.Option("--llm-config", help="YAML with `endpoints:` (as in a recipe's "
                                                                         "llm section).")]
CacheOpt = Annotated[Path | None, typer.Option("--cache", help="Reply cache (default: <output>.llm-cache.sqlite).")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Estimate requests, tokens and cost; send nothing.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Send at most this many records.")]
ConcurrencyOpt = Annotated[int | None, typer.Option("--concurrency", help="Requests in flight at once.")]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-tokens", help="Most tokens per reply.")]


def resolve_endpoint(base_url: str | None, model: str | None, api_key_env: str | None, name: str | None,
                     llm_config: Path | None, concurrency: int | None) -> Endpoint:
    if name:
        if llm_config is None:
            raise MedcurateError("--endpoint needs --llm-config naming the file that defines it")
        _, data = read_yaml_mapping(llm_config, "expected a mapping with llm.endpoints or endpoints")
        endpoints = (data.get("llm", data) or {}).get("endpoints", {})
        if name not in endpoints:
            raise MedcurateError(f"{llm_config}: no endpoint '{name}' (defined: {', '.join(endpoints) or 'none'})")
        endpoint = Endpoint.model_validate(endpoints[name])
    else:
        given = {"base_url": base_url, "model": model, "api_key_env": api_key_env}
        endpoint = Endpoint(**{k: v for k, v in given.items() if v is not None})
    return endpoint.model_copy(update={"concurrency": concurrency}) if concurrency else endpoint


def run_llm_command(name: str, input: str, output: Path, options: dict[str, Any], endpoint_args: tuple,
                    cache: Path | None, config: Path | None, rejects: Path | None, dry_run: bool) -> None:
    """Resolve the endpoint from the command's options, run the step, print its usage."""
    from ..commands import run_step_command
    from ..context import RunContext

    cache = cache or output.with_name(output.name + ".llm-cache.sqlite")
    try:
        endpoint = resolve_endpoint(*endpoint_args)
        with step_bars() as progress:
            result = run_step_command(input, output, (name,), config=config, rejects=rejects, progress=progress,
                                      options={name: {k: v for k, v in options.items() if v is not None}},
                                      context=RunContext(endpoints={"command": endpoint}, default_endpoint="command",
                                                         llm_cache=cache), dry_run=dry_run)
    except MedcurateError as e:
        fail(str(e))
    llm = result.summaries[name].get("llm", {})
    tally = result.summaries[name].get("records") or {}
    if tally:
        out.print("records: " + ", ".join(f"{k} {v:,}" for k, v in tally.items()), highlight=False, soft_wrap=True)
    if dry_run:
        est = llm["estimate"]
        out.print(f"dry run: {est['requests']:,} requests to send ({llm['cache_hits']:,} already cached), at most "
                  f"{est['prompt_tokens']:,} prompt + {est['completion_tokens']:,} completion tokens, "
                  f"cost at most {est['cost']:.4f} (first round; repairs and back-translations may add more)")
        return
    print_ledger(result.ledger)
    out.print(f"{llm.get('requests', 0):,} requests, {llm.get('cache_hits', 0):,} cache hits, "
              f"{llm.get('failed', 0):,} failed, {llm.get('prompt_tokens', 0):,} prompt + "
              f"{llm.get('completion_tokens', 0):,} completion tokens, cost {llm.get('cost', 0):.4f}")
    out.print(f"wrote {result.written:,} records to {output}; rejects in {result.rejects_path}")


@app.command()
def translate(
    input: InArg, output: OutArg,
    to: Annotated[str, typer.Option("--to", help="Target languages, comma-separated: es,zh,ar")],
    glossary: Annotated[Path | None, typer.Option("--glossary", help="TSV glossary (a column per language).")] = None,
    back_translate: Annotated[bool, typer.Option("--back-translate", help="Verify by translating back.")] = False,
    base_url: BaseUrlOpt = None, model: ModelOpt = None, api_key_env: KeyEnvOpt = None, endpoint: EndpointOpt = None,
    llm_config: LLMConfigOpt = None, concurrency: ConcurrencyOpt = None, limit: LimitOpt = None,
    cache: CacheOpt = None, config: ConfigOpt = None, rejects: RejectsOpt = None, dry_run: DryRunOpt = False,
    max_tokens: MaxTokensOpt = None,
) -> None:
    """Translate records into other languages; each translation is verified or rejected with the reason."""
    opts = {"to": [t.strip() for t in to.split(",") if t.strip()], "glossary": str(glossary) if glossary else None,
            "back_translate": back_translate or None, "limit": limit, "max_tokens": max_tokens}
    endpoint_args = (base_url, model, api_key_env, endpoint, llm_config, concurrency)
    run_llm_command("translate", input, output, opts, endpoint_args, cache, config, rejects, dry_run)


@app.command()
def synthesize(
    input: InArg, output: OutArg,
    mode: Annotated[str, typer.Option("--mode", help="qa | self-instruct | mcq | dialogue")] = "qa",
    count: Annotated[int | None, typer.Option("--count", help="self-instruct: new instructions to ask for.")] = None,
    base_url: BaseUrlOpt = None, model: ModelOpt = None, api_key_env: KeyEnvOpt = None, endpoint: EndpointOpt = None,
    llm_config: LLMConfigOpt = None, concurrency: ConcurrencyOpt = None, limit: LimitOpt = None,
    cache: CacheOpt = None, config: ConfigOpt = None, rejects: RejectsOpt = None, dry_run: DryRunOpt = False,
    max_tokens: MaxTokensOpt = None,
) -> None:
    """Synthesize new records (grounded QA, self-instruct, verified MCQ, dialogues) with an LLM."""
    opts = {"mode": mode, "count": count, "limit": limit, "max_tokens": max_tokens}
    endpoint_args = (base_url, model, api_key_env, endpoint, llm_config, concurrency)
    run_llm_command("synthesize", input, output, opts, endpoint_args, cache, config, rejects, dry_run)


@app.command()
def judge(
    input: InArg, output: OutArg,
    min_overall: Annotated[float | None, typer.Option("--min-overall", help="Reject below this mean score.")] = None,
    base_url: BaseUrlOpt = None, model: ModelOpt = None, api_key_env: KeyEnvOpt = None, endpoint: EndpointOpt = None,
    llm_config: LLMConfigOpt = None, concurrency: ConcurrencyOpt = None, limit: LimitOpt = None,
    cache: CacheOpt = None, config: ConfigOpt = None, rejects: RejectsOpt = None, dry_run: DryRunOpt = False,
    max_tokens: MaxTokensOpt = None,
) -> None:
    """Grade records with an LLM (accuracy, helpfulness, safety, language); scores go to meta.judge."""
    opts = {"min_overall": min_overall, "limit": limit, "max_tokens": max_tokens}
    endpoint_args = (base_url, model, api_key_env, endpoint, llm_config, concurrency)
    run_llm_command("judge", input, output, opts, endpoint_args, cache, config, rejects, dry_run)


@app.command()
def candidates(
    input: InArg, output: OutArg,
    n: Annotated[int | None, typer.Option("--n", help="Replies sampled per prompt (2 or more).")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (above 0).")] = None,
    seed: Annotated[int | None, typer.Option(help="The first reply's seed; the next ones take seed+1, ...")] = None,
    base_url: BaseUrlOpt = None, model: ModelOpt = None, api_key_env: KeyEnvOpt = None, endpoint: EndpointOpt = None,
    llm_config: LLMConfigOpt = None, concurrency: ConcurrencyOpt = None, limit: LimitOpt = None,
    cache: CacheOpt = None, config: ConfigOpt = None, rejects: RejectsOpt = None, dry_run: DryRunOpt = False,
    max_tokens: MaxTokensOpt = None,
) -> None:
    """Sample several replies per prompt and grade each with the judge; `medcurate pairs` turns them into pairs."""
    opts = {"n": n, "temperature": temperature, "seed": seed, "limit": limit, "max_tokens": max_tokens}
    endpoint_args = (base_url, model, api_key_env, endpoint, llm_config, concurrency)
    run_llm_command("candidates", input, output, opts, endpoint_args, cache, config, rejects, dry_run)
