"""The configured models: name and alias lookup, and the routes of a call.

Every route is built once, when the config is loaded: a configured model on
one deployment, with the model's retry policy, the deployment's breaker
and (for load-aware strategies) its statistics, so a call only copies a
list. A model's routes are its own deployments, then those of its
fallbacks, which chain: a fallback's own fallbacks come after it.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, field, replace

import grpc

from model_gateway.config import DeploymentConfig, GatewayConfig, ModelConfig
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.base import ModelSettings
from model_gateway.routing.breaker import Breaker, Breakers, BreakerView, CircuitState
from model_gateway.routing.retry import NO_RETRIES, RetryPolicy
from model_gateway.routing.stats import DeploymentStats
from model_gateway.routing_settings import CascadeSettings, HedgeSettings, StrategyName, merged
from modelgateway.v1 import gateway_pb2 as pb

AUTO = "auto"  # the model name that routes by routing.auto's rules
_LOAD_AWARE = frozenset({"least_busy", "latency"})
_CIRCUIT = {
    CircuitState.CLOSED: pb.CIRCUIT_STATE_CLOSED,
    CircuitState.OPEN: pb.CIRCUIT_STATE_OPEN,
    CircuitState.HALF_OPEN: pb.CIRCUIT_STATE_HALF_OPEN,
}


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """One place a call can be served: a configured model on one deployment."""

    model: ModelConfig
    deployment: DeploymentConfig
    fallback: bool  # reached through the requested model's `fallbacks`
    settings: ModelSettings  # what the provider's translator is told of `model`
    policy: RetryPolicy = NO_RETRIES  # retries of this deployment, from the model's routing
    breaker: Breaker | None = None  # the deployment's, shared by every model that uses it
    stats: DeploymentStats | None = None  # kept when a load-aware strategy reads them
    # A cascade's tier below the last: its answer is kept only if it passes these checks.
    cascade: CascadeSettings | None = None
    hedge: HedgeSettings | None = None  # the model's hedging of unary calls, if on
    label: str = field(init=False)  # "<provider>/<upstream model>"

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"{self.deployment.provider}/{self.deployment.model}")


def deployment_labels(config: GatewayConfig) -> list[str]:
    """Every configured deployment as `provider/model`, once each, in config order."""
    labels = (f"{d.provider}/{d.model}" for m in config.models for d in m.deployments)
    return list(dict.fromkeys(labels))


def circuit_of(view: BreakerView | None) -> tuple[pb.CircuitState.ValueType, float]:
    """A breaker's state and seconds to its probe, as the proto says them (UNSPECIFIED: no breaker)."""
    if view is None:
        return pb.CIRCUIT_STATE_UNSPECIFIED, 0.0
    return _CIRCUIT[view.state], round(view.retry_in_s, 3)


