"""How a recipe names an LLM endpoint: where it is, which model, and which environment variable holds the key.

The key itself is never part of a config: only the variable's name is, so recipes, caches, manifests and
logs can be shared without leaking it.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field

from ..errors import MedcurateError


class Prices(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt_per_1m: float = Field(0.0, ge=0, description="Price of one million prompt tokens.")
    completion_per_1m: float = Field(0.0, ge=0, description="Price of one million completion tokens.")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt_per_1m + completion_tokens * self.completion_per_1m) / 1e6


class Endpoint(BaseModel):
    """An OpenAI-compatible endpoint, or (with no base_url) the embedded local model."""

    model_config = ConfigDict(extra="forbid")
    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000/v1; left out: the local model.")
    model: str = Field("smollm2-135m-instruct", description="Model name sent to the endpoint.")
    api_key_env: str | None = Field(None, description="Name of the environment variable that holds the API key.")
    local_model: str | None = Field(
        None, description="Local backend: a Hugging Face model folder or a .gguf file; SmolLM2 if left out.")
    concurrency: int = Field(4, ge=1, description="Requests in flight at once.")
    adaptive: bool = Field(False, description="Halve concurrency on 429, add one back after a run of successes.")
    rpm: int | None = Field(None, ge=1, description="Requests per minute.")
    tpm: int | None = Field(None, ge=1, description="Tokens per minute (prompt + completion).")
    timeout: float = Field(60.0, gt=0, description="Seconds per request.")
    max_retries: int = Field(5, ge=0)
    backoff: float = Field(1.0, gt=0, description="First retry delay in seconds; doubles each try, with jitter.")
    max_backoff: float = Field(60.0, gt=0)
    prices: Prices = Field(default_factory=Prices)
    batch_size: int = Field(8, ge=1, description="Local backend: prompts generated together.")

    def api_key(self) -> str:
        """The key from the environment; endpoints that need none (local servers) get a placeholder."""
        if not self.api_key_env:
            return "none"
        key = os.environ.get(self.api_key_env)
        if not key:
            raise MedcurateError(f"environment variable {self.api_key_env} (API key for {self.base_url}) is not set")
        return key
