"""A step's cache key covers every file its options name: editing one reruns that step and what follows, and
`medcurate plan` says which file changed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from curation.cli import app
from curation.errors import MedcurateError
from curation.recipe import load_recipe
from curation.relevance import LEXICON
from curation.run import make_plan, run_recipe, why_to_run
from curation.steps import STEPS, load_all

from .test_recipe import small_recipe

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = [
    {"question": "A 45-year-old man presents with crushing chest pain radiating to the left arm. What is the first "
                 "test to order?", "options": {"A": "ECG", "B": "Chest X-ray", "C": "D-dimer", "D": "Troponin"},
     "answer": "A"},
    {"question": "¿Cuál es el tratamiento de primera línea de la hipertensión arterial en pacientes diabéticos?",
     "options": {"A": "IECA", "B": "Betabloqueante", "C": "Diurético de asa", "D": "Nitratos"}, "answer": "A"},
]


def recipe_with_files(folder: Path) -> Path:
    """normalize, quality with its own lexicon, decontaminate against a benchmark file, translate with a glossary
    and a prompt folder (planned, never run here)."""
    (folder / "bench.jsonl").write_text("".join(json.dumps(b, ensure_ascii=False) + "\n" for b in BENCHMARK),
                                        encoding="utf-8")
    shutil.copy(LEXICON, folder / "lexicon.tsv")
    shutil.copy(ROOT / "recipes" / "glossary.tsv", folder / "glossary.tsv")
    (folder / "prompts").mkdir()
    shutil.copy(ROOT / "recipes" / "prompts" / "translate.j2", folder / "prompts" / "translate.j2")
    steps = [{"step": "normalize"},
             {"step": "quality", "config": {"lexicon": "lexicon.tsv"}},
             {"step": "decontaminate", "config": {"benchmarks": ["bench.jsonl"]}},
             {"step": "translate", "config": {"to": ["es"], "glossary": "glossary.tsv", "prompts_dir": "prompts"}}]
    return small_recipe(folder, steps=steps)


def fingerprints(path: Path) -> list[str]:
    return [s.fingerprint for s in make_plan(load_recipe(path)).steps]


def append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


@pytest.mark.parametrize("file,line,first_changed", [
    ("lexicon.tsv", "es\tesfigmomanómetro\n", 1),
    ("bench.jsonl", json.dumps({"question": "高血压患者每日食盐摄入量应控制在多少克以下？",
                                "options": {"A": "5克", "B": "10克"}, "answer": "A"}, ensure_ascii=False) + "\n", 2),
    ("glossary.tsv", "\n", 3),
    ("prompts/translate.j2", "\nKeep drug names unchanged.\n", 3),
])
def test_editing_a_named_file_changes_that_step_and_the_ones_after(tmp_path, file, line, first_changed):
    path = recipe_with_files(tmp_path)
    before = fingerprints(path)
    append(tmp_path / file, line)
    after = fingerprints(path)
    assert before[:first_changed] == after[:first_changed]
    assert all(b != a for b, a in zip(before[first_changed:], after[first_changed:]))


def test_a_run_reruns_from_the_edited_file_and_plan_names_it(tmp_path):
    path = recipe_with_files(tmp_path)
    first = run_recipe(load_recipe(path), until="decontaminate")
    assert [r for r in first.ran if not r.startswith("read:")] == ["normalize", "quality", "decontaminate"]
    append(tmp_path / "bench.jsonl", json.dumps(
        {"question": "ما هو العلاج الأولي لنوبة الربو الحادة عند الأطفال؟", "options": {"A": "سالبوتامول",
         "B": "أموكسيسيلين"}, "answer": "A"}, ensure_ascii=False) + "\n")
    loaded = load_recipe(path)
    why = why_to_run(loaded, make_plan(loaded))
    assert why["decontaminate"] == "changed: bench.jsonl (edited)"
    assert "normalize" not in why and "quality" not in why
    assert why["translate"] == "after decontaminate"
    table = CliRunner().invoke(app, ["plan", str(path)])
    assert table.exit_code == 0 and "decontaminate runs: changed: bench.jsonl (edited)" in table.output
    second = run_recipe(load_recipe(path), until="decontaminate")
    assert second.ran == ["decontaminate"] and {"normalize", "quality"} <= set(second.reused)
    # options are told apart from files
    data = yaml.safe_load(path.read_text())
    data["steps"][1]["config"]["min_words"] = 2
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    loaded = load_recipe(path)
    why = why_to_run(loaded, make_plan(loaded))
    assert why["quality"] == "options changed: min_words" and why["decontaminate"] == "after quality"


def test_a_missing_named_file_fails_the_plan_with_the_step_and_path(tmp_path):
    path = recipe_with_files(tmp_path)
    (tmp_path / "glossary.tsv").unlink()
    with pytest.raises(MedcurateError, match="step translate: glossary.tsv: no such file"):
        make_plan(load_recipe(path))


def test_shipped_templates_and_lexicons_are_named_by_their_place_in_the_project(tmp_path):
    path = small_recipe(tmp_path, steps=[{"step": "quality"}, {"step": "judge"}])
    plan = make_plan(load_recipe(path))
    quality, judge = plan.steps
    assert "medcurate:curation/data/medical_lexicon.tsv" in quality.files
    assert {"medcurate:recipes/prompts/judge.j2", "medcurate:recipes/prompts/repair.j2"} <= set(judge.files)
    assert not any(name.startswith("/") for name in (*quality.files, *judge.files))


NOT_INPUTS = {("dedupe", "field"),  # a dotted path inside a record
              ("dedupe", "index_dir"),  # state the step itself writes
              ("decontaminate", "report"),  # an output
              *((n, "prompts_dir") for n in ("translate", "synthesize", "judge", "candidates"))}  # its templates are digested


def test_every_option_that_names_a_file_is_digested():
    """An option whose description speaks of a file or folder is marked, or is known not to be an input; a new
    file-taking option cannot slip past the cache key unnoticed."""
    load_all()
    unmarked = []
    for name, cls in STEPS.items():
        for key, f in cls.Config.model_fields.items():
            marked = isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("x-medcurate-files")
            if re.search(r"file|folder|tsv|path", f.description or "", re.I) and not marked:
                unmarked.append((name, key))
    assert set(unmarked) <= NOT_INPUTS, sorted(set(unmarked) - NOT_INPUTS)
    marked = {(n, k) for n, cls in STEPS.items() for k, f in cls.Config.model_fields.items()
              if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("x-medcurate-files")}
    assert {("quality", "lexicon"), ("quality", "tokenizer"), ("decontaminate", "benchmarks"),
            ("translate", "glossary")} <= marked
