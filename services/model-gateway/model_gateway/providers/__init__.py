"""One provider per upstream wire format, behind the Provider interface.

The kinds and their classes are listed in `registry.py`; each lives in its
own package (`openai/`, `ollama/`, ...) split into request, response and
stream translators and the provider itself. `http.py` (the pooled client and
the HTTP-to-gRPC error table), `sse.py`, `tool_args.py` and `images.py` are
shared by all of them.
"""

from __future__ import annotations

from model_gateway.config import GatewayConfig
from model_gateway.providers.base import Provider
from model_gateway.providers.registry import build_provider


def build_providers(config: GatewayConfig) -> dict[str, Provider]:
    return {name: build_provider(name, provider) for name, provider in config.providers.items()}


__all__ = ["Provider", "build_provider", "build_providers"]
