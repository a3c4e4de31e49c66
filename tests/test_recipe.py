"""Recipes: validation with YAML lines, cached and resumable runs, byte-identical outputs, the dataset card."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from curation.cli import app
from curation.recipe import RecipeError, load_recipe
from curation.run import make_plan, run_recipe

from .conftest import ROOT, SAMPLE, write_jsonl

SMALL_SOURCES = [
    ("en_openai.jsonl", "CC-BY-4.0", ["qa"]),
    ("es_sharegpt.json", "CC-BY-4.0", ["qa"]),
    ("zh_alpaca.json", "CC-BY-4.0", ["qa"]),
    ("ar_alpaca.csv", "CC-BY-4.0", ["qa"]),
    ("mcq_en.jsonl", "MIT", ["mcq"]),
    ("dialogues.parquet", "CC-BY-4.0", ["dialogue"]),
]


def small_recipe(folder: Path, **changes) -> Path:
    """A recipe over copies of some sample files, with two stages; `changes` replace top-level sections."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name, _, _ in SMALL_SOURCES:
        shutil.copy(SAMPLE / name, data / name)
    recipe = {
        "name": "small",
        "seed": 3,
        "work_dir": "work",
        "output": "out",
        "sources": [{"path": f"data/{n}", "license": lic, "tags": tags} for n, lic, tags in SMALL_SOURCES],
        "steps": [{"step": "normalize"}, {"step": "langid"}, {"step": "pii"}, {"step": "quality"},
                  {"step": "dedupe", "config": {"threshold": 0.7}}],
        "mixture": {
            "stage1": {"tags": ["qa", "dialogue"], "temperature": 2.0, "max_upsample": 2.0, "validation": 0.1},
            "stage2": {"tags": ["mcq"], "replay": {"stage": "stage1", "fraction": 0.25}, "validation": 0.2},
        },
        "export": {"formats": ["openai", "alpaca"]},
    }
    recipe.update(changes)
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- validation -------------------------------------------------------------------------------------------

BAD = """\
name: broken
sources:
  - path: data/en_openai.jsonl
    tags: [qa]
  - path: data/missing.jsonl
steps:
  - step: normalize
  - step: translat
  - step: quality
    config:
      min_words: lots
  - step: dedupe
    sources: [nowhere]
mixture:
  stage1:
    replay: {stage: stage2, fraction: 0.2}
  stage2:
    weights: {ghost: 2}
    validation: 1.5
"""


