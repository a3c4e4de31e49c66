"""Preference stages: pairs (or labelled completions) in TRL's columns, packed padding-free, and their losses.

Data: the stage's parquet files carry TRL's preference columns (`prompt`, `chosen`, `rejected`; or `prompt`,
`completion`, `label` for KTO), conversational (lists of messages) or standard (strings: the prompt is then one
user turn). The prompt is rendered with the chat template up to the assistant header; the reply's tokens are the
only ones with labels, so prompt tokens never carry loss, and the two replies of a pair share the same prompt ids.

Batches: a batch of `batch_size` pairs (chosen sequences first, then rejected, as TRL orders them) is laid end to
end in one row, with the per-example attention of the SFT path (`training.attention`: segment boundaries, flash
varlen positions, or a block-diagonal mask), so no pair is padded to the longest. Only the reply positions go
through the output layer; a sequence's log-probability is the sum over its reply tokens (the mean for SimPO and
ORPO, as TRL computes them).

Reference policy: its log-probabilities are computed once, before the first step, from the model the stage starts
from, and kept with the examples; no second model is held during training, whatever the method:
  - a fresh adapter (`merge_then_new`, or a first stage) is disabled for that pass (`disable_adapter()`), so the
    reference is the merged base;
  - `continue` loads the previous stage's adapter as the trainable one; before any step it *is* the previous
    adapter, so that pass gives the frozen previous adapter's log-probabilities without a copy of it;
  - `method: full` would need a frozen copy of all weights to compute them during training; computed before the
    first step, it needs none.
A resumed stage computes them again from the same starting weights (the checkpoint is loaded afterwards).
"""

from __future__ import annotations

import contextlib
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow.parquet as pq
import torch
from transformers import Trainer

from curation.errors import MedcurateError

from . import objectives
from .attention import segment_bounds
from .config import REFERENCE_FREE, StageSpec
from .data import IGNORE, Tally, block_causal_mask, sft_example
from .peft_setup import base_of

PAIRED = ("prompt", "chosen", "rejected")
UNPAIRED = ("prompt", "completion", "label")


def data_kind(columns: list[str]) -> Literal["paired", "unpaired"] | None:
    """Which preference shape a split's columns have (None: not preference data)."""
    if all(c in columns for c in PAIRED):
        return "paired"
    if all(c in columns for c in UNPAIRED):
        return "unpaired"
    return None


def split_files(data: Path, stage: str, split: str) -> list[Path]:
    return sorted((data / "data" / stage).glob(f"{split}-*.parquet"))


def split_columns(data: Path, stage: str, split: str) -> list[str]:
    files = split_files(data, stage, split)
    return list(pq.read_schema(files[0]).names) if files else []


def read_rows(data: Path, stage: str, split: str) -> list[dict[str, Any]] | None:
    files = split_files(data, stage, split)
    return [r for f in files for r in pq.read_table(f).to_pylist()] if files else None


def messages(value: Any, role: str, where: str) -> list[dict[str, str]]:
    """A conversational column (a list of {role, content}) or a standard one (a string, as one `role` turn)."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if not isinstance(value, list) or not all(isinstance(m, dict) and "role" in m for m in value):
        raise MedcurateError(f"{where}: expected a string or a list of messages, got {type(value).__name__}")
    return [{"role": m["role"], "content": m.get("content") or ""} for m in value]


def unpair(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Paired rows as KTO's labelled completions: chosen desirable, rejected not (TRL's unpair_preference_dataset)."""
    out = []
    for row in rows:
        out.append({**row, "completion": row["chosen"], "label": True})
        out.append({**row, "completion": row["rejected"], "label": False})
    return out


@dataclass
class Encoded:
    prompt: list[int]
    reply: list[int]


def encode(tokenizer: Any, prompt: list[dict[str, str]], reply: list[dict[str, str]]) -> Encoded:
    """Prompt ids (through the assistant header) and the reply's ids, rendered as the SFT path renders a turn."""
    no_loss = [i for i, m in enumerate(prompt) if m["role"] == "assistant"]
    ex = sft_example(tokenizer, prompt + reply, no_loss)
    start = next(i for i, lab in enumerate(ex.labels) if lab != IGNORE)
    return Encoded(ex.input_ids[:start], ex.input_ids[start:])


