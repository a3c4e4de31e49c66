"""The trainer on CPU: a tiny random Llama through two stages on an exported dataset, masking, packing, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from curation.errors import MedcurateError
from training.attention import collator_attention
from training.config import ModelSpec
from training.data import IGNORE, Collator, Tally, cpt_example, pack_best_fit, pack_stream, sft_example
from training.loss import learned_positions_loss
from training.model import load_model, load_tokenizer
from training.peft_setup import base_of
from training.train import train

from .test_recipe import small_recipe

pytestmark = pytest.mark.timeout(900)
TINY = {"random": {"hidden_size": 32, "layers": 2, "heads": 2, "intermediate_size": 64}}
DIALOGUE = [{"role": "system", "content": "You are a careful medical assistant."},
            {"role": "user", "content": "¿Qué es la hipertensión?"},
            {"role": "assistant", "content": "Una presión arterial de 140/90 mmHg o más."},
            {"role": "user", "content": "什么是贫血？"},
            {"role": "assistant", "content": "血红蛋白低于正常水平。"},
            {"role": "user", "content": "ما هو الربو؟"},
            {"role": "assistant", "content": "مرض مزمن يضيق الشعب الهوائية."}]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(ModelSpec())


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The small recipe's export: stage1 (QA and dialogues in four languages) and stage2 (MCQ with replay)."""
    from curation.recipe import load_recipe
    from curation.run import run_recipe

    folder = tmp_path_factory.mktemp("export")
    run_recipe(load_recipe(small_recipe(folder)))
    return folder


def test_loss_mask_is_exactly_the_assistant_tokens(tokenizer):
    ex = sft_example(tokenizer, DIALOGUE)
    learned = tokenizer.decode([t for t, lab in zip(ex.input_ids, ex.labels) if lab != IGNORE])
    for m in DIALOGUE:
        assert (m["content"] in learned) == (m["role"] == "assistant")
    # every learned token is where the ids are, and context tokens are -100
    assert all(lab in (IGNORE, tok) for tok, lab in zip(ex.input_ids, ex.labels))
    assert tokenizer.decode(ex.input_ids) == tokenizer.apply_chat_template(DIALOGUE, tokenize=False)
    # a turn flagged out of the loss is context only
    skipped = sft_example(tokenizer, DIALOGUE, no_loss=[4])
    assert "血红蛋白" not in tokenizer.decode([t for t, lab in zip(skipped.input_ids, skipped.labels) if lab != IGNORE])


def _loss(model, batch):
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    labels = batch["labels"][:, 1:]
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                             ignore_index=IGNORE, reduction="sum").item()


@pytest.mark.parametrize(("attn", "mode"), [("sdpa", "mask"), ("eager", "additive_mask"), ("segments", "segments")])
def test_packed_loss_equals_unpacked_loss_and_examples_do_not_see_each_other(tokenizer, attn, mode):
    model = load_model(ModelSpec(**TINY, attn_implementation=attn), tokenizer).eval()
    assert collator_attention(model) == mode
    convs = [DIALOGUE[1:3], DIALOGUE[3:5], DIALOGUE[5:7], DIALOGUE]
    examples = [sft_example(tokenizer, c) for c in convs]
    tally = Tally()
    packed = pack_best_fit(examples, 512, tally)
    assert len(packed) == 1 and sorted(packed[0].lengths) == sorted(len(e) for e in examples)
    assert tally.efficiency == sum(len(e) for e in examples) / 512
    collate = Collator(tokenizer.pad_token_id, mode)
    as_batch = lambda seqs: collate([{"input_ids": s.input_ids, "labels": s.labels, "lengths": s.lengths}  # noqa: E731
                                     for s in seqs])
    together = _loss(model, as_batch(packed))
    apart = sum(_loss(model, as_batch([e])) for e in examples)
    assert together == pytest.approx(apart, rel=1e-5)
    # two packed rows of different widths: the padding tail of the shorter row is a segment of its own
    two = pack_best_fit(examples, 300, Tally())
    assert len(two) == 2 and _loss(model, as_batch(two)) == pytest.approx(apart, rel=1e-5)
    # without the mask or the boundaries (positions restarting alone), attention crosses examples
    crossing = {k: v for k, v in as_batch(packed).items() if k in ("input_ids", "labels", "position_ids")}
    assert abs(_loss(model, crossing) - apart) > 1e-3


