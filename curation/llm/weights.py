"""Model files read once per process: configuration, weights and tokenizer, shared by whatever only runs them.

Reading SmolLM2's GGUF file takes seconds for each of its parts (the configuration, the tokenizer, the
dequantised weights), and the same base model answers the local LLM backend's requests (translate, judge,
candidates), is scored by `medcurate eval`, judges win rates and is where training starts. So each part of a
file is read once per process and kept in a small memo keyed by the file's resolved path: the one piece of
process-wide state in the project, safe because nothing it holds is ever written. Inference shares
`inference_model` (in eval mode); anything that changes weights (training, an adapter wrapped into a model)
takes `private_model`, a model of its own built from the same configuration and weights; and every caller gets
a configuration and a tokenizer of its own to change as it needs.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

MEMO_SIZE = 4  # model files kept: the embedded model, and a few named ones


def model_source(path: Path) -> tuple[str, dict[str, Any]]:
    """What transformers' `from_pretrained` takes for `path`: the folder, and the file's name for a GGUF."""
    if path.suffix == ".gguf":
        return str(path.parent), {"gguf_file": path.name}
    return str(path), {}


def model_key(path: str | Path) -> str:
    """The memo's key for a model file: one entry per file, however its path is written."""
    return str(Path(path).resolve())


@lru_cache(maxsize=MEMO_SIZE)
def _config(key: str) -> Any:
    from transformers import AutoConfig

    folder, kwargs = model_source(Path(key))
    return AutoConfig.from_pretrained(folder, **kwargs)


def model_config(path: str | Path) -> Any:
    """A copy of `path`'s model configuration, read once per process."""
    return copy.deepcopy(_config(model_key(path)))


@lru_cache(maxsize=MEMO_SIZE)
def read_model(key: str, dtype: torch.dtype) -> Any:
    """The model at `key` (`model_key(path)`) in `dtype`, in eval mode, read on the first call only; call it
    with both arguments in place, as the memo tells calls apart by how they are written
    (`read_model.cache_info().misses` counts the reads). Shared: never train it nor wrap it.

    Keyed by dtype too: a GGUF file is dequantised in the dtype asked for, and bfloat16 arithmetic gives other
    weights than rounding float32 ones, so each dtype is a read of its own (one, where every user runs float32)."""
    from transformers import AutoModelForCausalLM, GgufConfig

    folder, kwargs = model_source(Path(key))
    if kwargs:  # unpacked at load: plain float tensors, which every trainable copy starts from
        kwargs["quantization_config"] = GgufConfig(dequantize=True)
    model = AutoModelForCausalLM.from_pretrained(folder, config=model_config(key), dtype=dtype, **kwargs)
    model.eval()
    return model


def inference_model(path: str | Path, dtype: torch.dtype = torch.float32) -> Any:
    """The shared model of `path` in `dtype`, in eval mode, for generating and scoring only."""
    return read_model(model_key(path), dtype)


def private_model(path: str | Path, dtype: torch.dtype, attn_implementation: str | None = None) -> Any:
    """A model of its own with the weights `path` has in `dtype`: built from the read model's configuration
    and state dict, so the file is not read again. In eval mode, as a freshly loaded model is."""
    from transformers import AutoModelForCausalLM

    shared = read_model(model_key(path), dtype)
    config = copy.deepcopy(shared.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten: leave the seeded RNG as it was
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, **kwargs)
    model.load_state_dict(shared.state_dict())
    model.generation_config = copy.deepcopy(shared.generation_config)
    model.eval()
    return model


@lru_cache(maxsize=MEMO_SIZE)
def _tokenizer(key: str) -> Any:
    from transformers import AutoTokenizer

    folder, kwargs = model_source(Path(key))
    return AutoTokenizer.from_pretrained(folder, **kwargs)


def tokenizer_of(path: str | Path) -> Any:
    """A copy of `path`'s tokenizer (read once per process), for the caller to configure as it needs."""
    return copy.deepcopy(_tokenizer(model_key(path)))