def _reply_of(row: dict[str, Any], column: str, where: str) -> list[dict[str, str]]:
    reply = messages(row[column], "assistant", f"{where}: {column}")
    if not reply or any(m["role"] != "assistant" for m in reply):
        raise MedcurateError(f"{where}: {column} must be assistant message(s)")
    if not any(m["content"].strip() for m in reply):
        raise MedcurateError(f"{where}: {column} is empty")
    return reply


def build(rows: list[dict[str, Any]], tokenizer: Any, stage: StageSpec, where: str
          ) -> tuple[list[dict[str, Any]], Tally]:
    """Rows → examples ({prompt, chosen, rejected} or {prompt, completion, label} as token ids). An empty side, an
    empty prompt or a prompt that leaves no room for a reply in max_length is a clear error; a sequence longer than
    max_length has its reply cut (`overlong: truncate`) or its example left out (`drop`)."""
    tally = Tally()
    sides = ("chosen", "rejected") if stage.objective != "kto" else ("completion",)
    out = []
    for i, row in enumerate(rows):
        at = f"{where}, row {i}"
        prompt = messages(row["prompt"], "user", f"{at}: prompt")
        if not prompt or not any(m["content"].strip() for m in prompt):
            raise MedcurateError(f"{at}: the prompt is empty")
        example: dict[str, Any] = {}
        for side in sides:
            enc = encode(tokenizer, prompt, _reply_of(row, side, at))
            if len(enc.prompt) >= stage.max_length:
                raise MedcurateError(f"{at}: max_length {stage.max_length} is shorter than the prompt "
                                     f"({len(enc.prompt)} tokens): nothing would be learned")
            example["prompt"] = enc.prompt
            example[side] = enc.reply
        tally.examples += 1
        longest = len(example["prompt"]) + max(len(example[s]) for s in sides)
        if longest > stage.max_length:
            if stage.overlong == "drop":
                tally.dropped += 1
                continue
            tally.truncated += 1
            for s in sides:
                example[s] = example[s][: stage.max_length - len(example["prompt"])]
        if stage.objective == "kto":
            example["label"] = bool(row["label"])
        used = sum(len(example["prompt"]) + len(example[s]) for s in sides)
        tally.tokens += used
        tally.capacity += used  # pairs are not padded to a block: every position holds a token
        tally.sequences += 1
        out.append(example)
    if stage.objective == "kto":
        _kl_completions(out, stage.batch_size)
    return out, tally


def _kl_completions(examples: list[dict[str, Any]], group: int) -> None:
    """KTO's KL estimate uses mismatched (prompt, completion) pairs: within each group of `group` examples, each
    prompt with the previous example's completion (TRL rotates completions by one within a batch the same way)."""
    for start in range(0, len(examples), group):
        chunk = examples[start: start + group]
        for j, ex in enumerate(chunk):
            ex["kl_completion"] = chunk[j - 1]["completion"]


def check_data(rows: list[dict[str, Any]], kind: str | None, stage: StageSpec, where: str) -> None:
    """The refusals that need the data: the wrong kind of data for the objective, no examples, KTO with one label."""
    if stage.preference and kind is None:
        raise MedcurateError(f"{where}: objective {stage.objective} needs preference data (columns "
                             f"{', '.join(PAIRED)}; or {', '.join(UNPAIRED)} for kto); this stage's data has none")
    if not stage.preference and kind is not None:
        raise MedcurateError(f"{where}: this stage's data is preference data ({kind}); objective {stage.objective} "
                             f"cannot train on it (use dpo, ipo, kto, orpo or simpo)")
    if not stage.preference:
        return
    if kind == "unpaired" and stage.objective != "kto":
        raise MedcurateError(f"{where}: objective {stage.objective} needs pairs (prompt, chosen, rejected); this "
                             f"stage's data has labelled completions (use objective: kto)")
    if not rows:
        raise MedcurateError(f"{where}: the train split has no pairs")
    if stage.objective == "kto" and kind == "unpaired":
        labels = {bool(r["label"]) for r in rows}
        if labels != {True, False}:
            have = "desirable" if True in labels else "undesirable"
            raise MedcurateError(f"{where}: kto needs both desirable and undesirable completions (field label); "
                                 f"the train split has only {have} ones")


