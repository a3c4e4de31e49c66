"""DPO throughput and agreement: medcurate's preference stage against TRL's DPOTrainer with its defaults.

Run: .venv/bin/python benchmarks/align.py [--steps 20] [--batch 8] [--pairs 160] [--hidden 256] [--layers 4]

Same pairs (medical prompts with short and long chosen and rejected replies, written here), same model (a random
Llama with SmolLM2's tokenizer, LoRA r=16 on all linear layers, dropout 0 so the two runs can be compared step by
step), same seed, learning rate, batch size in pairs and number of optimizer steps. TRL 1.16 pads every pair to the
batch's longest sequence (its padding_free option is disabled in 1.16) and runs the reference (the adapter disabled)
in every step; it runs with its defaults (gradient checkpointing on) and once more without checkpointing.
medcurate lays each batch's sequences end to end with per-example attention and computes the reference
log-probabilities once before the first step (timed with the training). Each trainer runs in a process of its
own, so peak memory is its own. Reported: real (non-padding) tokens per second, peak memory, and both loss and
reward-accuracy trajectories.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._corpus import medical_sentence  # noqa: E402
from training.config import ModelSpec, RandomModel, StageSpec  # noqa: E402
from training.model import load_model, load_tokenizer  # noqa: E402

LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear"}


def reply(rng: random.Random, long: bool) -> str:
    sentences = rng.randint(10, 24) if long else rng.randint(1, 2)
    return ". ".join(medical_sentence(rng, 10, 20) for _ in range(sentences)) + "."


def pairs(n: int, seed: int = 0) -> list[dict]:
    """Conversational pairs; about a third of the replies are long, so a padded batch is mostly padding."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append({"prompt": [{"role": "user", "content": medical_sentence(rng, 8, 16) + "?"}],
                     "chosen": [{"role": "assistant", "content": reply(rng, rng.random() < 0.35)}],
                     "rejected": [{"role": "assistant", "content": reply(rng, rng.random() < 0.35)}],
                     "id": f"pair{i}"})
    return rows


