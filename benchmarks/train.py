"""Training throughput: medcurate's packed SFT against the transformers Trainer with dynamic padding.

Run: .venv/bin/python benchmarks/train.py [--steps 20] [--max-length 1024] [--ablate]

Same model (a random Llama with SmolLM2's tokenizer), same conversations (a mix of short and long medical Q&A),
same loss (assistant tokens only), same number of optimizer steps and batch size in sequences. The baseline
pads each batch to its longest example; medcurate packs whole examples best-fit-decreasing into sequences
of `--max-length`, keeps them apart with its default attention for the hardware (per-example causal sdpa on
CPU) and projects only the learned positions onto the vocabulary. Reported: real (non-padding) tokens per
second and padding waste.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import Trainer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._corpus import medical_sentence  # noqa: E402
from training.attention import collator_attention  # noqa: E402
from training.config import ModelSpec, RandomModel  # noqa: E402
from training.data import IGNORE, Collator, Tally, pack_best_fit, sft_example  # noqa: E402
from training.loss import LearnedPositionsTrainer  # noqa: E402
from training.model import load_model, load_tokenizer  # noqa: E402


def conversations(n: int, seed: int = 0) -> list[list[dict[str, str]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        long = rng.random() < 0.3
        answer = ". ".join(medical_sentence(rng, 10, 20) for _ in range(rng.randint(12, 30) if long else
                                                                           rng.randint(1, 3)))
        out.append([{"role": "user", "content": medical_sentence(rng, 8, 16) + "?"},
                    {"role": "assistant", "content": answer + "."}])
    return out


def pad_collate(pad_id: int):
    def collate(batch: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), pad_id)
        labels = torch.full((len(batch), width), IGNORE)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(b["input_ids"]), torch.tensor(b["labels"]), 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}
    return collate


def run(trainer_class, model, dataset, collate, steps: int, batch: int) -> tuple[float, int, int]:
    """Seconds, real tokens and token slots (real + padding) seen in `steps` optimizer steps."""
    from transformers import TrainingArguments

    seen = {"real": 0, "slots": 0}

    def counting(b):
        out = collate(b)
        seen["real"] += int(sum(len(x["input_ids"]) for x in b))
        seen["slots"] += out["input_ids"].numel()
        return out

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=batch, max_steps=steps,
                                 learning_rate=1e-3, report_to=[], use_cpu=True, save_strategy="no",
                                 remove_unused_columns=False, disable_tqdm=True, logging_steps=10_000,
                                 dataloader_num_workers=0, seed=0)
        trainer = trainer_class(model=model, args=args, train_dataset=dataset, data_collator=counting)
        t = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t, seen["real"], seen["slots"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--examples", type=int, default=600)
    ap.add_argument("--ablate", action="store_true", help="Also time packing without the attention and loss parts.")
    args = ap.parse_args()
    torch.set_num_threads(2)
    tok = load_tokenizer(ModelSpec())
    spec = ModelSpec(random=RandomModel(hidden_size=args.hidden, layers=args.layers, heads=4,
                                        intermediate_size=args.hidden * 4 // 3 * 2))
    examples = [sft_example(tok, c) for c in conversations(args.examples)]
    examples = [e for e in examples if len(e) <= args.max_length]
    lengths = sorted(len(e) for e in examples)
    print(f"{len(examples)} conversations, tokens per example: median {lengths[len(lengths) // 2]}, "
          f"max {lengths[-1]}; model: {sum(p.numel() for p in load_model(spec, tok).parameters()) / 1e6:.1f} M "
          f"parameters; {args.steps} steps of {args.batch} sequences, CPU, {torch.get_num_threads()} threads")
    plain = [{"input_ids": e.input_ids, "labels": e.labels, "lengths": [len(e)]} for e in examples]
    random.Random(1).shuffle(plain)
    tally = Tally()
    packed = [{"input_ids": s.input_ids, "labels": s.labels, "lengths": s.lengths}
              for s in pack_best_fit(examples, args.max_length, tally)]
    random.Random(1).shuffle(packed)
    baseline = load_model(spec.model_copy(update={"attn_implementation": "sdpa"}), tok)
    base_s, base_real, base_slots = run(Trainer, baseline, plain, pad_collate(tok.pad_token_id), args.steps,
                                        args.batch)
    print("| trainer | seconds | real tokens | tokens/s | padding waste | speed-up |\n|---|---:|---:|---:|---:|---:|")
    print(f"| transformers Trainer, dynamic padding, no packing | {base_s:.1f} | {base_real:,} | "
          f"{base_real / base_s:,.0f} | {1 - base_real / base_slots:.1%} | 1.00x |")
    variants = [("medcurate: best-fit packing, per-example attention, loss at learned positions", "auto",
                 LearnedPositionsTrainer)]
    if args.ablate:  # what each part gives: the packing alone (block mask, full-vocabulary loss), then the attention
        variants = [("packing + block-diagonal mask, model's own loss", "sdpa", Trainer),
                    ("packing + per-example attention, model's own loss", "segments", Trainer), *variants]
    speedup = 0.0
    for label, attn, trainer_class in variants:
        model = load_model(spec.model_copy(update={"attn_implementation": attn}), tok)
        collate = Collator(tok.pad_token_id, collator_attention(model))
        secs, real, slots = run(trainer_class, model, packed, collate, args.steps, args.batch)
        speedup = (real / secs) / (base_real / base_s)
        print(f"| {label} | {secs:.1f} | {real:,} | {real / secs:,.0f} | {1 - real / slots:.1%} | {speedup:.2f}x |",
              flush=True)
    print(f"speed-up in tokens/s: {speedup:.2f}x (target >= 2x); packing efficiency {tally.efficiency:.1%}")

if __name__ == "__main__":
    main()
