"""Cache: answer repeated deterministic requests from a response cache. A named no-op for now."""

from __future__ import annotations

from model_gateway.core.stages import PassStage


class ResponseCache(PassStage):
    name = "cache"
