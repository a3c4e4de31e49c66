"""Training throughput: medcurate's packed SFT against TRL's SFTTrainer (packed and not) and the
transformers Trainer with dynamic padding.

Run: .venv/bin/python benchmarks/train.py [--steps 20] [--max-length 1024] [--ablate] [--no-trl]

Same model (a random Llama with SmolLM2's tokenizer), same conversations (a mix of short and long medical Q&A),
same loss (assistant tokens only), same number of optimizer steps and batch size in sequences. The baseline
pads each batch to its longest example; medcurate packs whole examples best-fit-decreasing into sequences
of `--max-length`, keeps them apart with its default attention for the hardware (per-example causal sdpa on
CPU) and projects only the learned positions onto the vocabulary. TRL 1.16's SFTTrainer gets the same
conversations as prompt-completion pairs with `completion_only_loss`, once with `packing=True` (its
best-fit-decreasing, which turns on padding-free batches: one row, position ids restarting per example) and
once without packing, on sdpa. Reported: real (non-padding) tokens per second of the batches actually trained
(the loader's one batch fetched ahead is not counted), padding waste, and for every packed row whether the
loss of a packed sequence equals the loss of its examples run one by one (packed examples must not see each
other).
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


class Counted:
    """A collator that counts the real tokens and token slots of the batches actually trained on. The data
    loader fetches a batch ahead, so collated batches wait in a queue and count when a step ends."""

    def __init__(self, collate):
        self.collate, self.queue, self.real, self.slots = collate, [], 0, 0

    def __call__(self, batch: list[dict]) -> dict[str, torch.Tensor]:
        out = self.collate(batch)
        self.queue.append((sum(len(x["input_ids"]) for x in batch), out["input_ids"].numel()))
        return out

    def take(self) -> None:
        real, slots = self.queue.pop(0)
        self.real, self.slots = self.real + real, self.slots + slots


def count_steps(counted: Counted):
    from transformers import TrainerCallback

    class Take(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            counted.take()

    return Take()


def train_args(steps: int, batch: int, tmp: str, config_class=None, **extra):
    from transformers import TrainingArguments

    return (config_class or TrainingArguments)(
        output_dir=tmp, per_device_train_batch_size=batch, max_steps=steps, learning_rate=1e-3, report_to=[],
        use_cpu=True, save_strategy="no", disable_tqdm=True, logging_steps=10_000, dataloader_num_workers=0,
        seed=0, **extra)


def run(trainer_class, model, dataset, collate, steps: int, batch: int) -> tuple[float, int, int]:
    """Seconds, real tokens and token slots (real + padding) trained on in `steps` optimizer steps."""
    counted = Counted(collate)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = trainer_class(model=model, args=train_args(steps, batch, tmp, remove_unused_columns=False),
                                train_dataset=dataset, data_collator=counted, callbacks=[count_steps(counted)])
        t = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t, counted.real, counted.slots


def learned(labels: torch.Tensor) -> int:
    """Positions whose next token is learned (the loss shifts labels by one)."""
    return int((labels[:, 1:] != IGNORE).sum())


@torch.no_grad()
def packed_gap(loss, model, packed: dict[str, torch.Tensor], pieces: list[dict[str, torch.Tensor]]) -> float:
    """|loss of a packed batch - the loss of its examples run one by one, weighted by learned tokens|: zero when
    packed examples cannot see each other."""
    whole = float(loss(model, packed))
    alone = sum(float(loss(model, b)) * learned(b["labels"]) for b in pieces) / sum(learned(b["labels"])
                                                                                   for b in pieces)
    return abs(whole - alone)


def medcurate_gap(model, collate, seq: dict) -> float:
    """The check on one of medcurate's packed sequences, through its collator and loss."""
    from training.loss import learned_positions_loss

    pieces, at = [], 0
    for n in seq["lengths"]:
        pieces.append(collate([{"input_ids": seq["input_ids"][at: at + n], "labels": seq["labels"][at: at + n],
                                "lengths": [n]}]))
        at += n
    return packed_gap(lambda m, b: learned_positions_loss(m, b), model, collate([seq]), pieces)


def trl_gap(trainer) -> float:
    """The check on TRL's packed row holding the most examples, as its collator hands it to the model
    (padding-free: one row, position ids restarting per example) and through its own compute_loss, against
    each example alone."""
    rows = trainer.train_dataset
    best = max(range(len(rows)), key=lambda i: len(rows[i].get("seq_lengths") or [0]))
    batch = trainer.data_collator([rows[best]])
    pos = batch["position_ids"][0]
    starts = [*(torch.nonzero(pos == 0).flatten().tolist()), len(pos)]
    keys = ("input_ids", "labels", "position_ids")
    pieces = [{k: batch[k][:, a:b] for k in keys} for a, b in zip(starts, starts[1:])]
    packed = {k: batch[k] for k in keys}
    assert len(pieces) > 1, "the packed row holds one example"
    return packed_gap(lambda m, b: trainer.compute_loss(m, dict(b)), trainer.model, packed, pieces)


