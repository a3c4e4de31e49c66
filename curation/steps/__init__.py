"""Pipeline steps, one module each, registered by name."""

from .base import STEPS, GlobalStep, RecordStep, Reject, Step, StepConfig, get_step, register

STEP_MODULES = ("normalize", "langid", "pii", "quality", "dedupe", "decontaminate", "translate", "synthesize",
                "judge", "review")


def load_all() -> None:
    import importlib

    for mod in STEP_MODULES:
        importlib.import_module(f"{__name__}.{mod}")


__all__ = ["STEPS", "GlobalStep", "RecordStep", "Reject", "Step", "StepConfig", "get_step", "load_all", "register"]
