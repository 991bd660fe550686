"""The one interface every provider implements: canonical proto in, canonical proto out.

A provider translates between the canonical messages and one upstream wire
format. It knows nothing of routing, failover, pricing or the client: the
pipeline sets ids, the route and the cost.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc

from model_gateway.config import ModelConfig, ProviderConfig
from model_gateway.errors import GatewayError, Reason
from modelgateway.v1 import gateway_pb2 as pb


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """What the config says of the model a call was routed to, for translators that need it."""

    name: str = ""  # the configured model's name
    max_output_tokens: int | None = None
    capabilities: frozenset[str] = frozenset()
    options: Mapping[str, Any] = field(default_factory=dict)  # the model's `options:`

    @classmethod
    def of(cls, model: ModelConfig) -> ModelSettings:
        return cls(model.name, model.max_output_tokens, frozenset(model.capabilities), dict(model.options))


NO_SETTINGS = ModelSettings()


class Provider(abc.ABC):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config

    @property
    def kind(self) -> str:
        return self.config.kind

    @abc.abstractmethod
    async def generate(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.GenerateResponse:
        """One completion from `model` (the upstream's name for it).

        Returns `message` (role assistant), `finish_reason`, `usage` (marked
        `estimated` when the upstream reported none) and `timings`.
        `timeout` is the seconds left for this attempt; `settings` what the
        config says of the routed model (its default max tokens, options).
        """

    @abc.abstractmethod
    def stream(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> AsyncIterator[pb.StreamChunk]:
        """The same completion streamed: `delta` chunks, then exactly one `final`.

        The final chunk carries `finish_reason`, `usage` (estimated when the
        upstream sent none) and `timings`. A stream the upstream ends early,
        or an in-band error, raises GatewayError. Closing the iterator closes
        the upstream request.
        """

    async def embed(
        self,
        request: pb.EmbedRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.EmbedResponse:
        raise GatewayError(
            grpc.StatusCode.UNIMPLEMENTED,
            Reason.NOT_IMPLEMENTED,
            f"provider '{self.name}' ({self.kind}) does not support embeddings",
        )

    def dropped_params(
        self,
        request: pb.GenerateRequest | pb.EmbedRequest,
        model: str,
        settings: ModelSettings = NO_SETTINGS,
    ) -> list[str]:
        """The request's fields this provider leaves out of its upstream call for `model`, by the
        request's own names (`top_k`, `options.num_ctx`): told to the client in the
        x-gateway-dropped-params header and written to the access log. Cheap, and the same
        list the translation itself leaves out; the default: nothing is left out."""
        return []

    async def count_tokens(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> int | None:
        """The upstream's own count of the request's input tokens, or None where it has no such endpoint."""
        return None

    @abc.abstractmethod
    async def list_models(self, timeout: float) -> list[str]:
        """The upstream's own model names (discovery and health probes)."""

    async def loaded_models(self, timeout: float) -> set[str] | None:
        """The upstream's model names held in memory now (Ollama's /api/ps), or None where the upstream
        cannot tell. Asked in the background (routing/warm.py), never on a request's path."""
        return None

    @property
    @abc.abstractmethod
    def address(self) -> str:
        """scheme://host:port of the upstream, never with credentials."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release pooled connections."""


class UnimplementedProvider(Provider):
    """A configured kind whose translator has not landed yet: calls fail clearly."""

    def _fail(self) -> GatewayError:
        return GatewayError(
            grpc.StatusCode.UNIMPLEMENTED,
            Reason.NOT_IMPLEMENTED,
            f"provider '{self.name}': kind '{self.kind}' is not implemented yet",
        )

    async def generate(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.GenerateResponse:
        raise self._fail()

    def stream(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> AsyncIterator[pb.StreamChunk]:
        raise self._fail()

    async def list_models(self, timeout: float) -> list[str]:
        raise self._fail()

    @property
    def address(self) -> str:
        return self.config.url
