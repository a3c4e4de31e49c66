"""The PEFT methods a stage may use, checked before training starts."""

from __future__ import annotations

from typing import Any

import torch

from curation.errors import MedcurateError

from .config import StageSpec


def check_method(stage: StageSpec, where: str) -> None:
    if stage.method == "qlora":
        if not torch.cuda.is_available():
            raise MedcurateError(f"{where}: method qlora needs a CUDA GPU and bitsandbytes (this machine has no GPU); "
                                 f"use lora")
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise MedcurateError(f"{where}: method qlora needs the bitsandbytes package") from None
    if stage.method in ("prompt", "prefix") and stage.packing:
        raise MedcurateError(f"{where}: {stage.method} tuning cannot pack examples (its virtual tokens need the "
                             f"ordinary attention mask); set packing: false")


def adapter_config(stage: StageSpec) -> Any:
    from peft import LoraConfig, PrefixTuningConfig, PromptTuningConfig, TaskType

    if stage.method in ("lora", "dora", "qlora"):
        lora = stage.lora
        return LoraConfig(task_type=TaskType.CAUSAL_LM, r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                          target_modules=lora.target_modules, use_dora=stage.method == "dora")
    if stage.method == "prompt":
        return PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=stage.virtual_tokens)
    if stage.method == "prefix":
        return PrefixTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=stage.virtual_tokens)
    raise MedcurateError(f"method {stage.method} has no adapter")


def base_of(model: torch.nn.Module) -> torch.nn.Module | None:
    """The causal LM under a peft wrapper, or None where peft changes the inputs (prompt / prefix tuning)."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        if model.peft_config[model.active_adapter].is_prompt_learning:
            return None
        return model.get_base_model()
    return model
