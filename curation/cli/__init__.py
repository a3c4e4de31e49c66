"""The `medcurate` command line: one app, its commands grouped by what they work on."""

from . import data, evaluate, llm, recipe, review, steps, train  # noqa: F401  (importing a module registers its commands)
from .app import app

__all__ = ["app"]
