"""Provider kinds: the config's `kind` → the Provider class that speaks its wire format.

Each kind is one line, `"kind": "module:Class"`. The module is imported only
when a configured provider uses the kind, so a kind's dependencies load only
then. Adding a kind is one new package under providers/ and ONE line in KINDS:

    "anthropic": "model_gateway.providers.anthropic:AnthropicProvider",

(a kind the config does not know yet also goes in `config.ProviderKind` and
`DEFAULT_BASE_URLS`). A configured kind with no line here (today `anthropic`
and `gemini`) gets UnimplementedProvider: the gateway starts, and calls routed
to it fail with UNIMPLEMENTED.
"""

from __future__ import annotations

from importlib import import_module

from model_gateway.config import ProviderConfig
from model_gateway.providers.base import Provider, UnimplementedProvider

KINDS: dict[str, str] = {
    "ollama": "model_gateway.providers.ollama:OllamaProvider",
    "openai": "model_gateway.providers.openai:OpenAIProvider",
    # TGI's Messages API: the OpenAI translator under `/v1` of the server's root.
    "huggingface": "model_gateway.providers.openai:HuggingFaceProvider",
    "gemini": "model_gateway.providers.gemini:GeminiProvider",
    "anthropic": "model_gateway.providers.anthropic:AnthropicProvider",
}


def provider_class(kind: str) -> type[Provider]:
    """The class for `kind`, its module imported now; UnimplementedProvider when none is registered."""
    target = KINDS.get(kind)
    if target is None:
        return UnimplementedProvider
    module, _, name = target.partition(":")
    cls = getattr(import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise TypeError(f"provider kind {kind!r}: {target} is not a Provider class")
    return cls


def build_provider(name: str, config: ProviderConfig) -> Provider:
    return provider_class(config.kind)(name, config)
