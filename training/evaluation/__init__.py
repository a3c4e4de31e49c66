"""Benchmark scores for a model: multiple-choice and yes/no/maybe accuracy, with confidence intervals.

`run.evaluate` scores; `config.EvalSpec` says what to score (kept import-light: recipes validate with it).
"""

from .config import EvalSpec

__all__ = ["EvalSpec"]
