"""What translate, synthesize and judge share: an endpoint, a cache, prompts, a budget, and usage in the manifest."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from ..steps.base import GlobalStep, StepConfig
from .client import LLM, Budget
from .config import Endpoint
from .prompts import Prompts
from .shared import LLMPool


class LLMStepConfig(StepConfig):
    endpoint: str | None = Field(None, description="A named endpoint of the recipe's `llm` section; its default "
                                                   "when left out.")
    prompt: str | None = Field(None, description="Template name under recipes/prompts/ (or prompts_dir).")
    prompts_dir: str | None = Field(None, description="A folder whose templates override the shipped ones.")
    max_tokens: int = Field(512, ge=1, description="Most tokens per reply.")
    temperature: float = Field(0.0, ge=0, le=2)
    seed: int = 0
    limit: int | None = Field(None, ge=0, description="Send at most this many records (the first ones).")
    max_budget_tokens: int | None = Field(None, ge=1, description="Stop the step when this many tokens are spent.")
    max_budget_cost: float | None = Field(None, gt=0, description="Stop the step at this cost (endpoint prices).")
    repairs: int = Field(2, ge=0, description="Follow-ups asking for a valid reply before a record is rejected.")


class LLMStep(GlobalStep):
    uses_llm: ClassVar[bool] = True
    config: LLMStepConfig

    def __init__(self, config: LLMStepConfig | None = None):
        super().__init__(config)
        self.endpoint = Endpoint()
        self.cache_path: Path | None = None
        self.dry_run = False
        self.base_dir = Path(".")
        self._llm: LLM | None = None
        self.pool: LLMPool | None = None

    def bind(self, **context: Any) -> None:
        recipe, work_dir = context.get("recipe"), context.get("work_dir")
        if recipe is not None:
            self.endpoint = recipe.llm.endpoints[self.config.endpoint or recipe.llm.default]
        if context.get("endpoint") is not None:
            self.endpoint = context["endpoint"]
        if work_dir is not None:
            self.cache_path = Path(work_dir) / "llm-cache.sqlite"
        if context.get("cache_path") is not None:
            self.cache_path = Path(context["cache_path"])
        if "dry_run" in context:
            self.dry_run = bool(context["dry_run"])
        if context.get("base_dir") is not None:
            self.base_dir = Path(context["base_dir"])
        if context.get("llm_pool") is not None:
            self.pool = context["llm_pool"]

    def resolve(self, path: str | None) -> str | None:
        """Paths in a recipe's step options are relative to the recipe file."""
        return str(self.base_dir / path) if path else None

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            budget = Budget(self.config.max_budget_tokens, self.config.max_budget_cost)
            self._llm = LLM(self.endpoint, self.cache_path, budget, dry_run=self.dry_run, pool=self.pool)
        return self._llm

    @cached_property
    def prompts(self) -> Prompts:
        return Prompts(self.resolve(self.config.prompts_dir))

    def params(self, **overrides: Any) -> dict[str, Any]:
        return {"max_tokens": self.config.max_tokens, "temperature": self.config.temperature,
                "seed": self.config.seed, **overrides}

    def summary(self) -> dict[str, Any]:
        usage = self._llm.usage.to_dict() if self._llm else {}
        if self._llm and self.dry_run:
            usage = {"estimate": self._llm.estimate.to_dict(), "cache_hits": self._llm.usage.cache_hits}
        return {"llm": {**usage, "endpoint": self.endpoint.base_url or "local", "model": self.endpoint.model}}
