"""Limit: rate limits and budgets. A named no-op until keys with limits exist."""

from __future__ import annotations

from model_gateway.core.stages import PassStage


class Limit(PassStage):
    name = "limit"
