"""Pipeline steps, one module each, registered by name: dropping a module into this package registers its step."""

import importlib
import pkgutil

from .base import STEPS, GlobalStep, RecordStep, Reject, Step, StepConfig, get_step, register


def step_modules() -> list[str]:
    """Every module of this package but `base`: each holds one step (or helpers a step imports)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base" and not m.name.startswith("_"))


def load_all() -> None:
    for mod in step_modules():
        importlib.import_module(f"{__name__}.{mod}")


__all__ = ["STEPS", "GlobalStep", "RecordStep", "Reject", "Step", "StepConfig", "get_step", "load_all", "register",
           "step_modules"]
