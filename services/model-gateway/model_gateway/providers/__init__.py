"""One provider per upstream wire format, behind the Provider interface."""

from __future__ import annotations

from model_gateway.config import GatewayConfig, ProviderConfig
from model_gateway.providers.base import Provider, UnimplementedProvider


def build_provider(name: str, config: ProviderConfig) -> Provider:
    # Imported here so a kind's dependencies load only when it is configured.
    if config.kind == "ollama":
        from model_gateway.providers.ollama import OllamaProvider

        return OllamaProvider(name, config)
    if config.kind in ("openai", "huggingface"):
        from model_gateway.providers.openai import OpenAIProvider

        if config.kind == "huggingface" and not config.url.endswith("/v1"):
            # TGI serves the OpenAI Messages API under /v1 of its own root.
            config = config.model_copy(update={"base_url": config.url + "/v1"})
        return OpenAIProvider(name, config)
    return UnimplementedProvider(name, config)


def build_providers(config: GatewayConfig) -> dict[str, Provider]:
    return {name: build_provider(name, provider) for name, provider in config.providers.items()}


__all__ = ["Provider", "build_provider", "build_providers"]
