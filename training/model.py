"""Loading the base model and its tokenizer: a model folder, a GGUF file, or a random model of a given size.

A named file is read once per process (`curation.llm.weights`); what training gets is a model of its own,
built from those weights, since training changes them.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import torch

from curation.errors import MedcurateError
from curation.llm.weights import model_config, private_model, tokenizer_of

from .attention import SEGMENTS, register
from .config import ModelSpec

# used when a tokenizer has no chat template of its own
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def model_path(spec: ModelSpec) -> Path:
    if spec.path:
        path = Path(spec.path)
        if not path.exists():
            raise MedcurateError(f"model: {path} does not exist (a model folder or a .gguf file)")
        return path
    from curation.llm.local import default_gguf

    return default_gguf()


def resolve_dtype(spec: ModelSpec) -> torch.dtype:
    if spec.dtype == "auto":
        return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    if spec.dtype in ("bfloat16", "float16") and not torch.cuda.is_available():
        raise MedcurateError(f"model.dtype {spec.dtype} needs a GPU; use float32 (or auto) on CPU")
    return getattr(torch, spec.dtype)


def load_tokenizer(spec: ModelSpec):
    tok = tokenizer_of(model_path(spec))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not getattr(tok, "chat_template", None):
        tok.chat_template = CHATML
    return tok


def attn_implementation(spec: ModelSpec) -> str:
    """auto: flash-attention's varlen kernel on a GPU that has it, per-example causal sdpa otherwise; both keep
    packed examples apart without a mask (`sdpa` and `eager` use a block-diagonal one)."""
    choice = spec.attn_implementation
    if choice == "flash_attention_2" and not torch.cuda.is_available():
        raise MedcurateError("model.attn_implementation flash_attention_2 needs a GPU")
    if choice == "auto":
        choice = "flash_attention_2" if torch.cuda.is_available() and find_spec("flash_attn") else "segments"
    if choice == "segments":
        register()
        return SEGMENTS
    return choice


def module_names(spec: ModelSpec, tokenizer) -> set[str]:
    """Names of the base model's modules (last component), without loading its weights."""
    from transformers import AutoModelForCausalLM

    if spec.random is not None:
        with torch.device("meta"):
            model = load_model(spec, tokenizer)
    else:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(model_config(model_path(spec)))
    return {name.rsplit(".", 1)[-1] for name, _ in model.named_modules() if name}


def load_model(spec: ModelSpec, tokenizer, weights: str | Path | None = None):
    """The base model (or `weights`, a folder written by an earlier stage), to train: a model of its own, never
    the one inference shares."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    dtype = resolve_dtype(spec)
    attn = attn_implementation(spec)
    if weights is not None:
        return AutoModelForCausalLM.from_pretrained(str(weights), dtype=dtype, attn_implementation=attn)
    if spec.random is not None:
        r = spec.random
        cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=r.hidden_size, num_hidden_layers=r.layers,
                          num_attention_heads=r.heads, num_key_value_heads=r.heads,
                          intermediate_size=r.intermediate_size, max_position_embeddings=r.max_position_embeddings,
                          bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                          pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
        cfg._attn_implementation = attn
        torch.manual_seed(0)
        return AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    # GGUF weights are dequantised when read: plain tensors, trainable, without the file's quantization marker
    return private_model(model_path(spec), dtype, attn)
