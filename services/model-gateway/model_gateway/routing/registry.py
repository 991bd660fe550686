"""The configured models: name and alias lookup, and the ordered routes of a call."""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass

import grpc

from model_gateway.config import DeploymentConfig, GatewayConfig, ModelConfig
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.base import ModelSettings
from modelgateway.v1 import gateway_pb2 as pb


@dataclass(frozen=True, slots=True)
class Route:
    """One place a call can be served: a configured model on one deployment."""

    model: ModelConfig
    deployment: DeploymentConfig
    fallback: bool  # reached through the requested model's `fallbacks`
    settings: ModelSettings  # what the provider's translator is told of `model`

    @property
    def label(self) -> str:
        return f"{self.deployment.provider}/{self.deployment.model}"


class Registry:
    def __init__(self, config: GatewayConfig) -> None:
        self._models: dict[str, ModelConfig] = {}
        self._settings = {model.name: ModelSettings.of(model) for model in config.models}
        for model in config.models:
            for name in (model.name, *model.aliases):
                self._models[name] = model
        self._ordered = list(config.models)
        self._created = int(time.time())

    def resolve(self, name: str) -> ModelConfig:
        """The configured model for a name or alias, or NOT_FOUND with close matches."""
        model = self._models.get(name)
        if model is None:
            model = self._models.get(name.removesuffix(":latest"))
        if model is not None:
            return model
        close = difflib.get_close_matches(name, list(self._models), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = f" (configured: {', '.join(sorted(self._models))})" if not close and self._models else ""
        raise GatewayError(
            grpc.StatusCode.NOT_FOUND,
            Reason.MODEL_NOT_FOUND,
            f"model '{name}' not found{hint}{known}",
            metadata={"model": name},
        )

    def canonical(self, name: str) -> str | None:
        """The configured name behind a name or alias, or None: a bounded metric label."""
        model = self._models.get(name) or self._models.get(name.removesuffix(":latest"))
        return model.name if model is not None else None

    def routes(self, name: str) -> list[Route]:
        """Every deployment of the model in order, then those of its fallbacks.

        The order is the seam where routing strategies (weights, latency,
        cost) will plug in; today it is the configured order.
        """
        model = self.resolve(name)
        routes = [
            Route(model, d, False, self._settings[model.name]) for d in model.deployments if d.weight > 0
        ]
        seen = {model.name}
        for fallback_name in model.fallbacks:
            fallback = self.resolve(fallback_name)
            if fallback.name in seen:
                continue
            seen.add(fallback.name)
            settings = self._settings[fallback.name]
            routes.extend(Route(fallback, d, True, settings) for d in fallback.deployments if d.weight > 0)
        return routes

    def models(self) -> list[ModelConfig]:
        return list(self._ordered)

    def describe(self, model: ModelConfig) -> pb.Model:
        pricing = model.pricing
        return pb.Model(
            name=model.name,
            aliases=model.aliases,
            deployments=[
                pb.Deployment(provider=d.provider, model=d.model, weight=d.weight) for d in model.deployments
            ],
            fallbacks=model.fallbacks,
            pricing=pb.Pricing(
                input_per_mtok=pricing.input_per_mtok,
                output_per_mtok=pricing.output_per_mtok,
                cached_input_per_mtok=pricing.cached_input_per_mtok or 0.0,
            ),
            context_window=model.context_window or 0,
            capabilities=model.capabilities,
            created=self._created,
        )
