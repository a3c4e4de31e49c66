"""Where a recipe's steps run: in this process (the default) or on a Ray cluster."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ExecutorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["local", "ray"] = Field("local", description="local: this process (and `workers` processes); "
                                                               "ray: Ray Data tasks and actors.")
    address: str | None = Field(None, description="Ray cluster to join: 'auto' (a `ray start` on this machine), "
                                                  "'ray://head:10001'; left out: start a Ray instance here.")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a Ray instance started here (all by default).")
    workers: int | None = Field(None, ge=1, description="Ray actors per step (the cluster's CPUs by default).")
    llm_actors: int = Field(2, ge=1, description="Async actors sending an LLM step's requests, sharing one "
                                                 "rate limit.")
