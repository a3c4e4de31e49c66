"""What translate, synthesize and judge share: an endpoint, a cache, prompts, a budget, and usage in the manifest."""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from ..context import RunContext
from ..steps.base import GlobalStep, Record, Reject, StepConfig, texts_of
from ..steps.langid import Langid
from .client import LLM, Budget
from .config import Endpoint
from .prompts import SHIPPED, Prompts


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
    default_prompt: ClassVar[str] = ""
    config: LLMStepConfig

    @classmethod
    def prompt_names(cls, config: LLMStepConfig) -> list[str]:
        """The templates the step renders: its prompt, and the repair follow-up."""
        return [config.prompt or cls.default_prompt, "repair"]

    @classmethod
    def input_files(cls, config: LLMStepConfig, ctx: RunContext) -> list[Path]:
        """Option files, plus each template the step renders (from prompts_dir first, as rendering looks it up)
        and the partials (`_*.j2`) beside it that templates include."""
        folders = ([ctx.resolve(config.prompts_dir)] if config.prompts_dir else []) + [SHIPPED]
        files = super().input_files(config, ctx)
        for name in cls.prompt_names(config):
            file = name if name.endswith(".j2") else f"{name}.j2"
            found = next((f / file for f in folders if (f / file).is_file()), None)
            if found is not None:
                files.append(found)
                files.extend(sorted(found.parent.glob("_*.j2")))
        return list(dict.fromkeys(files))

    def __init__(self, config: LLMStepConfig | None = None):
        super().__init__(config)
        self._llm: LLM | None = None
        self.tally: Counter[str] = Counter()  # records sent, languages detected, records skipped and why

    @property
    def endpoint(self) -> Endpoint:
        """The endpoint the step names in the run, or the embedded model where the run names none."""
        return self.ctx.endpoint(self.config.endpoint) or Endpoint()

    @property
    def dry_run(self) -> bool:
        return self.ctx.dry_run

    def resolve(self, path: str | None) -> str | None:
        """Paths in a recipe's step options are relative to the recipe file."""
        return str(self.ctx.resolve(path)) if path else None

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            budget = Budget(self.config.max_budget_tokens, self.config.max_budget_cost)
            self._llm = LLM(self.endpoint, self.ctx.llm_cache_path, budget, dry_run=self.ctx.dry_run,
                            backends=self.ctx.llm_backends)
        return self._llm

    @cached_property
    def prompts(self) -> Prompts:
        return Prompts(self.resolve(self.config.prompts_dir))

    @cached_property
    def langid(self) -> Langid:
        """The langid step's detector, loaded once per step: deciding missing languages, checking outputs."""
        return Langid()

    def with_languages(self, records: list[Record]) -> tuple[list[Record], list[tuple[Record, Reject]]]:
        """Records that carry no language get the langid step's decision, recorded in `meta.langid`: the prompt
        names the language, so a record is never sent with a guess nor passed over silently. Those whose
        language cannot be decided are rejected with the reason."""
        ready: list[Record] = []
        rejected: list[tuple[Record, Reject]] = []
        for rec in records:
            if rec.get("lang"):
                ready.append(rec)
                continue
            lang, info, undecided = self.langid.decide("\n".join(t for role, t in texts_of(rec) if role != "system"))
            info["by"] = self.name
            rec["meta"]["langid"] = info
            if undecided:
                rejected.append((rec, Reject(undecided, info)))
                self.tally[f"rejected: {undecided}"] += 1
                continue
            rec["lang"] = lang
            self.tally["language detected"] += 1
            ready.append(rec)
        return ready, rejected

    def params(self, **overrides: Any) -> dict[str, Any]:
        return {"max_tokens": self.config.max_tokens, "temperature": self.config.temperature,
                "seed": self.config.seed, **overrides}

    def summary(self) -> dict[str, Any]:
        usage = self._llm.usage.to_dict() if self._llm else {}
        if self._llm and self.dry_run:
            usage = {"estimate": self._llm.estimate.to_dict(), "cache_hits": self._llm.usage.cache_hits}
        return {"llm": {**usage, "endpoint": self.endpoint.base_url or "local", "model": self.endpoint.model},
                "records": dict(sorted(self.tally.items()))}