class Registry:
    def __init__(self, config: GatewayConfig, breakers: Breakers | None = None) -> None:
        self.breakers = breakers if breakers is not None else Breakers()
        self.auto = config.routing.auto
        self._models: dict[str, ModelConfig] = {}
        for model in config.models:
            for name in (model.name, *model.aliases):
                self._models[name] = model
        self._ordered = list(config.models)
        self._created = int(time.time())
        routing = config.routing
        self.strategies: dict[str, StrategyName] = {}
        policies: dict[str, RetryPolicy] = {}
        hedges: dict[str, HedgeSettings | None] = {}
        for model in config.models:
            own = model.routing
            self.strategies[model.name] = (
                model.strategy or (own.strategy if own is not None else None) or routing.strategy
            )
            backoff = merged(routing.backoff, own.backoff if own is not None else None)
            retries = own.retries if own is not None and own.retries is not None else routing.retries
            policies[model.name] = RetryPolicy(retries, backoff.initial_s, backoff.max_s)
            hedges[model.name] = own.hedge if own is not None and own.hedge is not None else routing.hedge
        tracked = {
            f"{d.provider}/{d.model}"
            for model in config.models
            if self.strategies[model.name] in _LOAD_AWARE or hedges[model.name] is not None
            for d in model.deployments
        }
        self.stats: dict[str, DeploymentStats] = {label: DeploymentStats(label) for label in tracked}
        # Each model's own routes, as requested (fallback=False) and as a fallback (fallback=True).
        self._own: dict[str, tuple[tuple[Route, ...], tuple[Route, ...]]] = {}
        for model in config.models:
            settings = ModelSettings.of(model)
            breaker_settings = merged(routing.breaker, model.routing.breaker if model.routing else None)
            pair = []
            for as_fallback in (False, True):
                routes = []
                for d in model.deployments:
                    if d.weight <= 0:
                        continue
                    label = f"{d.provider}/{d.model}"
                    breaker = self.breakers.get(label, breaker_settings)
                    stats = self.stats.get(label)
                    policy, hedge = policies[model.name], hedges[model.name]
                    routes.append(Route(model, d, as_fallback, settings, policy, breaker, stats, hedge=hedge))
                pair.append(tuple(routes))
            self._own[model.name] = (pair[0], pair[1])
        # Every model's fallback chain, depth first, each model once.
        self.chains: dict[str, tuple[ModelConfig, ...]] = {m.name: self._chain(m) for m in config.models}
        # Each cascade's tiers, cheapest first: every tier but the last carries the checks.
        self.tiers: dict[str, tuple[tuple[ModelConfig, tuple[Route, ...]], ...]] = {}
        for model in config.models:
            if model.cascade is None:
                continue
            names = model.cascade.models
            tiers = []
            for index, name in enumerate(names):
                tier = self._models[name]
                checks = model.cascade if index < len(names) - 1 else None
                tiers.append((tier, tuple(replace(r, cascade=checks) for r in self._own[tier.name][0])))
            self.tiers[model.name] = tuple(tiers)
        self._flat = {
            m.name: self._own[m.name][0] + tuple(r for f in self.chains[m.name] for r in self._own[f.name][1])
            for m in config.models
        }

    def _chain(self, model: ModelConfig) -> tuple[ModelConfig, ...]:
        order: list[ModelConfig] = []
        seen = {model.name}

        def visit(current: ModelConfig) -> None:
            for name in current.fallbacks:
                fallback = self._models[name]
                if fallback.name not in seen:
                    seen.add(fallback.name)
                    order.append(fallback)
                    visit(fallback)

        visit(model)
        return tuple(order)

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
        if model is None:
            return AUTO if name == AUTO and self.auto.default is not None else None
        return model.name

    def has(self, name: str) -> bool:
        """Whether a configured model is called `name` (or has it as an alias)."""
        return name in self._models

    def routes(self, name: str) -> list[Route]:
        """Every deployment of the model in configured order, then those of its fallbacks."""
        return list(self._flat[self.resolve(name).name])

    def own(self, model: ModelConfig, as_fallback: bool = False) -> tuple[Route, ...]:
        """The model's own deployments (weight above zero), in configured order."""
        return self._own[model.name][1 if as_fallback else 0]

    def flat(self, model: ModelConfig) -> tuple[Route, ...]:
        return self._flat[model.name]

    def models(self) -> list[ModelConfig]:
        return list(self._ordered)

    def describe(self, model: ModelConfig) -> pb.Model:
        pricing = model.pricing
        deployments = []
        for d in model.deployments:
            breaker = self.breakers.find(f"{d.provider}/{d.model}")
            state, retry_in = circuit_of(breaker.view() if breaker is not None else None)
            deployments.append(
                pb.Deployment(
                    provider=d.provider, model=d.model, weight=d.weight, circuit=state, retry_in_s=retry_in
                )
            )
        return pb.Model(
            name=model.name,
            aliases=model.aliases,
            deployments=deployments,
            fallbacks=model.fallbacks,
            pricing=pb.Pricing(
                input_per_mtok=pricing.input_per_mtok,
                output_per_mtok=pricing.output_per_mtok,
                cached_input_per_mtok=pricing.cached_input_per_mtok or 0.0,
                cache_write_per_mtok=pricing.cache_write_per_mtok or 0.0,
            ),
            context_window=model.context_window or 0,
            capabilities=model.capabilities,
            created=self._created,
        )
