"""The `cache` section of the config: the exact-match response cache."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    ttl_s: float = Field(default=3600.0, gt=0)
    max_entries: int = Field(default=10_000, gt=0)  # the memory backend; Redis (storage.redis) uses ttl_s
    only_deterministic: bool = True  # cache only requests with temperature 0 or a seed
    per_key: bool = False  # keep each API key's answers apart
