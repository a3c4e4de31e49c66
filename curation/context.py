"""The run context: what a run tells its steps once, before they see any record.

One frozen value instead of keyword arguments merged into each step: a step cannot be told half of the facts,
nor have one fact reset by a second call, and the plan derives cache keys from the same value the steps see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .llm.config import Endpoint
    from .llm.types import BackendFactory

LLM_CACHE = "llm-cache.sqlite"


@dataclass(frozen=True)
class RunContext:
    """Where a run's files are and how its LLM requests go out.

    - `base_dir`: the recipe's folder; relative paths in step options are relative to it.
    - `state_dir`: the local folder of the SQLite stores (LLM request cache, review queues).
    - `endpoints`, `default_endpoint`: the recipe's named LLM endpoints, or the one a command line names.
    - `llm_cache`: the LLM request cache when it is not `state_dir/llm-cache.sqlite` (a command's `--cache`).
    - `llm_backends`: makes the backend that sends an endpoint's requests (None: remote or embedded, by the
      endpoint); the Ray executor gives a pool of actors here.
    - `dry_run`: estimate LLM requests and cost, send nothing.
    - `executor`, `workers`: where the steps run, for steps that report it.
    """

    base_dir: Path | None = None
    state_dir: Path | None = None
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)
    default_endpoint: str = "local"
    llm_cache: Path | None = None
    llm_backends: BackendFactory | None = None
    dry_run: bool = False
    executor: str = "local"
    workers: int = 1

    def resolve(self, path: str) -> Path:
        """A path from a step's options: relative to the recipe's folder where there is one."""
        return self.base_dir / path if self.base_dir is not None else Path(path)

    def endpoint(self, name: str | None) -> Endpoint | None:
        """The endpoint a step names, or the default one; None when the run names none."""
        if name is not None and name in self.endpoints:
            return self.endpoints[name]
        return self.endpoints.get(self.default_endpoint)

    @property
    def llm_cache_path(self) -> Path | None:
        if self.llm_cache is not None:
            return self.llm_cache
        return self.state_dir / LLM_CACHE if self.state_dir is not None else None