def test_loss_at_learned_positions_is_the_models_own_loss(tokenizer):
    from peft import LoraConfig, PromptTuningConfig, get_peft_model

    examples = [sft_example(tokenizer, c) for c in (DIALOGUE, DIALOGUE[1:3], DIALOGUE[3:5])]
    rows = [{"input_ids": e.input_ids, "labels": e.labels, "lengths": [len(e)]} for e in examples]
    batch = Collator(tokenizer.pad_token_id, "segments")(rows)
    full = load_model(ModelSpec(**TINY), tokenizer)
    lora = get_peft_model(load_model(ModelSpec(**TINY), tokenizer),
                          LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    prompt = get_peft_model(load_model(ModelSpec(**TINY), tokenizer),
                            PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    assert base_of(full) is full and base_of(lora) is lora.get_base_model() and base_of(prompt) is None
    assert collator_attention(lora) == "segments" and collator_attention(prompt) == "mask"
    for model in (full, lora):
        own = model(**batch).loss
        assert learned_positions_loss(model, batch).item() == pytest.approx(own.item(), rel=1e-5)
        # the gradients are the model's own too
        learned_positions_loss(model, batch, num_items_in_batch=torch.tensor(50)).backward()
        mine = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        model.zero_grad()
        model(**batch, num_items_in_batch=torch.tensor(50)).loss.backward()
        theirs = [p.grad for p in model.parameters() if p.grad is not None]
        assert len(mine) == len(theirs) > 0
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(mine, theirs))
    with pytest.raises(ValueError, match="virtual tokens"):  # boundaries that do not fit the input are refused
        prompt(**batch)
    batch = Collator(tokenizer.pad_token_id, "mask")(rows)
    assert learned_positions_loss(prompt, batch).item() == pytest.approx(prompt(**batch).loss.item(), rel=1e-6)


def test_cpt_packing_fills_sequences_and_continues_documents(tokenizer):
    docs = [cpt_example(tokenizer, "Metformin lowers hepatic glucose output. " * n) for n in (3, 9, 1, 5)]
    seqs = pack_stream(docs, 32, Tally())
    assert all(len(s) == 32 for s in seqs[:-1]) and sum(len(s) for s in seqs) == sum(len(d) for d in docs)
    flat = [t for s in seqs for t in s.input_ids]
    assert flat == [t for d in docs for t in d.input_ids]
    assert flat.count(tokenizer.eos_token_id) >= 4


def write_config(folder: Path, exported: Path, stages: list[dict], **extra) -> Path:
    cfg = {"model": TINY, "data": str(exported / "out"), "output": str(folder / "model"), "stages": stages,
           "save_steps": 2, "logging_steps": 1, **extra}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_cpt_then_sft_two_stages_loss_falls_and_outputs_reload(tmp_path, exported, tokenizer):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    stages = [{"name": "stage1", "objective": "cpt", "method": "lora", "max_steps": 12, "batch_size": 4,
               "max_length": 128, "learning_rate": 3e-3, "lora": {"r": 8, "alpha": 16}},
              {"name": "stage2", "objective": "sft", "method": "lora", "adapter_policy": "merge_then_new",
               "max_steps": 12, "batch_size": 4, "max_length": 256, "learning_rate": 3e-3}]
    report = train(write_config(tmp_path, exported, stages), say=lambda m: None)
    for name in ("stage1", "stage2"):
        log = [json.loads(x) for x in (tmp_path / "model" / name / "log.jsonl").read_text().splitlines()]
        losses = [x["loss"] for x in log if "loss" in x]
        assert losses[-1] < losses[0], (name, losses)
        assert report[name]["steps"] == 12 and report[name]["data"]["packing_efficiency"] > 0.5
    assert "eval_loss" in report["stage2"]
    stage2 = json.loads((tmp_path / "model" / "stage2" / "stage.json").read_text())
    assert stage2["base"].endswith("stage2/base")  # stage1's adapter merged into stage2's starting weights
    base = AutoModelForCausalLM.from_pretrained(stage2["base"])
    with_adapter = PeftModel.from_pretrained(base, stage2["adapter"])
    merged = AutoModelForCausalLM.from_pretrained(report["merged"])
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "What is anemia?"}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]
    for model in (with_adapter, merged):
        out = model.generate(input_ids=ids, max_new_tokens=5, do_sample=False)
        assert out.shape[1] == ids.shape[1] + 5
    with torch.no_grad():
        assert torch.allclose(with_adapter(input_ids=ids).logits, merged(input_ids=ids).logits, atol=1e-4)
    assert "stage2" in (Path(report["merged"]) / "README.md").read_text()


def test_sft_then_sft_continue_and_full(tmp_path, exported):
    stages = [{"name": "stage1", "method": "dora", "max_steps": 4, "batch_size": 4, "max_length": 256},
              {"name": "stage2", "method": "lora", "adapter_policy": "continue", "max_steps": 4, "batch_size": 4,
               "max_length": 256}]
    report = train(write_config(tmp_path / "a", exported, stages, merge=False), say=lambda m: None)
    assert report["stage2"]["base"] == report["stage1"]["base"]  # the same adapter continued on the same base
    stages = [{"name": "stage1", "method": "full", "max_steps": 3, "batch_size": 4, "max_length": 256},
              {"name": "stage2", "method": "prompt", "virtual_tokens": 4, "max_steps": 3, "batch_size": 2,
               "max_length": 256, "packing": False}]
    said: list[str] = []
    report = train(write_config(tmp_path / "b", exported, stages), say=said.append)
    assert report["stage2"]["base"] == report["stage1"]["model"]
    assert "merged" not in report and any("no weights to merge" in s for s in said)