def test_validate_reports_every_problem_with_its_yaml_path_and_line(tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(SAMPLE / "en_openai.jsonl", tmp_path / "data")
    path = tmp_path / "broken.yaml"
    path.write_text(BAD)
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    problems = {(p.path, p.line): p.message for p in e.value.problems}
    # model errors are reported together first (unknown step, bad option type, out-of-range split)
    assert "unknown step 'translat'" in problems[("steps[1].step", 8)]
    assert "min_words" in str(e.value) and ("steps[2].config.min_words", 11) in problems
    assert ("mixture.stage2.validation", 19) in problems
    # once the model is valid, the cross-references are checked, again all at once
    path.write_text(BAD.replace("translat", "langid").replace("lots", "3").replace("1.5", "0.1"))
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    problems = {(p.path, p.line): p.message for p in e.value.problems}
    assert "no file matches 'data/missing.jsonl'" in problems[("sources[1].path", 5)]
    assert "unknown source 'nowhere'" in problems[("steps[3].sources[0]", 13)]
    assert "earlier stage" in problems[("mixture.stage1.replay.stage", 16)]
    assert "unknown source 'ghost'" in problems[("mixture.stage2.weights.ghost", 18)]
    assert len(e.value.problems) == 4


def test_validate_command_exits_2_and_names_the_file(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: x\nsources: []\nsteps:\n  - quality\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:line 2, sources" in result.output and f"{path}:line 4, steps[0]" in result.output
    assert "Traceback" not in result.output


def test_shipped_recipes_are_valid_and_declare_the_schema():
    schema = json.loads((ROOT / "schemas" / "recipe.schema.json").read_text())
    recipes = sorted((ROOT / "recipes").glob("*.yaml"))
    assert {"demo.yaml", "medical-two-stage.yaml", "three-stage.yaml"} <= {p.name for p in recipes}
    for path in recipes:
        text = path.read_text()
        assert text.startswith("# yaml-language-server: $schema=../schemas/recipe.schema.json"), path
        jsonschema.validate(yaml.safe_load(text), schema)
        load_recipe(path, check_paths=path.name == "demo.yaml")


# --- runs ------------------------------------------------------------------------------------------------


def test_run_exports_stages_that_load_with_datasets(tmp_path):
    path = small_recipe(tmp_path)
    result = run_recipe(load_recipe(path))
    out = tmp_path / "out"
    s1 = datasets.load_dataset(str(out), "stage1")
    s2 = datasets.load_dataset(str(out), "stage2")
    disk = datasets.load_from_disk(str(out / "disk" / "stage1"))
    assert s1["train"].num_rows == disk["train"].num_rows == result.manifest["stages"]["stage1"]["train"]
    assert s2["validation"].num_rows == result.manifest["stages"]["stage2"]["validation"]
    assert set(s1["train"]["lang"]) == {"en", "es", "zh", "ar"}
    assert set(s2["train"]["task"]) >= {"mcq"}
    replayed = [json.loads(m).get("replay_from") for m in s2["train"]["meta"]]
    assert replayed.count("stage1") == result.manifest["stages"]["stage2"]["replayed"] > 0
    # every input line is in the curated set or in the rejects, and the ledger adds up
    ledger = result.manifest["ledger"]
    read_in = sum(e["in"] for k, e in ledger.items() if k.startswith("read:"))
    read_kept = sum(e["kept"] for k, e in ledger.items() if k.startswith("read:"))
    rejects = (out / "rejects.jsonl").read_text().splitlines()
    curated = datasets.Dataset.from_parquet(str(out / "curated.parquet"))
    assert read_in == curated.num_rows + len(rejects)
    assert ledger["normalize"]["in"] == read_kept and ledger["dedupe"]["kept"] == curated.num_rows
    reasons = {json.loads(r)["step"] for r in rejects}
    assert {"read", "dedupe"} <= reasons
    # other trainers' formats
    first = json.loads((out / "jsonl" / "stage1" / "train.openai.jsonl").read_text().splitlines()[0])
    assert first["messages"][0]["role"] in ("system", "user")
    alpaca = [json.loads(x) for x in (out / "jsonl" / "stage2" / "train.alpaca.jsonl").read_text().splitlines()]
    assert all("instruction" in r and "output" in r for r in alpaca)
    # the manifest holds no absolute paths and no secrets
    manifest = (out / "manifest.json").read_text()
    assert str(tmp_path) not in manifest


def test_dataset_card_declares_configs_counts_licenses_and_charts(tmp_path):
    path = small_recipe(tmp_path)
    run_recipe(load_recipe(path))
    out = tmp_path / "out"
    card = (out / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert [c["config_name"] for c in front["configs"]] == ["stage1", "stage2"]
    assert front["language"] == ["ar", "en", "es", "zh"]
    assert front["license"] == "other"  # CC-BY-4.0 and MIT sources are mixed
    assert "| mcq_en | MIT |" in card and "| en_openai | CC-BY-4.0 |" in card
    assert "### Training records by language" in card and "### Mixture" in card
    for chart in ("lang.png", "source.png", "length_words.png"):
        png = out / "charts" / "stage1" / chart
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"charts/stage1/{chart}" in card


def test_same_recipe_same_inputs_same_seed_gives_identical_bytes(tmp_path):
    a = small_recipe(tmp_path / "a")
    run_recipe(load_recipe(a))
    fa = files_of(tmp_path / "a" / "out")
    shutil.rmtree(tmp_path / "a" / "out")
    shutil.rmtree(tmp_path / "a" / "work")
    run_recipe(load_recipe(a))
    again = files_of(tmp_path / "a" / "out")
    assert fa.keys() == again.keys() and len(fa) > 20
    assert [k for k in fa if fa[k] != again[k]] == []
    # in another folder too, but for the rejects, which name each bad line's file by its full path
    b = small_recipe(tmp_path / "b")
    run_recipe(load_recipe(b))
    fb = files_of(tmp_path / "b" / "out")
    assert [k for k in fa if fa[k] != fb[k]] == ["rejects.jsonl"]
    # a different seed changes the mix
    c = small_recipe(tmp_path / "c", seed=4)
    run_recipe(load_recipe(c))
    fc = files_of(tmp_path / "c" / "out")
    assert fc["data/stage1/train-00000-of-00001.parquet"] != fa["data/stage1/train-00000-of-00001.parquet"]


def test_changing_a_later_step_reuses_the_steps_before_it(tmp_path):
    path = small_recipe(tmp_path)
    first = run_recipe(load_recipe(path))
    assert first.reused == [] and "dedupe" in first.ran
    second = run_recipe(load_recipe(path))
    assert second.ran == [] and not second.exported  # everything cached, export included
    data = yaml.safe_load(path.read_text())
    data["steps"][-1]["config"]["threshold"] = 0.9
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    plan = make_plan(load_recipe(path))
    assert [s.cached for s in plan.steps] == [True, True, True, True, False]
    third = run_recipe(load_recipe(path))
    assert third.ran == ["dedupe"] and third.exported
    assert "quality" in third.reused
    # --force recomputes from the named step on; --until stops early without exporting
    forced = run_recipe(load_recipe(path), force=("pii",))
    assert forced.ran == ["pii", "quality", "dedupe"]
    partial = run_recipe(load_recipe(path), until="langid", force=("langid",))
    assert partial.ran == ["langid"] and not partial.manifest


def test_step_limited_to_sources_leaves_the_others_alone(tmp_path):
    path = small_recipe(tmp_path, steps=[{"step": "quality", "sources": ["mcq_en"], "config": {"min_words": 400}}],
                        mixture={"all": {}})
    result = run_recipe(load_recipe(path))
    q = result.manifest["ledger"]["quality"]
    assert q["in"] == result.manifest["ledger"]["read:mcq_en"]["kept"] and q["kept"] == 0
    assert result.manifest["stages"]["all"]["train"] == sum(
        e["kept"] for k, e in result.manifest["ledger"].items() if k.startswith("read:") and k != "read:mcq_en")


def test_a_killed_run_resumes_after_the_last_finished_step(tmp_path):
    """Kill -9 while langid runs on a larger input; the rerun reuses the finished steps and matches a clean run."""
    rows = []
    for i in range(3000):
        rows.append({"messages": [
            {"role": "user", "content": f"Patient {i} reports chest pain radiating to the left arm after exercise. "
                                        f"What is the first investigation for suspected angina, case {i}?"},
            {"role": "assistant", "content": f"A resting 12-lead ECG within ten minutes, then serial troponin; "
                                             f"case {i} also needs aspirin 300 mg unless contraindicated."}]})
    folder = tmp_path / "big"
    (folder / "data").mkdir(parents=True)
    write_jsonl(folder / "data" / "cases.jsonl", rows)
    recipe = {"name": "big", "work_dir": "work", "output": "out", "workers": 1,
              "sources": [{"path": "data/cases.jsonl"}],
              "steps": [{"step": "normalize"}, {"step": "langid"}, {"step": "pii"}, {"step": "quality"}],
              "mixture": {"stage1": {"validation": 0.05}}}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "curation", "run", str(path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    steps = folder / "work" / "steps"
    deadline = time.time() + 120
    while time.time() < deadline and not any((p / "done.json").exists() for p in steps.glob("00-normalize-*")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (folder / "out" / "manifest.json").exists(), "the run finished before it could be killed"
    done = sorted(p.name.split("-")[1] for p in steps.iterdir() if (p / "done.json").exists())
    assert "normalize" in done and "quality" not in done
    resumed = run_recipe(load_recipe(path))
    assert "normalize" in resumed.reused and "quality" in resumed.ran
    assert all((p / "done.json").exists() for p in steps.iterdir()), "leftovers of the killed run remain"
    clean = tmp_path / "clean"
    shutil.copytree(folder / "data", clean / "data")
    shutil.copy(path, clean / "recipe.yaml")
    run_recipe(load_recipe(clean / "recipe.yaml"))
    a, b = files_of(folder / "out"), files_of(clean / "out")
    assert [k for k in a if a[k] != b.get(k)] == []


def test_the_train_section_is_in_the_schema_and_its_errors_have_lines(tmp_path):
    from curation.recipe import recipe_schema

    schema = recipe_schema()
    stage = schema["$defs"]["StageSpec"]["properties"]
    assert {"objective", "method", "adapter_policy", "learning_rate"} <= set(stage)
    path = small_recipe(tmp_path, train={"stages": [{"name": "stage1", "objective": "sft"},
                                                    {"name": "stage2", "learning_rate": -1}]})
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "learning_rate" in text)
    assert f"line {line}, train.stages[1].learning_rate: Input should be greater than 0" in str(e.value)
