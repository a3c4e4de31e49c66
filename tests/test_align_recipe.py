"""Instruction tuning then human alignment, end to end from one recipe: clinicians edit replies through the review
store's API, the pairs step turns the edits into preference pairs, the mixture exports an SFT stage and an
alignment stage, and the trainer runs sft then dpo on them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import datasets
import pytest
import yaml

from curation.recipe import load_recipe, train_recipe
from curation.review import QueuePolicy, ReviewStore
from curation.review.store import content_hash
from curation.run import make_plan, run_recipe

from .test_recipe import small_recipe

pytestmark = pytest.mark.timeout(1200)
TINY = {"random": {"hidden_size": 32, "layers": 2, "heads": 2, "intermediate_size": 64}}
# What a clinician writes instead of the data's reply, by language: longer, safer, with the warning signs.
BETTER = {
    "en": "See a doctor within a day if it worsens, and call emergency services at once for chest pain, "
          "fainting or breathlessness; until then rest, drink water and keep a record of the symptoms.",
    "es": "Consulte a su médico en 24 horas si empeora, y llame a urgencias ante dolor torácico, desmayo o falta "
          "de aire; mientras tanto, descanse, beba agua y anote los síntomas.",
    "zh": "如果症状加重，请在一天内就医；出现胸痛、晕厥或呼吸困难时立即拨打急救电话。在此之前请休息、多喝水并记录症状。",
    "ar": "راجع الطبيب خلال يوم إذا ساءت الحالة، واتصل بالإسعاف فورًا عند ألم الصدر أو الإغماء أو ضيق التنفس؛ وحتى ذلك "
          "الحين استرح واشرب الماء وسجل الأعراض.",
}


def recipe_with_alignment(folder: Path) -> Path:
    path = small_recipe(
        folder,
        steps=[{"step": "normalize"}, {"step": "langid"}, {"step": "pairs", "config": {"queue": "clinic"}}],
        mixture={"sft": {"tags": ["qa"], "validation": 0.1},
                 "align": {"preference": "paired", "validation": 0.25}},
    )
    recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    recipe["train"] = {"model": TINY, "merge": False, "logging_steps": 1, "stages": [
        {"name": "sft", "objective": "sft", "max_steps": 2, "batch_size": 2, "max_length": 256},
        {"name": "align", "objective": "dpo", "beta": 0.1, "adapter_policy": "merge_then_new", "max_steps": 2,
         "batch_size": 2, "max_length": 256, "learning_rate": 1e-3}]}
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_review_edits_become_pairs_that_train_sft_then_dpo(tmp_path):
    path = recipe_with_alignment(tmp_path)
    loaded = load_recipe(path)
    run_recipe(loaded, until="langid")
    records = make_plan(loaded).records_after(1)
    store = ReviewStore(loaded.work_dir / "review.sqlite")
    store.create("clinic", records, list(range(len(records))), QueuePolicy(select="all", size=None), "test")
    edited: list[str] = []
    for lang in BETTER:  # two replies per language, rewritten by a clinician
        qa = [r for r in records if r["lang"] == lang and r["task"] == "instruction"
              and len(r["messages"]) == 2 and r["messages"][1]["role"] == "assistant"][:2]
        assert len(qa) == 2, lang
        for rec in qa:
            question = rec["messages"][0]
            store.decide("clinic", rec["id"], "dr-lopez", "edit", seen_hash=content_hash(rec),
                         edited={"messages": [question, {"role": "assistant", "content": BETTER[lang]}]})
            edited.append(rec["id"])

    result = run_recipe(load_recipe(path))
    result.ledger.check()
    assert result.ledger.entry("pairs").added == len(edited)
    out = loaded.output
    align = datasets.load_dataset(str(out), "align")
    rows = [*align["train"], *align.get("validation", [])]
    assert len(rows) == len(edited)
    assert {row["origin"] for row in rows} == {"review-edit"}
    assert {row["chosen"][0]["content"] for row in rows} == set(BETTER.values())
    assert all(row["chosen"][0]["content"] != row["rejected"][0]["content"] for row in rows)
    assert all(row["prompt"][-1]["role"] == "user" for row in rows)
    if "validation" in align:  # split by prompt: no prompt text in both splits
        seen = {json.dumps(r["prompt"], ensure_ascii=False) for r in align["train"]}
        assert not any(json.dumps(r["prompt"], ensure_ascii=False) in seen for r in align["validation"])
    sft = datasets.load_dataset(str(out), "sft")
    assert "preference" not in {row["task"] for row in sft["train"]}  # alignment pairs never leak into SFT

    report = train_recipe(load_recipe(path), say=lambda m: None)
    assert [report[s]["steps"] for s in ("sft", "align")] == [2, 2]
    done = json.loads((loaded.output.parent / f"{loaded.recipe.name}-model" / "align" / "stage.json").read_text())
    assert done["objective"] == "dpo"
    # the policy starts as the reference (the merged SFT model with the fresh adapter disabled): loss ln 2
    assert done["first_loss"] == pytest.approx(math.log(2), abs=1e-3)
    assert math.isfinite(done["last_loss"])
