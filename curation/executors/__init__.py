"""Executors: what runs a recipe's steps. The steps never know which one does."""

from __future__ import annotations

from .base import Executor
from .config import ExecutorConfig


def make_executor(config: ExecutorConfig) -> Executor:
    if config.type == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(config)
    from .local import LocalExecutor

    return LocalExecutor()


__all__ = ["Executor", "ExecutorConfig", "make_executor"]
