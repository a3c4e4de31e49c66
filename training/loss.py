"""The causal-LM loss computed at the learned positions only.

A model's own loss projects every position onto the vocabulary, then ignores the prompt, padding and
context tokens (-100). On small and mid-sized models that projection is most of the compute, so here the
hidden states of the learned positions are picked first and only those go through the output layer. The
value is the model's own loss: the sum over learned tokens, divided by the batch's token count (or by the
Trainer's count across gradient-accumulation steps).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import Trainer

from .data import IGNORE
from .peft_setup import base_of


def learned_positions_loss(model: torch.nn.Module, inputs: dict[str, torch.Tensor],
                           num_items_in_batch: torch.Tensor | int | None = None) -> torch.Tensor:
    lm = base_of(model)
    if lm is None:
        return model(**inputs, num_items_in_batch=num_items_in_batch).loss
    inputs = dict(inputs)
    labels = inputs.pop("labels")
    hidden = lm.get_decoder()(**inputs).last_hidden_state
    targets = labels[:, 1:]
    learned = targets != IGNORE
    logits = lm.get_output_embeddings()(hidden[:, :-1][learned]).float()
    total = torch.nn.functional.cross_entropy(logits, targets[learned], reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else learned.sum()
    if isinstance(count, torch.Tensor):
        count = count.to(total.device)
    return total / count


class LearnedPositionsTrainer(Trainer):
    """The transformers Trainer, with the loss at the learned positions only (evaluation loss included)."""

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: torch.Tensor | int | None = None):
        loss = learned_positions_loss(model, inputs, num_items_in_batch)
        return (loss, {"loss": loss}) if return_outputs else loss
