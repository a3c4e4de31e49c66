"""What `medcurate eval MODEL` can name: a model folder, a GGUF file, a LoRA adapter folder, a trainer's output
folder, or (resolved elsewhere) an endpoint URL.

A model file named directly (the embedded SmolLM2 when none is) is the one the process's other inference users
share (`curation.llm.weights`: read once, never written). What a trainer wrote, and a base an adapter is
wrapped around, are read for this evaluation alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from curation.errors import MedcurateError
from curation.llm.weights import inference_model, model_source, tokenizer_of


def _dtype() -> torch.dtype:
    return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32


def _plain(path: Path) -> tuple[Any, Any]:
    """A model of its own, read from disk (trained weights, or a base an adapter will be wrapped into)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, kwargs = model_source(path)
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=_dtype(), **kwargs)
    return model, tokenizer


def _shared(path: Path) -> tuple[Any, Any]:
    """The process's shared inference model of `path`, and a tokenizer of this caller's own."""
    return inference_model(path, _dtype()), tokenizer_of(path)


def _adapter(path: Path, base: str | None) -> tuple[Any, Any]:
    from peft import PeftModel
    from transformers import AutoTokenizer

    cfg = json.loads((path / "adapter_config.json").read_text())
    base = base or cfg.get("base_model_name_or_path")
    if not base or not Path(base).exists():
        raise MedcurateError(f"{path}: an adapter; its base model ({base or 'not recorded'}) is not on disk: "
                             f"name it with --base")
    base_path = Path(base)
    ggufs = sorted(base_path.glob("*.gguf")) if base_path.is_dir() and not (base_path / "config.json").exists() else []
    model, tokenizer = _plain(ggufs[0] if ggufs else base_path)  # a GGUF base is recorded as its folder
    if (path / "tokenizer_config.json").exists():
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    return PeftModel.from_pretrained(model, str(path)), tokenizer


def _trainer_output(path: Path, base: str | None) -> tuple[Any, Any, str]:
    if (path / "merged" / "config.json").exists():
        return (*_plain(path / "merged"), str(path / "merged"))
    done = sorted(path.glob("*/stage.json"), key=lambda p: p.stat().st_mtime)
    stages = [json.loads(p.read_text()) for p in done]
    if not stages:
        raise MedcurateError(f"{path}: a trainer output folder with no finished stage")
    last = stages[-1]
    if last.get("model"):
        return (*_plain(Path(last["model"])), last["model"])
    model, tokenizer = _adapter(Path(last["adapter"]), base or last.get("base") or None)
    return model, tokenizer, last["adapter"]


def load_local(ref: str | None, base: str | None = None) -> tuple[Any, Any, str]:
    """(model, tokenizer, what was loaded), in eval mode; SmolLM2-135M-Instruct when `ref` is None. A model file
    named directly is shared with the process's other inference users: generate and score with it, never train
    or wrap it."""
    from curation.llm.local import default_gguf

    path = Path(ref) if ref else default_gguf()
    if not path.exists():
        raise MedcurateError(f"model {path}: no such file or folder (a model folder, a .gguf file, an adapter "
                             f"folder, a trainer output folder, or an http(s):// endpoint)")
    if path.is_dir() and (path / "adapter_config.json").exists():
        model, tokenizer = _adapter(path, base)
        described = f"{path} (adapter)"
    elif path.is_dir() and not (path / "config.json").exists():
        model, tokenizer, described = _trainer_output(path, base)
    else:
        model, tokenizer = _shared(path)
        described = str(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer, described