def model_spec(args: argparse.Namespace) -> ModelSpec:
    return ModelSpec(random=RandomModel(hidden_size=args.hidden, layers=args.layers, heads=4,
                                        intermediate_size=args.hidden * 4 // 3 * 2))


def peak_memory_mb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def trajectory(history: list[dict], accuracy_key: str) -> dict[str, list[float]]:
    steps = [h for h in history if "loss" in h and accuracy_key in h]
    return {"loss": [h["loss"] for h in steps], "accuracy": [h[accuracy_key] for h in steps]}


def run_medcurate(args: argparse.Namespace, rows: list[dict], tok, out: dict) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import TrainingArguments

    from training.attention import collator_attention
    from training.preference import PairCollator, PreferenceTrainer, add_reference, build

    model = get_peft_model(load_model(model_spec(args), tok), LoraConfig(task_type="CAUSAL_LM", **LORA))
    stage = StageSpec(name="align", objective="dpo", batch_size=args.batch, max_length=1024)
    examples, tally = build(rows, tok, stage, "pairs")
    collate = PairCollator(tok.pad_token_id, collator_attention(model))
    out["attention"] = collator_attention(model)
    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArguments(output_dir=tmp, per_device_train_batch_size=args.batch, max_steps=args.steps,
                                  learning_rate=args.lr, report_to=[], save_strategy="no", logging_steps=1,
                                  remove_unused_columns=False, disable_tqdm=True, dataloader_num_workers=0,
                                  seed=0, use_cpu=not torch.cuda.is_available(),
                                  bf16=torch.cuda.is_available())
        seen = {"real": 0}

        def counting(batch: list[dict]) -> dict:
            seen["real"] += sum(2 * len(b["prompt"]) + len(b["chosen"]) + len(b["rejected"]) for b in batch)
            return collate(batch)

        start = time.perf_counter()
        add_reference(model, examples, stage, collate, fresh_adapter=True)
        out["reference_s"] = time.perf_counter() - start
        trainer = PreferenceTrainer(model=model, args=targs, train_dataset=examples, data_collator=counting,
                                    stage=stage)
        trainer.train()
        out["seconds"] = time.perf_counter() - start
    out.update(tokens=seen["real"], slots=seen["real"], **trajectory(trainer.state.log_history, "rewards/accuracy"))


def run_trl(args: argparse.Namespace, rows: list[dict], tok, out: dict, checkpointing: bool = True) -> None:
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    model = load_model(model_spec(args).model_copy(update={"attn_implementation": "sdpa"}), tok)
    with tempfile.TemporaryDirectory() as tmp:
        config = DPOConfig(output_dir=tmp, per_device_train_batch_size=args.batch, max_steps=args.steps,
                           learning_rate=args.lr, report_to=[], save_strategy="no", logging_steps=1,
                           disable_tqdm=True, dataloader_num_workers=0, seed=0, gradient_checkpointing=checkpointing,
                           use_cpu=not torch.cuda.is_available(), bf16=torch.cuda.is_available())
        trainer = DPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tok,
                             peft_config=LoraConfig(task_type="CAUSAL_LM", **LORA))
        seen = {"real": 0, "slots": 0}
        collate = trainer.data_collator

        def counting(batch: list[dict]) -> dict:
            padded = collate(batch)
            seen["real"] += int(padded["attention_mask"].sum())
            seen["slots"] += padded["input_ids"].numel()
            return padded

        trainer.data_collator = counting
        start = time.perf_counter()
        trainer.train()
        out["seconds"] = time.perf_counter() - start
    out.update(tokens=seen["real"], slots=seen["slots"], **trajectory(trainer.state.log_history, "rewards/accuracies"))


def one(args: argparse.Namespace) -> None:
    """One trainer, in this process; its measurements as JSON on the last line of stdout."""
    if not torch.cuda.is_available():
        torch.set_num_threads(args.threads)
    tok = load_tokenizer(ModelSpec())
    rows = pairs(args.pairs)
    out: dict = {}
    if args.one == "medcurate":
        run_medcurate(args, rows, tok, out)
    else:
        run_trl(args, rows, tok, out, checkpointing=args.one == "trl")
    out["peak_mb"] = peak_memory_mb()
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8, help="Pairs per optimizer step.")
    ap.add_argument("--pairs", type=int, default=160)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--one", choices=["trl", "trl-no-checkpointing", "medcurate"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args)
        return
    tok = load_tokenizer(ModelSpec())
    from training.preference import build

    examples, _ = build(pairs(args.pairs), tok, StageSpec(name="align", objective="dpo"), "pairs")
    lengths = sorted(len(e["prompt"]) + len(e[side]) for e in examples for side in ("chosen", "rejected"))
    params = sum(p.numel() for p in load_model(model_spec(args), tok).parameters()) / 1e6
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU, {args.threads} threads"
    print(f"{args.pairs} pairs, tokens per sequence: median {lengths[len(lengths) // 2]}, max {lengths[-1]}; model: "
          f"{params:.1f} M parameters; {args.steps} steps of {args.batch} pairs; {device}")
    results = {}
    for name in ("trl", "trl-no-checkpointing", "medcurate"):
        cmd = [sys.executable, __file__, "--one", name] + [f"--{k}={v}" for k, v in vars(args).items()
                                                          if k != "one" and v is not None]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"{name} failed:\n{done.stderr[-4000:]}")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    trl, ours = results["trl"], results["medcurate"]
    print("| trainer | seconds | real tokens | tokens/s | padding waste | peak memory (MB) | speed-up |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for label, r in (("TRL 1.16 DPOTrainer (defaults: gradient checkpointing; LoRA, reference by disabling the "
                      "adapter)", trl),
                     ("TRL 1.16 DPOTrainer, gradient checkpointing off", results["trl-no-checkpointing"]),
                     (f"medcurate dpo (pairs packed, {ours['attention']} attention, reference precomputed in "
                      f"{ours['reference_s']:.1f} s)", ours)):
        speed = (r["tokens"] / r["seconds"]) / (trl["tokens"] / trl["seconds"])
        print(f"| {label} | {r['seconds']:.1f} | {r['tokens']:,} | {r['tokens'] / r['seconds']:,.0f} | "
              f"{1 - r['tokens'] / r['slots']:.1%} | {r['peak_mb']:,.0f} | {speed:.2f}x |")
    print("\n| step | loss TRL | loss medcurate | reward accuracy TRL | reward accuracy medcurate |\n"
          "|---:|---:|---:|---:|---:|")
    for i, (lt, lm, at, am) in enumerate(zip(trl["loss"], ours["loss"], trl["accuracy"], ours["accuracy"])):
        if i < 3 or i % 5 == 4 or i == len(trl["loss"]) - 1:
            print(f"| {i + 1} | {lt:.4f} | {lm:.4f} | {at:.3f} | {am:.3f} |")
    plain = results["trl-no-checkpointing"]
    gap = max(abs(a - b) for a, b in zip(trl["loss"], ours["loss"]))
    noise = max(abs(a - b) for a, b in zip(trl["loss"], plain["loss"]))
    acc_gap = max(abs(a - b) for a, b in zip(trl["accuracy"], ours["accuracy"]))
    print(f"\nlargest per-step gap to TRL: loss {gap:.2e}, reward accuracy {acc_gap:.3f} (TRL against itself with "
          f"and without checkpointing: loss {noise:.2e}); speed-up in tokens/s "
          f"{(ours['tokens'] / ours['seconds']) / (trl['tokens'] / trl['seconds']):.2f}x over TRL's defaults, "
          f"{(ours['tokens'] / ours['seconds']) / (plain['tokens'] / plain['seconds']):.2f}x over TRL without "
          f"checkpointing (target >= 1.5x)")


if __name__ == "__main__":
    main()