def run_trl(model, tok, convs: list[list[dict]], steps: int, batch: int, max_length: int, packing: bool):
    """TRL's SFTTrainer on the same conversations as prompt-completion pairs (loss on the completion only);
    with packing, TRL's best-fit-decreasing, which turns padding-free batches on. Seconds, real tokens,
    slots, and the packed-equals-unpacked gap (None without packing)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    data = Dataset.from_list([{"prompt": c[:-1], "completion": c[-1:]} for c in convs])
    with tempfile.TemporaryDirectory() as tmp:
        args = train_args(steps, batch, tmp, SFTConfig, max_length=max_length, packing=packing,
                          packing_strategy="bfd", completion_only_loss=True)
        trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
        counted = Counted(trainer.data_collator)
        trainer.data_collator = counted
        trainer.add_callback(count_steps(counted))
        gap = trl_gap(trainer) if packing else None
        counted.queue.clear()
        t = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t, counted.real, counted.slots, gap


def row(label: str, secs: float, real: int, slots: int, base_rate: float, gap: float | None) -> None:
    check = "n/a (not packed)" if gap is None else f"{'yes' if gap < 1e-4 else 'NO'} ({gap:.1e})"
    print(f"| {label} | {secs:.1f} | {real:,} | {real / secs:,.0f} | {1 - real / slots:.1%} | "
          f"{real / secs / base_rate:.2f}x | {check} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--examples", type=int, default=600)
    ap.add_argument("--ablate", action="store_true", help="Also time packing without the attention and loss parts.")
    ap.add_argument("--no-trl", action="store_true", help="Skip TRL's SFTTrainer rows.")
    args = ap.parse_args()
    torch.set_num_threads(2)
    tok = load_tokenizer(ModelSpec())
    spec = ModelSpec(random=RandomModel(hidden_size=args.hidden, layers=args.layers, heads=4,
                                        intermediate_size=args.hidden * 4 // 3 * 2))
    convs = conversations(args.examples)
    examples = [sft_example(tok, c) for c in convs]
    convs = [c for c, e in zip(convs, examples) if len(e) <= args.max_length]
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
    sdpa = spec.model_copy(update={"attn_implementation": "sdpa"})
    if not args.no_trl:  # the peer first: the headline rows
        trl = [("TRL SFTTrainer, packing=True (bfd, padding-free)", True),
               ("TRL SFTTrainer, no packing (padded batches)", False)]
        trl_rows = [(label, *run_trl(load_model(sdpa, tok), tok, convs, args.steps, args.batch, args.max_length,
                                     pack)) for label, pack in trl]
    base_s, base_real, base_slots = run(Trainer, load_model(sdpa, tok), plain, pad_collate(tok.pad_token_id),
                                        args.steps, args.batch)
    base_rate = base_real / base_s
    print("| trainer | seconds | real tokens | tokens/s | padding waste | vs transformers Trainer | "
          "packed loss = unpacked |\n|---|---:|---:|---:|---:|---:|---|")
    if not args.no_trl:
        for label, secs, real, slots, gap in trl_rows:
            row(label, secs, real, slots, base_rate, gap)
    row("transformers Trainer, dynamic padding, no packing", base_s, base_real, base_slots, base_rate, None)
    variants = [("medcurate: best-fit packing, per-example attention, loss at learned positions", "auto",
                 LearnedPositionsTrainer)]
    if args.ablate:  # what each part gives: the packing alone (block mask, full-vocabulary loss), then the attention
        variants = [("packing + block-diagonal mask, model's own loss", "sdpa", Trainer),
                    ("packing + per-example attention, model's own loss", "segments", Trainer), *variants]
    rates = {}
    for label, attn, trainer_class in variants:
        model = load_model(spec.model_copy(update={"attn_implementation": attn}), tok)
        collate = Collator(tok.pad_token_id, collator_attention(model))
        gap = medcurate_gap(model, collate, max(packed, key=lambda s: len(s["lengths"])))
        secs, real, slots = run(trainer_class, model, packed, collate, args.steps, args.batch)
        rates[label] = real / secs
        row(label, secs, real, slots, base_rate, gap)
    mine = rates[variants[-1][0]]
    print(f"medcurate vs transformers Trainer: {mine / base_rate:.2f}x; packing efficiency {tally.efficiency:.1%}")
    if not args.no_trl:
        for label, secs, real, _, _ in trl_rows:
            print(f"medcurate vs {label}: {mine / (real / secs):.2f}x")


if __name__ == "__main__":
    main()