def check_settings(stage: StageSpec, where: str, k: int, previous: str | None) -> None:
    """Settings that do not apply to the objective, and a reference that is not the stage's starting point."""
    given = {f for f in ("beta", "gamma", "orpo_lambda", "desirable_weight", "undesirable_weight", "sft_weight",
                         "reference") if getattr(stage, f) is not None}
    if not stage.preference:
        if given:
            raise MedcurateError(f"{where}: {', '.join(sorted(given))} only apply to preference objectives "
                                 f"(objective is {stage.objective})")
        return
    applies = {"dpo": {"beta", "sft_weight", "reference"}, "ipo": {"beta", "sft_weight", "reference"},
               "kto": {"beta", "desirable_weight", "undesirable_weight", "reference"},
               "orpo": {"orpo_lambda"}, "simpo": {"beta", "gamma", "sft_weight"}}[stage.objective]
    if "reference" in given and stage.objective in REFERENCE_FREE:
        raise MedcurateError(f"{where}: field reference: {stage.objective} uses no reference model; remove it")
    wrong = sorted(given - applies)
    if wrong:
        names = ["lambda" if w == "orpo_lambda" else w for w in wrong]
        raise MedcurateError(f"{where}: field(s) {', '.join(names)} do not apply to objective {stage.objective}")
    if stage.method in ("prompt", "prefix"):
        raise MedcurateError(f"{where}: objective {stage.objective} cannot use method {stage.method} (its virtual "
                             f"tokens change the sequences that are scored); use lora or full")
    ref = stage.reference
    if ref is None or ref == "start" or (k == 0 and ref == "base") or (previous is not None and ref == previous):
        return
    start = "the base model" if k == 0 else f"stage {previous}'s result"
    raise MedcurateError(f"{where}: field reference '{ref}' is not the model this stage starts from ({start}); a "
                         f"reference other than the starting policy makes the first loss differ from ln 2 and pulls "
                         f"the model back towards weights it has left. Leave reference out (or set it to start)")


