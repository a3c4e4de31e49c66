"""Training data: chat-template rendering with loss only on assistant tokens, and packing without cross-talk.

SFT examples are rendered turn by turn (the template of messages[:i+1] minus that of messages[:i]), so each
token knows which turn it came from; only assistant turns carry labels, and a turn listed in
`meta.no_loss_turns` is excluded too. Packing puts several examples in one sequence; each keeps its own
positions, and the collator builds a block-diagonal causal mask so that no example attends to another
(restarting positions alone does not stop attention from crossing examples with sdpa or eager attention).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from curation.errors import MedcurateError

from .attention import segment_bounds

IGNORE = -100


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    lengths: list[int] = field(default_factory=list)  # the examples packed into this sequence, in order

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class Tally:
    examples: int = 0
    truncated: int = 0
    dropped: int = 0
    no_target: int = 0
    tokens: int = 0
    sequences: int = 0
    capacity: int = 0

    @property
    def efficiency(self) -> float:
        return self.tokens / self.capacity if self.capacity else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"examples": self.examples, "truncated": self.truncated, "dropped": self.dropped,
                "no_target": self.no_target, "tokens": self.tokens, "sequences": self.sequences,
                "packing_efficiency": round(self.efficiency, 4)}


def sft_example(tokenizer: Any, messages: Sequence[dict[str, str]], no_loss: Iterable[int] = ()) -> Example:
    """Token ids and labels: assistant turns (but those in `no_loss`) are learned, the rest is context."""
    skip = set(no_loss)
    ids: list[int] = []
    labels: list[int] = []
    rendered = ""
    for i, msg in enumerate(messages):
        upto = tokenizer.apply_chat_template(list(messages[: i + 1]), tokenize=False)
        if msg["role"] == "assistant":
            prompt = tokenizer.apply_chat_template(list(messages[:i]), tokenize=False, add_generation_prompt=True)
            head, body = prompt[len(rendered):], upto[len(prompt):]
            head_ids = tokenizer(head, add_special_tokens=False)["input_ids"] if head else []
            body_ids = tokenizer(body, add_special_tokens=False)["input_ids"]
            ids += head_ids + body_ids
            labels += [IGNORE] * len(head_ids) + (body_ids if i not in skip else [IGNORE] * len(body_ids))
        else:
            piece = tokenizer(upto[len(rendered):], add_special_tokens=False)["input_ids"]
            ids += piece
            labels += [IGNORE] * len(piece)
        rendered = upto
    return Example(ids, labels, [len(ids)])


def cpt_example(tokenizer: Any, text: str) -> Example:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return Example(ids, list(ids), [len(ids)])


def fit(examples: Iterable[Example], max_length: int, overlong: str, tally: Tally) -> list[Example]:
    """Truncate or drop examples longer than max_length; drop those with nothing to learn."""
    out = []
    for ex in examples:
        tally.examples += 1
        if len(ex) > max_length:
            if overlong == "drop":
                tally.dropped += 1
                continue
            tally.truncated += 1
            ex = Example(ex.input_ids[:max_length], ex.labels[:max_length], [max_length])
        if all(x == IGNORE for x in ex.labels):
            tally.no_target += 1
            continue
        out.append(ex)
    return out


def pack_stream(docs: list[Example], max_length: int, tally: Tally) -> list[Example]:
    """cpt: documents end to end, cut into full sequences; a document cut in two continues in the next."""
    seqs: list[Example] = []
    cur = Example([], [], [])
    for doc in docs:
        ids, labels = doc.input_ids, doc.labels
        while ids:
            room = max_length - len(cur)
            take = min(room, len(ids))
            cur.input_ids += ids[:take]
            cur.labels += labels[:take]
            cur.lengths.append(take)
            ids, labels = ids[take:], labels[take:]
            if len(cur) == max_length:
                seqs.append(cur)
                cur = Example([], [], [])
    if cur.input_ids:
        seqs.append(cur)
    _count(seqs, max_length, tally)
    return seqs


def pack_best_fit(examples: list[Example], max_length: int, tally: Tally) -> list[Example]:
    """sft: best-fit decreasing; whole examples only, never split across sequences."""
    bins: list[Example] = []
    for ex in sorted(examples, key=len, reverse=True):
        best, best_room = None, max_length + 1
        for b in bins:
            room = max_length - len(b)
            if len(ex) <= room < best_room:
                best, best_room = b, room
        if best is None:
            bins.append(Example(list(ex.input_ids), list(ex.labels), [len(ex)]))
        else:
            best.input_ids += ex.input_ids
            best.labels += ex.labels
            best.lengths.append(len(ex))
    _count(bins, max_length, tally)
    return bins


def unpacked(examples: list[Example], max_length: int, tally: Tally) -> list[Example]:
    _count(examples, max_length, tally)
    return examples


def _count(seqs: list[Example], max_length: int, tally: Tally) -> None:
    tally.sequences += len(seqs)
    tally.tokens += sum(len(s) for s in seqs)
    tally.capacity += len(seqs) * max_length


def block_causal_mask(lengths_per_row: list[list[int]], width: int, additive: bool = False) -> torch.Tensor:
    """[batch, 1, width, width]: a token sees earlier tokens of its own example only. Boolean (sdpa), or
    `additive`: 0 where seen and the lowest float elsewhere (eager attention adds the mask to its scores)."""
    mask = torch.zeros(len(lengths_per_row), 1, width, width, dtype=torch.bool)
    tril = torch.tril(torch.ones(width, width, dtype=torch.bool))
    for b, lengths in enumerate(lengths_per_row):
        start = 0
        for n in lengths:
            mask[b, 0, start: start + n, start: start + n] = tril[:n, :n]
            start += n
    if additive:
        return torch.zeros(mask.shape).masked_fill(~mask, torch.finfo(torch.float32).min)
    return mask


@dataclass
class Collator:
    """Pads a batch; positions restart per example. How packed examples are kept apart depends on the attention
    implementation: `mask`, a block-diagonal mask (sdpa; `additive_mask` for eager); `varlen`, flash-attention's
    varlen path driven by the restarting position ids; `segments`, the boundaries for `training.attention`."""

    pad_id: int
    attention: Literal["mask", "additive_mask", "varlen", "segments"] = "mask"

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        positions = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n] = torch.tensor(b["input_ids"])
            labels[i, :n] = torch.tensor(b["labels"])
            pos = [p for length in b["lengths"] for p in range(length)]
            positions[i, :n] = torch.tensor(pos)
        out = {"input_ids": ids, "labels": labels, "position_ids": positions}
        lengths = [b["lengths"] for b in batch]
        if self.attention == "segments":
            out["cu_seq_lens_q"] = out["cu_seq_lens_k"] = segment_bounds(lengths, width)
        elif all(len(b["lengths"]) == 1 for b in batch):  # nothing packed: the ordinary padding mask suffices
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for i, b in enumerate(batch):
                mask[i, : len(b["input_ids"])] = 1
            out["attention_mask"] = mask
        elif self.attention in ("mask", "additive_mask"):
            out["attention_mask"] = block_causal_mask(lengths, width, additive=self.attention == "additive_mask")
        return out


def examples_from_records(records: Iterable[dict[str, Any]], tokenizer: Any, objective: str,
                          where: str) -> list[Example]:
    """Records of an exported split → examples; a record the objective cannot use is a clear error."""
    import json

    out = []
    for i, rec in enumerate(records):
        if objective == "cpt":
            text = rec.get("text") or "\n".join(m["content"] for m in rec.get("messages") or [])
            if not text.strip():
                raise MedcurateError(f"{where}, row {i}: no text to train on (field text / messages)")
            out.append(cpt_example(tokenizer, text))
            continue
        msgs = rec.get("messages")
        if not msgs:
            raise MedcurateError(f"{where}, row {i}: field messages is missing; sft needs conversations "
                                 f"(use objective: cpt for text records)")
        for j, m in enumerate(msgs):
            if m["role"] == "assistant" and not (m.get("content") or "").strip():
                raise MedcurateError(f"{where}, row {i}: messages[{j}] is an empty assistant turn")
        meta = rec.get("meta") or {}
        meta = json.loads(meta) if isinstance(meta, str) else meta
        out.append(sft_example(tokenizer, msgs, meta.get("no_loss_turns") or ()))
    return out
