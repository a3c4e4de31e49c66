"""`medcurate eval`: the scorer against a hand computation, the strict answer parser, SmolLM2 on the shipped
set, an endpoint's parsed replies, and scores after every training stage in the model card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from curation.cli import app
from curation.errors import MedcurateError
from training.config import ModelSpec, RandomModel
from training.evaluation import EvalSpec
from training.evaluation.extract import extract_answer
from training.evaluation.items import load_benchmark
from training.evaluation.run import Target, evaluate
from training.model import load_model, load_tokenizer
from training.train import train

from .conftest import ROOT
from .llm_server import MODEL, LlamaServer
from .test_train import TINY, exported, write_config  # noqa: F401  (exported is a fixture)

pytestmark = pytest.mark.timeout(900)
MINI = str(ROOT / "recipes" / "eval" / "med_mcq.jsonl")
DEV = str(ROOT / "recipes" / "eval" / "med_mcq_dev.jsonl")
LABELS = frozenset("ABCD")


@pytest.mark.parametrize("reply,letter", [
    ("The answer is (C)", "C"), ("C.", "C"), ("**C**", "C"), ("Answer: C) Right coronary artery", "C"),
    ("Option B is wrong because... The answer is (D).", "D"), ("Final answer: **B**", "B"),
    ("La respuesta es (B)", "B"), ("答案是C", "C"), ("الإجابة هي C", "C"), ("A) Metformin", "A"),
    ("The answer is A or C", None), ("A and C", None), ("Answer: A, C", None),
    ("The answer is C. No, wait: the answer is B.", None), ("I am not sure.", None),
    ("The answer is E", None), ("the answer is a beta blocker", None), ("", None),
])
def test_answer_extraction_is_strict(reply, letter):
    assert extract_answer(reply, LABELS) == letter


@pytest.fixture(scope="module")
def tiny():
    spec = ModelSpec(random=RandomModel(hidden_size=32, layers=2, heads=2, intermediate_size=64))
    tok = load_tokenizer(spec)
    model = load_model(spec, tok)
    model.eval()
    return model, tok


def hand_logprob(model, tok, context: str, continuation: str) -> float:
    """Sum of log p(continuation token | everything before it), one unbatched forward pass, no shortcuts."""
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    whole = tok(context + continuation, add_special_tokens=False)["input_ids"]
    assert whole[: len(ctx)] == ctx
    with torch.no_grad():
        logp = model(input_ids=torch.tensor([whole])).logits[0].log_softmax(-1)
    return sum(logp[i - 1, whole[i]].item() for i in range(len(ctx), len(whole)))


@pytest.mark.parametrize("target,normalize", [("letter", "none"), ("text", "none"), ("text", "bytes")])
def test_loglik_choice_equals_the_argmax_computed_by_hand(tiny, target, normalize):
    model, tok = tiny
    spec = EvalSpec(benchmarks=[MINI], target=target, normalize=normalize, batch_size=5, bootstrap=200)
    result = evaluate(Target("tiny", model, tok), spec, say=lambda m: None)
    rows = result["items"]
    assert len(rows) == 16  # 17 lines, one repeated question counted once
    from curation.llm.prompts import Prompts

    prompts = Prompts()
    items = {it.id: it for it in load_benchmark(MINI).items}
    for row in rows:
        item = items[row["id"]]
        context, _ = prompts.render("eval_direct", item=item, shots=[], target=target, mode="loglik",
                                    reasoning=None, option=None)
        by_hand = {}
        for label, text in item.options.items():
            cont = " " + (text if target == "text" else label)
            lp = hand_logprob(model, tok, context, cont)
            by_hand[label] = lp / len(cont.encode()) if normalize == "bytes" else lp
        assert row["prediction"] == max(by_hand, key=by_hand.get)
        for label in item.options:
            assert row["scores"][label] == pytest.approx(by_hand[label], abs=1e-3)
    summary = result["summary"][0]
    assert summary["n"] == 16 and summary["correct"] == sum(r["correct"] for r in rows)
    assert summary["ci95"][0] <= summary["accuracy"] <= summary["ci95"][1]
    assert set(summary["by_lang"]) == {"en", "es", "zh", "ar"}
    assert any("counted once" in n for n in result["notes"])


def test_verify_and_cot_styles_and_shots_on_the_tiny_model(tiny):
    model, tok = tiny
    spec = EvalSpec(benchmarks=[MINI], styles=["verify", "cot"], shots=2, dev=DEV, max_tokens=8, limit=6, seed=3)
    result = evaluate(Target("tiny", model, tok), spec, decontaminated=[], say=lambda m: None)
    by_style = {e["style"]: e for e in result["summary"]}
    assert set(by_style) == {"verify", "cot"} and all(e["n"] == 6 for e in by_style.values())
    cot = [r for r in result["items"] if r["style"] == "cot"]
    assert all("reasoning" in r and set(r["scores"]) == {"A", "B", "C", "D"} for r in cot)
    notes = " ".join(result["notes"])
    assert "not in the recipe's decontamination list" in notes and "6 of 16 items, sampled with seed 3" in notes
    assert "2 shots" in notes
    # the same seed picks the same items; the decontamination list silences the warning
    again = evaluate(Target("tiny", model, tok), spec, decontaminated=[MINI], say=lambda m: None)
    assert [r["id"] for r in again["items"]] == [r["id"] for r in result["items"]]
    assert not any("decontamination" in n for n in again["notes"])


def test_a_file_that_is_not_multiple_choice_is_named_with_its_line(tiny):
    with pytest.raises(MedcurateError, match=r"en_openai.jsonl, line 1: not a multiple-choice item"):
        evaluate(Target("tiny", *tiny), EvalSpec(benchmarks=[str(ROOT / "recipes/data/en_openai.jsonl")]),
                 say=lambda m: None)
    with pytest.raises(MedcurateError, match="shots > 0 needs a dev file"):
        evaluate(Target("tiny", *tiny), EvalSpec(benchmarks=[MINI], shots=2), say=lambda m: None)


def test_smollm2_scores_the_shipped_set_from_the_command_line(tmp_path):
    out = tmp_path / "eval"
    res = CliRunner().invoke(app, ["eval", "--benchmark", MINI, "--out", str(out), "--batch-size", "4"])
    assert res.exit_code == 0, res.output
    result = json.loads((out / "eval.json").read_text())
    summary = result["summary"][0]
    assert summary["n"] == 16 and summary["unparseable"] == 0 and summary["items_per_s"] > 0
    assert set(summary["by_lang"]) == {"en", "es", "zh", "ar"}
    assert set(summary["by_source"]) == {"medcurate-mini"}  # the repeated question, under its copy's source, is gone
    assert summary["ci95"][0] <= summary["accuracy"] <= summary["ci95"][1]
    # the scores depend on the question: no two items get the same option scores
    assert len({tuple(round(v, 4) for v in r["scores"].values()) for r in result["items"]}) == 16
    md = (out / "eval.md").read_text()
    assert "| med_mcq.jsonl | direct | 16 |" in md and "| ar |" in md
    assert "SmolLM2-135M-Instruct" in result["model"]


def test_endpoint_replies_are_parsed_strictly_and_cached(tmp_path):
    server = LlamaServer()
    try:
        cache = tmp_path / "cache.sqlite"
        args = ["eval", server.base_url, "--model", MODEL, "--benchmark", MINI, "--limit", "8", "--max-tokens", "24",
                "--style", "direct", "--style", "cot", "--cache", str(cache), "--out", str(tmp_path / "a")]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        first = json.loads((tmp_path / "a" / "eval.json").read_text())
        assert first["method"] == "generate" and first["usage"]["requests"] == 16
        for entry in first["summary"]:
            rows = [r for r in first["items"] if r["style"] == entry["style"]]
            assert entry["n"] == 8 and all("reply" in r for r in rows)
            assert entry["unparseable"] == sum(r["prediction"] is None for r in rows)
            for r in rows:  # every prediction is what the strict parser reads in the reply
                assert r["prediction"] == extract_answer(r["reply"], LABELS)
        res = CliRunner().invoke(app, args[:-1] + [str(tmp_path / "b")])
        assert res.exit_code == 0, res.output
        second = json.loads((tmp_path / "b" / "eval.json").read_text())
        assert second["usage"]["requests"] == 0 and second["usage"]["cache_hits"] == 16
        assert [r["prediction"] for r in second["items"]] == [r["prediction"] for r in first["items"]]
    finally:
        server.stop()


def test_each_stage_is_scored_and_the_model_card_shows_it(tmp_path, exported):  # noqa: F811
    stages = [{"name": "stage1", "objective": "cpt", "method": "lora", "max_steps": 2, "batch_size": 4,
               "max_length": 128},
              {"name": "stage2", "objective": "sft", "method": "lora", "max_steps": 2, "batch_size": 4,
               "max_length": 256}]
    config = write_config(tmp_path, exported, stages, eval={"benchmarks": [MINI], "bootstrap": 200})
    report = train(config, say=lambda m: None)
    assert [e["n"] for e in report["base-eval"]] == [16]
    for name in ("stage1", "stage2"):
        done = json.loads((tmp_path / "model" / name / "stage.json").read_text())
        assert done["eval"][0]["benchmark"] == "med_mcq.jsonl" and done["eval"][0]["n"] == 16
        assert (tmp_path / "model" / name / "eval.md").exists()
    card = (Path(report["merged"]) / "README.md").read_text()
    assert "## Benchmarks" in card
    for row in ("| base model |", "| stage1 |", "| stage2 |"):
        assert row in card
    # a rerun reuses every finished stage and the base model's scores
    again = train(config, say=lambda m: None)
    assert again["base-eval"] == report["base-eval"]
    # other eval settings: the finished stages are kept, their scores computed again
    config = write_config(tmp_path, exported, stages, eval={"benchmarks": [MINI], "bootstrap": 200, "limit": 5})
    rescored = train(config, say=lambda m: None)
    assert [e["n"] for e in rescored["base-eval"]] == [5]
    assert rescored["stage2"]["eval"][0]["n"] == 5 and rescored["stage2"]["steps"] == 2
    # `medcurate eval` takes the trainer's output folder (its merged model) and a stage's adapter folder
    from training.evaluation.models import load_local

    assert load_local(str(tmp_path / "model"))[2].endswith("merged")
    model, _, described = load_local(str(tmp_path / "model" / "stage2" / "adapter"))
    assert described.endswith("(adapter)") and hasattr(model, "peft_config")
