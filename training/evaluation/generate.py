"""Generated replies: from an OpenAI-compatible endpoint (through the project's LLM client, so concurrency,
retries, rate limits and the reply cache all apply), or greedy continuations of a local model's prompts."""

from __future__ import annotations

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


@torch.no_grad()
def continue_texts(model: Any, tokenizer: Any, prompts: list[str], max_tokens: int, batch_size: int,
                   chat: bool = False) -> list[str]:
    """Greedy continuations of plain-text prompts (a chain of thought to score the options after)."""
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    texts: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start: start + batch_size]
            if chat:
                batch = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                                       add_generation_prompt=True) for p in batch]
            enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
            for row in out[:, enc["input_ids"].shape[1]:]:
                texts.append(" ".join(tokenizer.decode(row, skip_special_tokens=True).split()))
    finally:
        tokenizer.padding_side = side
    return texts
