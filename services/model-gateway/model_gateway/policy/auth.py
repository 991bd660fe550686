"""Authenticate: who is calling. A named no-op until API keys exist: every caller is anonymous."""

from __future__ import annotations

from model_gateway.core.stages import PassStage


class Authenticate(PassStage):
    name = "authenticate"
