"""Generated replies: from an OpenAI-compatible endpoint (through the project's LLM client, so concurrency,
retries, rate limits and the reply cache all apply), or greedy continuations of a local model's prompts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from curation.llm.client import LLM, Request
from curation.llm.config import Endpoint


def ask_endpoint(endpoint: Endpoint, prompts: list[str], max_tokens: int, template_hash: str,
                 cache_path: Path | None = None) -> tuple[list[str | None], dict[str, Any]]:
    """(replies, usage) for one user message per prompt, greedy; a failed request's reply is None."""
    llm = LLM(endpoint, cache_path=cache_path)
    try:
        params = {"temperature": 0.0, "max_tokens": max_tokens}
        replies = llm.complete([Request([{"role": "user", "content": p}], params, template_hash) for p in prompts])
    finally:
        llm.close()
    return [r.text for r in replies], llm.usage.to_dict()


def continue_texts(model: Any, tokenizer: Any, prompts: Sequence[str | Sequence[dict[str, str]]], max_tokens: int,
                   batch_size: int, chat: bool = False, flatten: bool = True) -> list[str]:
    """Greedy continuations, batched with left padding: of plain-text prompts (a chain of thought to score the
    options after), or of chat prompts (a message list, or a string with `chat`) through the chat template, as
    the win rate's replies are. `flatten` joins each reply's whitespace into single spaces; without it a reply
    keeps its lines. The model is put in eval mode for the call and left as it was."""
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    texts: list[str] = []
    try:
        with torch.no_grad():
            for start in range(0, len(prompts), batch_size):
                batch = [p if isinstance(p, str) and not chat else tokenizer.apply_chat_template(
                    [{"role": "user", "content": p}] if isinstance(p, str) else list(p), tokenize=False,
                    add_generation_prompt=True) for p in prompts[start: start + batch_size]]
                enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
                out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, pad_token_id=pad)
                for row in out[:, enc["input_ids"].shape[1]:]:
                    text = tokenizer.decode(row, skip_special_tokens=True)
                    texts.append(" ".join(text.split()) if flatten else text.strip())
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return texts