@dataclass
class PairCollator:
    """Lays a batch's sequences end to end in one row; labels only on replies; `seq` numbers each token's sequence.
    Paired: chosen sequences 0..B-1, rejected B..2B-1. KTO: completions, and the mismatched KL sequences apart."""

    pad_id: int
    attention: Literal["mask", "additive_mask", "varlen", "segments"] = "segments"

    def pack(self, pieces: list[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
        ids: list[int] = []
        labels: list[int] = []
        seq: list[int] = []
        positions: list[int] = []
        for n, (prompt, reply) in enumerate(pieces):
            ids += prompt + reply
            labels += [IGNORE] * len(prompt) + reply
            seq += [n] * (len(prompt) + len(reply))
            positions += range(len(prompt) + len(reply))
        lengths = [len(p) + len(r) for p, r in pieces]
        out = {"input_ids": torch.tensor([ids]), "labels": torch.tensor([labels]), "seq": torch.tensor([seq]),
               "position_ids": torch.tensor([positions])}
        if self.attention == "segments":
            out["cu_seq_lens_q"] = out["cu_seq_lens_k"] = segment_bounds([lengths], len(ids))
        elif self.attention in ("mask", "additive_mask"):
            out["attention_mask"] = block_causal_mask([lengths], len(ids), additive=self.attention == "additive_mask")
        return out

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        if "label" in batch[0]:
            out = self.pack([(b["prompt"], b["completion"]) for b in batch])
            out["label"] = torch.tensor([b["label"] for b in batch])
            kl = self.pack([(b["prompt"], b["kl_completion"]) for b in batch])
            out.update({f"kl_{k}": v for k, v in kl.items()})
            refs = ("ref", "ref_kl")
        else:
            out = self.pack([(b["prompt"], b["chosen"]) for b in batch] + [(b["prompt"], b["rejected"]) for b in batch])
            refs = ("ref_chosen", "ref_rejected")
        if all(r in batch[0] for r in refs):
            for r in refs:
                out[r] = torch.tensor([b[r] for b in batch], dtype=torch.float32)
        return out


def sequence_logps(model: torch.nn.Module, inputs: dict[str, torch.Tensor], prefix: str = ""
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of reply-token log-probabilities, reply-token count) per sequence of a packed row. Only reply positions
    go through the output layer: on small models the vocabulary projection is most of the compute."""
    lm = base_of(model)
    if lm is None:
        raise MedcurateError("preference objectives need a model whose inputs peft does not change")
    keys = ("input_ids", "position_ids", "cu_seq_lens_q", "cu_seq_lens_k", "attention_mask")
    forward = {k: inputs[prefix + k] for k in keys if prefix + k in inputs}
    hidden = lm.get_decoder()(**forward, use_cache=False).last_hidden_state
    targets = inputs[prefix + "labels"][:, 1:]
    learned = targets != IGNORE
    logits = lm.get_output_embeddings()(hidden[:, :-1][learned]).float()
    token_logps = -torch.nn.functional.cross_entropy(logits, targets[learned], reduction="none")
    seq = inputs[prefix + "seq"][:, 1:][learned]
    count = int(inputs[prefix + "seq"].max()) + 1
    sums = torch.zeros(count, device=logits.device, dtype=token_logps.dtype).index_add(0, seq, token_logps)
    tokens = torch.bincount(seq, minlength=count).to(sums.dtype)
    return sums, tokens


@dataclass
class PreferenceLoss:
    loss: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor


def stage_loss(stage: StageSpec, model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> PreferenceLoss:
    """The objective's loss on one packed batch (mean over its pairs, or completions, as TRL averages)."""
    sums, tokens = sequence_logps(model, inputs)
    beta = stage.setting("beta")
    if stage.objective == "kto":
        good = inputs["label"].to(sums.device)
        with torch.no_grad():
            kl_sums, _ = sequence_logps(model, inputs, "kl_")
        kl = (kl_sums - inputs["ref_kl"].to(sums.device)).mean()
        ref = inputs["ref"].to(sums.device)
        losses, cr, rr = objectives.kto(sums[good], ref[good], sums[~good], ref[~good], kl, beta,
                                        stage.setting("desirable_weight"), stage.setting("undesirable_weight"))
        return PreferenceLoss(losses.mean(), cr, rr)
    half = sums.shape[0] // 2
    chosen, rejected, chosen_tokens, rejected_tokens = sums[:half], sums[half:], tokens[:half], tokens[half:]
    if stage.objective == "dpo":
        losses, cr, rr = objectives.dpo(chosen, rejected, inputs["ref_chosen"].to(sums.device),
                                        inputs["ref_rejected"].to(sums.device), beta)
    elif stage.objective == "ipo":
        losses, cr, rr = objectives.ipo(chosen, rejected, inputs["ref_chosen"].to(sums.device),
                                        inputs["ref_rejected"].to(sums.device), chosen_tokens, rejected_tokens, beta)
    elif stage.objective == "orpo":
        losses, cr, rr = objectives.orpo(chosen / chosen_tokens, rejected / rejected_tokens,
                                         stage.setting("orpo_lambda"))
    else:
        losses, cr, rr = objectives.simpo(chosen / chosen_tokens, rejected / rejected_tokens, beta,
                                          stage.setting("gamma"))
    loss = losses.mean()
    weight = 1.0 if stage.objective == "orpo" else stage.setting("sft_weight")
    if weight:  # NLL of the chosen replies, a mean over their tokens (TRL's sft loss term, ORPO's L_SFT)
        loss = loss + weight * (-chosen.sum() / chosen_tokens.sum())
    return PreferenceLoss(loss, cr, rr)


def _batches(examples: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(examples), size):
        yield examples[start: start + size]


def reference_context(model: torch.nn.Module, fresh_adapter: bool) -> contextlib.AbstractContextManager:
    """The reference pass: a fresh adapter is switched off (the reference is the weights under it); otherwise the
    model as it starts the stage is the reference (the previous adapter, with `continue`; full weights)."""
    from peft import PeftModel

    if fresh_adapter and isinstance(model, PeftModel):
        return model.disable_adapter()
    return contextlib.nullcontext()


@torch.no_grad()
def add_reference(model: torch.nn.Module, examples: list[dict[str, Any]], stage: StageSpec,
                  collate: PairCollator, fresh_adapter: bool) -> None:
    """Reference log-probabilities of every example, stored in it, computed once before training starts."""
    if stage.objective in REFERENCE_FREE or not examples:
        return
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with reference_context(model, fresh_adapter):
        for group in _batches(examples, stage.batch_size):
            inputs = {k: v.to(device) for k, v in collate(group).items()}
            sums, _ = sequence_logps(model, inputs)
            if stage.objective == "kto":
                kl, _ = sequence_logps(model, inputs, "kl_")
                for ex, s, q in zip(group, sums.tolist(), kl.tolist()):
                    ex["ref"], ex["ref_kl"] = s, q
            else:
                n = len(group)
                for ex, c, r in zip(group, sums[:n].tolist(), sums[n:].tolist()):
                    ex["ref_chosen"], ex["ref_rejected"] = c, r
    model.train(was_training)


@torch.no_grad()
def evaluate_pairs(model: torch.nn.Module, examples: list[dict[str, Any]], stage: StageSpec,
                   collate: PairCollator) -> dict[str, float]:
    """Loss, reward accuracy (chosen reward above rejected; KTO: the reward's sign matches the label) and reward
    margin (mean chosen reward minus mean rejected reward) over held-out examples."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    losses: list[float] = []
    right = total = 0
    chosen: list[float] = []
    rejected: list[float] = []
    for group in _batches(examples, stage.batch_size):
        inputs = {k: v.to(device) for k, v in collate(group).items()}
        step = stage_loss(stage, model, inputs)
        losses.append(step.loss.item() * len(group))
        cr, rr = step.chosen_rewards.tolist(), step.rejected_rewards.tolist()
        chosen += cr
        rejected += rr
        if stage.objective == "kto":
            right += sum(r > 0 for r in cr) + sum(r < 0 for r in rr)
            total += len(cr) + len(rr)
        else:
            right += sum(c > r for c, r in zip(cr, rr))
            total += len(cr)
    model.train(was_training)
    mean = lambda xs: sum(xs) / len(xs) if xs else math.nan  # noqa: E731
    return {"eval_loss": sum(losses) / len(examples), "reward_accuracy": right / total if total else math.nan,
            "reward_margin": mean(chosen) - mean(rejected)}


class PreferenceTrainer(Trainer):
    """The transformers Trainer with a preference objective: the loss of `stage_loss`, and reward accuracy and
    margin averaged over each logging interval beside the loss."""

    def __init__(self, *args: Any, stage: StageSpec, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.stage = stage
        self.model_accepts_loss_kwargs = False  # the loss is a mean over pairs: the Trainer scales it for accumulation
        self._metrics: dict[str, list[float]] = defaultdict(list)
        self.batch_losses: list[float] = []  # every training batch's loss: stage.json's first and last loss

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: torch.Tensor | int | None = None):
        step = stage_loss(self.stage, model, inputs)
        if model.training:
            self.batch_losses.append(step.loss.item())
        cr, rr = step.chosen_rewards, step.rejected_rewards
        kto = self.stage.objective == "kto"
        right = torch.cat(((cr > 0).float(), (rr < 0).float())) if kto else (cr > rr).float()
        self._metrics["rewards/accuracy"].append(right.mean().item())
        if len(cr) and len(rr):
            self._metrics["rewards/margin"].append((cr.mean() - rr.mean()).item())
        if len(cr):
            self._metrics["rewards/chosen"].append(cr.mean().item())
        if len(rr):
            self._metrics["rewards/rejected"].append(rr.mean().item())
        return (step.loss, {"loss": step.loss}) if return_outputs else step.loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            logs = {**logs, **{k: sum(v) / len(v) for k, v in self._metrics.items() if v}}
            self._metrics.clear()
        super().log(logs, start_time)