def test_bad_training_config_fails_before_any_training(tmp_path, exported):
    def fails(stages, match, **extra):
        with pytest.raises(MedcurateError, match=match):
            train(write_config(tmp_path, exported, stages, **extra), say=lambda m: None)
        assert not (tmp_path / "model" / "stage1" / "checkpoints").exists()

    fails([{"name": "stage9"}], "no exported data for 'stage9'")
    fails([{"name": "stage1", "method": "qlora"}], "qlora needs a CUDA GPU")
    fails([{"name": "stage1", "max_length": 16}], "max_length 16 is shorter than the prompts")
    fails([{"name": "stage1", "lora": {"target_modules": ["no_such_proj"]}, "max_steps": 1}], "no_such_proj")
    fails([{"name": "stage1", "learning_rate": -1}], "learning_rate")
    fails([{"name": "stage1"}], "needs a GPU", model={**TINY, "dtype": "bfloat16"})


def test_killed_training_resumes_to_the_same_final_step(tmp_path, exported):
    stages = [{"name": "stage1", "method": "lora", "max_steps": 6, "batch_size": 2, "max_length": 256},
              {"name": "stage2", "method": "lora", "max_steps": 40, "batch_size": 2, "max_length": 256}]
    path = write_config(tmp_path, exported, stages, merge=False)
    proc = subprocess.Popen([sys.executable, "-m", "curation", "train", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    checkpoints = tmp_path / "model" / "stage2" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and not list(checkpoints.glob("checkpoint-4/trainer_state.json")):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "model" / "stage1" / "stage.json").exists()
    assert not (tmp_path / "model" / "stage2" / "stage.json").exists(), "finished before it could be killed"
    said: list[str] = []
    report = train(path, say=said.append)
    assert "stage stage1: finished earlier from the same data and settings, skipped" in said
    assert any("resuming from" in s and "checkpoint-" in s for s in said)
    assert report["stage2"]["steps"] == 40


def test_a_stage_is_trained_again_when_its_settings_change(tmp_path, exported):
    stages = [{"name": "stage1", "method": "lora", "max_steps": 1, "batch_size": 2, "max_length": 128}]
    path = write_config(tmp_path, exported, stages, merge=False)
    train(path, say=lambda m: None)
    said: list[str] = []
    train(path, say=said.append)
    assert any("finished earlier from the same data and settings" in s for s in said)
    stages[0]["learning_rate"] = 1e-3
    path = write_config(tmp_path, exported, stages, merge=False)
    said.clear()
    report = train(path, say=said.append)
    assert any("changed since it was trained; training it again" in s for s in said)
    assert report["stage1"]["steps"] == 1


def test_a_few_lora_steps_on_the_real_smollm2_weights(tmp_path, exported):
    stages = [{"name": "stage2", "method": "lora", "max_steps": 3, "batch_size": 1, "max_length": 384,
               "learning_rate": 1e-4, "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}}]
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"data": str(exported / "out"), "output": str(tmp_path / "model"),
                                    "stages": stages, "merge": False, "logging_steps": 1}))
    report = train(path, say=lambda m: None)
    assert report["stage2"]["steps"] == 3 and 0 < report["stage2"]["train_loss"] < 10
    assert (tmp_path / "model" / "stage2" / "adapter" / "adapter_config.json").exists()


def test_run_then_train_is_one_library_call(tmp_path):
    """A recipe's curation, then its train section on the export: the run is reported before training starts,
    and a second call reuses both the cached steps and the finished stage."""
    from curation.recipe import load_recipe, run_then_train

    train_section = {"model": TINY, "merge": False, "logging_steps": 1,
                     "stages": [{"name": "stage1", "method": "lora", "max_steps": 1, "batch_size": 2,
                                 "max_length": 128}]}
    loaded = load_recipe(small_recipe(tmp_path, train=train_section))
    events: list[str] = []
    done = run_then_train(loaded, say=events.append, on_run=lambda r: events.append(f"ran {len(r.ran)}"))
    assert done.run.manifest and done.training is not None
    assert done.training["stage1"]["steps"] == 1
    ran = next(i for i, e in enumerate(events) if e.startswith("ran "))
    assert any(e.startswith("stage stage1: loss") for e in events[ran:]), events  # training after the report
    assert (loaded.output.parent / "small-model" / "stage1" / "adapter" / "adapter_config.json").exists()
    again = run_then_train(loaded, say=events.append)
    assert again.run.ran == [] and again.training["stage1"] == done.training["stage1"]
    # no training where the run stopped before the export, or where it is turned off
    assert run_then_train(loaded, until="normalize").training is None
    assert run_then_train(loaded, train=False).training is None
