"""The `limits` section of the config: how rate limits and budgets are enforced.

Who gets which limits is said elsewhere (per key and per project by the
auth section and the keys CLI); this section holds the gateway-wide and
per-model limits and what to do when the shared store (Redis) is down.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateConfig(_Strict):
    rpm: int | None = Field(default=None, gt=0)  # requests per minute
    tpm: int | None = Field(default=None, gt=0)  # tokens (input + output) per minute


class LimitsConfig(_Strict):
    # Redis unreachable: `open` admits (a warning and a metric), `closed` refuses with 503.
    on_store_error: Literal["open", "closed"] = "open"
    # Output tokens reserved at admission when a request sets no max_tokens
    # (and its model no max_output_tokens); settled with the real usage.
    default_max_tokens: int = Field(default=1024, gt=0)
    gateway: RateConfig = Field(default_factory=RateConfig)  # all callers together
    models: dict[str, RateConfig] = Field(default_factory=dict)  # per model (its name), all callers
