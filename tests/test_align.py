"""Preference stages on CPU: a tiny random Llama, pairs in TRL's columns, losses against TRL's own, refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from curation.errors import MedcurateError
from curation.record import make_record, to_table
from training import objectives
from training.config import ModelSpec, StageSpec
from training.data import IGNORE
from training.model import load_model, load_tokenizer
from training.preference import PairCollator, PreferenceTrainer, build, sequence_logps, stage_loss
from training.train import train

pytestmark = pytest.mark.timeout(600)
TINY = {"random": {"hidden_size": 32, "layers": 2, "heads": 2, "intermediate_size": 64}}
LN2 = math.log(2)


def turn(role: str, content: str) -> list[dict[str, str]]:
    return [{"role": role, "content": content}]


# (lang, prompt, chosen, rejected): a careful reply against a wrong or unsafe one
PAIRS = [
    ("en", "My father takes warfarin. Can he take ibuprofen for his back pain?",
     "Ibuprofen raises the bleeding risk with warfarin; paracetamol is usually preferred. Ask his doctor first.",
     "Yes, ibuprofen is fine with warfarin."),
    ("en", "What HbA1c value means diabetes?",
     "An HbA1c of 48 mmol/mol (6.5%) or higher, confirmed on a repeat test, is diagnostic of diabetes.",
     "Any HbA1c above 4% means diabetes."),
    ("es", "¿Cuál es la dosis máxima diaria de paracetamol en un adulto sano?",
     "En general 4 g al día, y menos (2–3 g) si hay enfermedad hepática o consumo de alcohol.",
     "Puede tomar todo el que necesite."),
    ("es", "¿Qué hago si mi hijo tiene fiebre de 39 °C y rigidez de nuca?",
     "Acuda a urgencias de inmediato: fiebre con rigidez de nuca puede ser una meningitis.",
     "Dele un baño frío y espere a mañana."),
    ("zh", "高血压患者每天盐摄入量应控制在多少？",
     "一般建议每天食盐不超过5克，并监测血压。",
     "高血压患者不需要限制盐。"),
    ("zh", "糖尿病患者出现低血糖时应该怎么办？",
     "立即口服15克葡萄糖或含糖饮料，15分钟后复测血糖。",
     "马上注射胰岛素。"),
    ("ar", "ما هي أعراض النوبة القلبية؟",
     "ألم أو ضغط في الصدر قد يمتد إلى الذراع أو الفك، مع ضيق في التنفس وتعرق. اتصل بالإسعاف فوراً.",
     "الصداع فقط."),
    ("ar", "هل يمكن للحامل تناول الإيزوتريتينوين؟",
     "لا، الإيزوتريتينوين يسبب تشوهات خلقية خطيرة ويمنع أثناء الحمل.",
     "نعم، هو آمن تماماً."),
]


def pair_rows(pairs=PAIRS) -> list[dict]:
    return [{"prompt": turn("user", p), "chosen": turn("assistant", c), "rejected": turn("assistant", r),
             "id": f"p{i}", "lang": lang, "origin": "review-edit", "margin": None}
            for i, (lang, p, c, r) in enumerate(pairs)]


def unpaired_rows(pairs=PAIRS) -> list[dict]:
    out = []
    for i, (lang, p, c, r) in enumerate(pairs):
        for reply, label in ((c, True), (r, False)):
            out.append({"prompt": turn("user", p), "completion": turn("assistant", reply), "label": label,
                        "id": f"u{i}{int(label)}", "lang": lang, "origin": "review-decision", "margin": None})
    return out


def write_split(root: Path, stage: str, rows: list[dict], split: str = "train") -> None:
    folder = root / "data" / stage
    folder.mkdir(parents=True, exist_ok=True)
    table = to_table(rows) if rows and "task" in rows[0] else pa.Table.from_pylist(rows)
    pq.write_table(table, folder / f"{split}-00000-of-00001.parquet")


SFT = [make_record("clinic", "dialogue", lang=lang, messages=turn("user", p) + turn("assistant", c))
       for lang, p, c, _ in PAIRS]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(ModelSpec())


@pytest.fixture(scope="module")
def tiny(tokenizer, tmp_path_factory) -> dict:
    """The tiny model's spec, with SmolLM2's tokenizer saved once as a folder (reading it from the GGUF file takes
    seconds in every run)."""
    folder = tmp_path_factory.mktemp("tokenizer")
    tokenizer.save_pretrained(folder)
    return {**TINY, "path": str(folder)}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """An export with an SFT stage, a paired stage (train and validation by prompt) and an unpaired one."""
    root = tmp_path_factory.mktemp("export")
    write_split(root, "sft", SFT)
    write_split(root, "align", pair_rows(PAIRS[:6]))
    write_split(root, "align", pair_rows(PAIRS[6:]), "validation")
    write_split(root, "kto", unpaired_rows())
    write_split(root, "few", pair_rows(PAIRS[::2]))
    write_split(root, "kto-few", unpaired_rows(PAIRS[1::4]))
    return root


def config(folder: Path, data: Path, stages: list[dict], model: dict, **extra) -> Path:
    cfg = {"model": model, "data": str(data), "output": str(folder / "model"), "stages": stages,
           "save_steps": 100, "logging_steps": 1, "merge": False, **extra}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def logged(folder: Path, stage: str) -> list[dict]:
    return [json.loads(x) for x in (folder / "model" / stage / "log.jsonl").read_text().splitlines()]


def test_prompt_tokens_carry_no_loss_and_tokens_are_trls(tokenizer, tmp_path):
    stage = StageSpec(name="align", objective="dpo", max_length=256)
    examples, tally = build(pair_rows(), tokenizer, stage, "pairs")
    assert tally.examples == len(PAIRS) and len(examples) == len(PAIRS)
    batch = PairCollator(tokenizer.pad_token_id, "segments")(examples[:4])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    assert ids.shape[0] == sum(2 * len(e["prompt"]) + len(e["chosen"]) + len(e["rejected"]) for e in examples[:4])
    learned = tokenizer.decode(ids[labels != IGNORE].tolist())
    for lang, prompt, chosen, rejected in PAIRS[:4]:
        assert chosen in learned and rejected in learned and prompt not in learned, lang
    for ex in examples:
        assert all(lab == IGNORE for lab in PairCollator(0).pack([(ex["prompt"], [])])["labels"][0].tolist())
    # the ids are the ones TRL's DPOTrainer tokenises for the same conversational rows
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    model = load_model(ModelSpec(**TINY), tokenizer)
    trl = DPOTrainer(model=model, args=DPOConfig(output_dir=str(tmp_path), report_to=[], use_cpu=True,
                                           precompute_ref_log_probs=True),
                     train_dataset=Dataset.from_list(pair_rows()), processing_class=tokenizer)
    for ex, theirs in zip(examples, trl.train_dataset):
        assert (ex["prompt"], ex["chosen"], ex["rejected"]) == (theirs["prompt_ids"], theirs["chosen_ids"],
                                                               theirs["rejected_ids"])


def test_packed_log_probabilities_equal_one_sequence_at_a_time(tokenizer):
    model = load_model(ModelSpec(**TINY), tokenizer).eval()
    examples, _ = build(pair_rows(), tokenizer, StageSpec(name="a", objective="dpo"), "pairs")
    for attention in ("segments", "mask"):
        collate = PairCollator(tokenizer.pad_token_id, attention)
        sums, tokens = sequence_logps(model, collate(examples))
        alone = [sequence_logps(model, collate([ex]))[0] for ex in examples]
        assert torch.allclose(sums[: len(examples)], torch.stack([a[0] for a in alone]), atol=1e-4)
        assert torch.allclose(sums[len(examples):], torch.stack([a[1] for a in alone]), atol=1e-4)
        assert tokens[: len(examples)].tolist() == [len(e["chosen"]) for e in examples]


def _trl_batch(trainer, n: int) -> dict:
    return trainer.data_collator([trainer.train_dataset[i] for i in range(n)])


def _as_examples(rows) -> list[dict]:
    keys = {"prompt_ids": "prompt", "chosen_ids": "chosen", "rejected_ids": "rejected",
            "completion_ids": "completion", "ref_chosen_logps": "ref_chosen", "ref_rejected_logps": "ref_rejected",
            "ref_logps": "ref", "ref_KL_logps": "ref_kl", "label": "label", "KL_completion_ids": "kl_completion"}
    return [{keys[k]: v for k, v in r.items() if k in keys} for r in rows]


@pytest.mark.parametrize(("objective", "loss_type", "weights", "settings"), [
    ("dpo", ["sigmoid"], [1.0], {"beta": 0.3}),
    ("dpo", ["sigmoid", "sft"], [1.0, 0.5], {"beta": 0.1, "sft_weight": 0.5}),
    ("ipo", ["ipo"], [1.0], {"beta": 0.2}),
])
def test_dpo_and_ipo_losses_equal_trls_dpo_trainer(tokenizer, tmp_path, objective, loss_type, weights, settings):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    model = load_model(ModelSpec(**TINY), tokenizer)
    args = DPOConfig(output_dir=str(tmp_path), beta=settings["beta"], loss_type=loss_type, loss_weights=weights,
                     precompute_ref_log_probs=True, report_to=[], use_cpu=True, per_device_train_batch_size=8)
    trl = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(pair_rows()), processing_class=tokenizer)
    # the reference log-probabilities TRL computed, moved away from the policy's so the loss is not ln 2
    rows = [{**r, "ref_chosen_logps": r["ref_chosen_logps"] - 3.0 * i, "ref_rejected_logps": r["ref_rejected_logps"]
             + 2.0} for i, r in enumerate(trl.train_dataset)]
    batch = trl.data_collator(rows)
    model.eval()
    theirs = trl._compute_loss(model, batch, return_outputs=False)
    stage = StageSpec(name="a", objective=objective, **settings)
    mine = stage_loss(stage, model, PairCollator(tokenizer.pad_token_id, "segments")(_as_examples(rows)))
    assert mine.loss.item() == pytest.approx(theirs.item(), rel=1e-4)
    assert abs(mine.loss.item() - LN2) > 1e-2


def test_kto_loss_equals_trls_kto_trainer(tokenizer, tmp_path):
    from datasets import Dataset
    from trl import KTOConfig, KTOTrainer

    model = load_model(ModelSpec(**TINY), tokenizer)
    args = KTOConfig(output_dir=str(tmp_path), beta=0.2, desirable_weight=1.3, undesirable_weight=0.8,
                     precompute_ref_log_probs=True, report_to=[], use_cpu=True, per_device_train_batch_size=8)
    trl = KTOTrainer(model=model, args=args, train_dataset=Dataset.from_list(unpaired_rows()[:8]),
                     processing_class=tokenizer)
    rows = [{**r, "ref_logps": r["ref_logps"] - 1.5 * (i % 3), "ref_KL_logps": r["ref_KL_logps"] - 4.0}
            for i, r in enumerate(trl.train_dataset)]
    model.eval()
    theirs = trl._compute_loss(model, trl.data_collator(rows), return_outputs=False)
    stage = StageSpec(name="a", objective="kto", beta=0.2, desirable_weight=1.3, undesirable_weight=0.8, batch_size=8)
    examples = _as_examples(rows)
    ours, _ = build(unpaired_rows()[:8], tokenizer, stage, "kto")  # our own KL pairing is TRL's rotation
    assert [e["kl_completion"] for e in ours] == [e["kl_completion"] for e in examples]
    mine = stage_loss(stage, model, PairCollator(tokenizer.pad_token_id, "segments")(examples))
    assert mine.loss.item() == pytest.approx(theirs.item(), rel=1e-4)


def test_orpo_and_simpo_losses_equal_trls_on_fixed_log_probabilities():
    from trl.experimental.cpo import CPOTrainer
    from trl.experimental.orpo import ORPOTrainer

    torch.manual_seed(3)
    chosen, rejected = -torch.rand(6) * 3 - 0.05, -torch.rand(6) * 3 - 0.05  # mean token log-probabilities
    device = SimpleNamespace(device=torch.device("cpu"))
    # TRL's loss methods read only these attributes of their trainer
    orpo_self = SimpleNamespace(beta=0.25, accelerator=device)
    theirs, tc, tr, _, _ = ORPOTrainer.odds_ratio_loss(orpo_self, chosen, rejected)
    mine, mc, mr = objectives.orpo(chosen, rejected, 0.25)
    assert torch.allclose(mine, -theirs, atol=1e-6)  # TRL subtracts its term from the NLL, ours is added
    assert torch.allclose(mc, tc) and torch.allclose(mr, tr)
    simpo_self = SimpleNamespace(beta=2.0, simpo_gamma=0.7, loss_type="simpo", label_smoothing=0.0, alpha=0.0,
                                 accelerator=device)
    theirs, tc, tr = CPOTrainer.cpo_loss(simpo_self, chosen, rejected)
    mine, mc, mr = objectives.simpo(chosen, rejected, 2.0, 0.7)
    assert torch.allclose(mine, theirs, atol=1e-6) and torch.allclose(mc, tc) and torch.allclose(mr, tr)


@pytest.mark.parametrize("before", [None, "merge_then_new", "continue", "full"])
def test_first_dpo_loss_is_ln2_and_the_reference_is_untouched(tmp_path, data, tiny, before):
    """From the base (a fresh adapter, and full weights), after an SFT adapter merged, and continuing it."""
    from safetensors.torch import load_file

    align = {"name": "align", "objective": "dpo", "max_steps": 2, "batch_size": 3, "max_length": 256,
             "learning_rate": 5e-3, "method": "full" if before == "full" else "lora",
             "adapter_policy": before if before in ("merge_then_new", "continue") else "merge_then_new"}
    stages = [align]
    if before in ("merge_then_new", "continue"):  # lora dropout off: with continue, the policy is the previous adapter
        stages.insert(0, {"name": "sft", "max_steps": 2, "batch_size": 4, "max_length": 256, "learning_rate": 5e-3,
                          "lora": {"r": 4, "alpha": 8, "dropout": 0.0}})
    report = train(config(tmp_path, data, stages, tiny, merge=before is None), say=lambda m: None)
    log = [x for x in logged(tmp_path, "align") if "loss" in x]
    assert log[0]["loss"] == pytest.approx(LN2, abs=1e-4)
    assert {"rewards/accuracy", "rewards/margin"} <= set(log[0]) and len(log) == 2
    done = json.loads((tmp_path / "model" / "align" / "stage.json").read_text())
    assert done["objective"] == "dpo" and done["first_loss"] == pytest.approx(LN2, abs=1e-4)
    assert done["last_loss"] == log[-1]["loss"] and 0 <= done["reward_accuracy"] <= 1
    assert math.isfinite(done["reward_margin"]) and done == report["align"]
    if before == "full":  # the reference was computed before the first step; the weights themselves moved
        start = load_model(ModelSpec(**tiny), load_tokenizer(ModelSpec(path=tiny["path"])))
        trained = load_file(Path(done["model"]) / "model.safetensors")
        assert any(not torch.equal(p.detach(), trained[n]) for n, p in start.named_parameters() if n in trained)
        return
    adapter = load_file(Path(done["adapter"]) / "adapter_model.safetensors")
    if before == "continue":  # the previous adapter (the reference) is as it was saved; the trained one moved on
        previous = load_file(Path(report["sft"]["adapter"]) / "adapter_model.safetensors")
        assert done["base"] == report["sft"]["base"]
        assert any(not torch.equal(adapter[k], previous[k]) for k in previous)
    else:  # a fresh adapter: its B matrices started at zero and are trained
        assert any(k.endswith("lora_B.weight") and adapter[k].abs().sum() > 0 for k in adapter)
    if before is None:  # the model card shows the validation pairs' reward accuracy and margin
        card = (Path(report["merged"]) / "README.md").read_text()
        row = next(line for line in card.splitlines() if line.startswith("| align | dpo |"))
        assert f"{100 * done['reward_accuracy']:.1f}% ({done['reward_margin']:+.3f})" in row


def test_training_changes_the_adapter_only(tokenizer, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import TrainingArguments

    model = get_peft_model(load_model(ModelSpec(**TINY), tokenizer), LoraConfig(r=4, target_modules="all-linear"))
    stage = StageSpec(name="a", objective="dpo", batch_size=4, max_length=256)
    collate = PairCollator(tokenizer.pad_token_id, "segments")
    examples, _ = build(pair_rows(), tokenizer, stage, "pairs")
    from training.preference import add_reference

    add_reference(model, examples, stage, collate, fresh_adapter=True)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=4,
                             learning_rate=5e-3, report_to=[], use_cpu=True, remove_unused_columns=False,
                             save_strategy="no")
    PreferenceTrainer(model=model, args=args, train_dataset=examples, data_collator=collate, stage=stage).train()
    after = dict(model.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in before if "lora_" not in n)
    assert all(not torch.equal(before[n], after[n]) for n in before if "lora_B" in n)


@pytest.mark.parametrize("objective", ["dpo", "simpo", "kto"])
def test_overfitting_a_few_pairs_drives_reward_accuracy_to_one(tmp_path, data, tiny, objective):
    stage = {"name": "kto-few" if objective == "kto" else "few", "objective": objective, "max_steps": 8,
             "batch_size": 4, "max_length": 256, "learning_rate": 1e-2, "warmup_ratio": 0.0,
             "lora": {"r": 8, "alpha": 16, "dropout": 0.0}}
    train(config(tmp_path, data, [stage], tiny), say=lambda m: None)
    log = [x for x in logged(tmp_path, stage["name"]) if "loss" in x]
    assert len(log) == 8 and all(x["rewards/accuracy"] == 1.0 for x in log[-3:])
    assert log[-1]["loss"] < log[0]["loss"] and log[-1]["rewards/margin"] > log[1]["rewards/margin"] > 0


SFT_STAGE = {"name": "sft", "max_steps": 1, "batch_size": 2, "max_length": 256}


@pytest.mark.parametrize(("stages", "match"), [
    ([{"name": "align", "objective": "orpo", "reference": "start"}], r"stages\[0\] \(align\): field reference"),
    ([{"name": "align", "objective": "simpo", "reference": "base"}], r"stages\[0\] \(align\): field reference"),
    ([SFT_STAGE, {"name": "align", "objective": "dpo", "reference": "base"}],
     r"stages\[1\] \(align\): field reference 'base' is not the model this stage starts from \(stage sft's"),
    ([{"name": "align", "objective": "dpo", "gamma": 0.5}], r"\(align\): field\(s\) gamma do not apply"),
    ([{"name": "kto-one", "objective": "kto"}], r"\(kto-one\): kto needs both desirable and undesirable"),
    ([{"name": "empty", "objective": "dpo"}], r"\(empty\): the train split has no pairs"),
    ([{"name": "blank", "objective": "dpo"}], r"blank.*row 1: rejected is empty"),
    ([{"name": "align", "objective": "dpo", "max_length": 16}], r"max_length 16 is shorter than the prompt"),
    ([{"name": "sft", "objective": "dpo"}], r"\(sft\): objective dpo needs preference data"),
    ([{"name": "align", "objective": "sft"}], r"\(align\): this stage's data is preference data"),
    ([{"name": "kto", "objective": "dpo"}], r"\(kto\): objective dpo needs pairs"),
    ([{"name": "align", "objective": "dpo", "method": "prompt", "packing": False}], r"cannot use method prompt"),
])
def test_bad_preference_stages_are_refused_before_training(tmp_path, data, tiny, stages, match):
    write_split(data, "kto-one", [r for r in unpaired_rows() if r["label"]])
    message = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    empty = pa.schema([("prompt", message), ("chosen", message), ("rejected", message), ("id", pa.string())])
    (data / "data" / "empty").mkdir(parents=True, exist_ok=True)
    pq.write_table(empty.empty_table(), data / "data" / "empty" / "train-00000-of-00001.parquet")
    blank = pair_rows(PAIRS[:2])
    blank[1]["rejected"] = turn("assistant", "  ")
    write_split(data, "blank", blank)
    with pytest.raises(MedcurateError, match=match):
        train(config(tmp_path, data, stages, tiny), say=lambda m: None)
    assert not list((tmp_path / "model").glob("*/checkpoints"))
