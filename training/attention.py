"""Attention for packed sequences where no varlen kernel exists (CPU, or a GPU without flash-attention).

A block-diagonal 4D mask keeps packed examples apart, but sends attention down the general masked path,
whose cost grows with the square of the packed length whatever the examples' lengths. Here each example is
its own causal attention call instead (the packed batch flattened, cut at `cu_seq_lens_q`, the boundaries
flash-attention's varlen kernel takes), so the cost is the sum of the squared example lengths and the fast
causal kernel is used. Without boundaries it is plain sdpa, so generation and scoring are unchanged.
"""

from __future__ import annotations

from typing import Any

import torch

from .peft_setup import base_of

SEGMENTS = "medcurate_segments"


def segment_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                      **kwargs: Any) -> tuple[torch.Tensor, None]:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    bounds = kwargs.pop("cu_seq_lens_q", None)
    kwargs.pop("cu_seq_lens_k", None)
    if bounds is None or query.shape[2] != key.shape[2]:  # not packed, or decoding with a cache
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    batch, _, length, _ = query.shape
    if int(bounds[-1]) != batch * length:
        raise ValueError(f"segment boundaries cover {int(bounds[-1])} tokens, the batch has {batch * length}: "
                         "inputs that change the sequence (prompt tuning's virtual tokens) need a mask instead")

    def flat(t: torch.Tensor) -> torch.Tensor:  # [batch, heads, length, dim] -> [1, heads, batch * length, dim]
        return t.transpose(0, 1).reshape(1, t.shape[1], batch * length, t.shape[3])

    q, k, v = flat(query), flat(key), flat(value)
    cuts = bounds.tolist()
    parts = [sdpa_attention_forward(module, q[:, :, s:e], k[:, :, s:e], v[:, :, s:e], None, dropout, scaling,
                                    is_causal=True)[0] for s, e in zip(cuts[:-1], cuts[1:]) if e > s]
    out = torch.cat(parts, dim=1)  # [1, batch * length, heads, dim]
    return out.reshape(batch, length, out.shape[2], out.shape[3]), None


def register() -> None:
    """Make the implementation known to transformers by name (its mask is sdpa's, used only when unpacked)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(SEGMENTS, segment_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(SEGMENTS, sdpa_mask)


def segment_bounds(lengths_per_row: list[list[int]], width: int) -> torch.Tensor:
    """Cumulative boundaries of every example (and each row's padding tail) in the flattened batch."""
    cuts = [0]
    for lengths in lengths_per_row:
        row_start = cuts[-1]
        for n in lengths:
            cuts.append(cuts[-1] + n)
        if cuts[-1] < row_start + width:
            cuts.append(row_start + width)
    return torch.tensor(cuts, dtype=torch.int32)


def collator_attention(model: torch.nn.Module) -> str:
    """How the collator keeps packed examples apart for this model. Prompt learning prepends virtual tokens, which
    example boundaries would not cover: such a model gets the mask (its batches are never packed)."""
    implementation = getattr(model.config, "_attn_implementation", "")
    if implementation.startswith("flash_attention"):
        return "varlen"
    if implementation == SEGMENTS:
        return "segments" if base_of(model) is not None else "mask"
    return "additive_mask" if implementation == "eager" else "mask"
