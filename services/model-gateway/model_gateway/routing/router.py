"""The routing step: which model serves a call, and in which order its routes are tried.

1. `model: "auto"` (or any model with `X-Gateway-Smart-Routing: 1`) picks a
   configured model by routing.auto's rules (routing/auto.py); `aplan` also
   runs the phases that call a model (semantic rules, the classifier).
2. A model with a `split` picks one arm, sticky per caller: a hash of the
   request's `user`, else of the key's name, so one user sees one arm.
3. The model's strategy orders its own deployments; its fallbacks follow,
   each ordered by its own strategy (`cost` ranks them all together).

The plan's `decision` says what chose: `auto:<rule>`, `split:<arm>`, or the
strategy's name. A model whose whole chain is `ordered` costs one list copy.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass

from model_gateway.config import ModelConfig
from model_gateway.providers.base import Provider
from model_gateway.routing.auto import Auto, smart_routing
from model_gateway.routing.registry import AUTO, Registry, Route
from model_gateway.routing.semantic import Classifier, Embedder, GatewayEmbedder, LocalEmbedder
from model_gateway.routing.strategy import Ordered, RoutingStrategy, build
from model_gateway.routing.warm import Warm
from modelgateway.v1 import gateway_pb2 as pb

_NO_CLIENT: Mapping[str, str] = {}
CASCADE = "cascade"  # the decision of a cascade until a tier answers: then `cascade:<tier>`


@dataclass(slots=True)
class Plan:
    model: ModelConfig  # the configured model chosen (after auto and split)
    routes: list[Route]  # in the order to try them (a cascade: every tier's, cheapest first)
    decision: str
    arm: str = ""  # the A/B arm, when a split chose


class Router:
    def __init__(
        self,
        registry: Registry,
        rng: random.Random | None = None,
        strategy: RoutingStrategy | None = None,
        providers: Mapping[str, Provider] | None = None,
        embedder: Embedder | None = None,
        warm: Warm | None = None,
    ) -> None:
        """`providers` serve the auto phases that call a model (an embedding model, the classifier);
        `embedder` replaces the semantic rules' embeddings (tests); `warm` knows which upstreams hold
        which models in memory (the `ordered` strategy puts those deployments first)."""
        self.registry = registry
        self.warm = warm
        self.rng = rng or random.Random()
        auto = registry.auto
        if embedder is None and any(rule.when.semantic is not None for rule in auto.rules):
            if auto.semantic.embedding_model is not None:
                if providers is not None:
                    embedder = GatewayEmbedder(registry, providers, auto.semantic.embedding_model)
            else:
                embedder = LocalEmbedder()
        classifier = (
            Classifier(auto.classifier, registry, providers)
            if auto.classifier is not None and providers is not None
            else None
        )
        self.auto = Auto(auto, lambda name: registry.resolve(name).context_window, embedder, classifier)
        self.strategies: dict[str, RoutingStrategy] = {
            name: strategy or build(kind, self.rng) for name, kind in registry.strategies.items()
        }
        self._plain = {
            model.name
            for model in registry.models()
            if all(
                isinstance(self.strategies[m.name], Ordered) for m in (model, *registry.chains[model.name])
            )
        }

    def plan(
        self,
        name: str,
        request: pb.GenerateRequest | None = None,
        client: Mapping[str, str] = _NO_CLIENT,
        who: str = "",
        stream: bool = False,
    ) -> Plan:
        decision = ""
        if request is not None and self._is_auto(name, client):
            name, decision = self.auto.choose(request, client)
        return self._planned(name, decision, request, who, stream)

    async def aplan(
        self,
        name: str,
        request: pb.GenerateRequest | None = None,
        client: Mapping[str, str] = _NO_CLIENT,
        who: str = "",
        stream: bool = False,
    ) -> Plan:
        """`plan`, with the auto phases that call a model (semantic rules, the classifier)."""
        if request is None or not self.auto.needs_io or not self._is_auto(name, client):
            return self.plan(name, request, client, who, stream)
        name, decision = await self.auto.decide(request, client)
        return self._planned(name, decision, request, who, stream)

    def _is_auto(self, name: str, client: Mapping[str, str]) -> bool:
        return (name == AUTO and not self.registry.has(AUTO)) or bool(client and smart_routing(client))

    def _planned(
        self, name: str, decision: str, request: pb.GenerateRequest | None, who: str, stream: bool
    ) -> Plan:
        model = self.registry.resolve(name)
        if model.split:
            return self._split(model, request, who, stream)
        if model.cascade is not None:
            return self._cascade(model, decision, stream)
        return Plan(model, self.order(model, stream), decision or self.strategies[model.name].name)

    def _cascade(self, model: ModelConfig, decision: str, stream: bool, arm: str = "") -> Plan:
        """Unary: every tier's routes, cheapest tier first, each ordered by its own strategy (failover
        moves to the next tier when an answer fails the checks). A stream is served by `stream_from`
        (default: the last tier). The decision becomes `cascade:<tier>` once a tier answers."""
        cascade = model.cascade
        assert cascade is not None
        if stream:
            tier = self.registry.resolve(cascade.stream_from or cascade.models[-1])
            return Plan(tier, self.order(tier, stream), decision or f"cascade:{tier.name}", arm)
        routes: list[Route] = []
        for tier, tier_routes in self.registry.tiers[model.name]:
            routes += self.strategies[tier.name].order(tier_routes, stream)
        return Plan(model, routes, decision or CASCADE, arm)

    def order(self, model: ModelConfig, stream: bool = False) -> list[Route]:
        warm = self.warm if self.warm is not None and self.warm.loaded else None
        if model.name in self._plain and warm is None:
            return list(self.registry.flat(model))
        strategy = self.strategies[model.name]
        if strategy.name == "cost":
            return strategy.order(self.registry.flat(model), stream)
        routes = self._ordered(strategy, self.registry.own(model), stream, warm)
        for fallback in self.registry.chains[model.name]:
            own = self.registry.own(fallback, True)
            routes += self._ordered(self.strategies[fallback.name], own, stream, warm)
        return routes

    @staticmethod
    def _ordered(
        strategy: RoutingStrategy, routes: tuple[Route, ...], stream: bool, warm: Warm | None
    ) -> list[Route]:
        """The strategy's order; under `ordered`, deployments whose upstream holds the model first."""
        if warm is not None and isinstance(strategy, Ordered):
            return warm.first(routes)
        return strategy.order(routes, stream)

    def _split(self, model: ModelConfig, request: pb.GenerateRequest | None, who: str, stream: bool) -> Plan:
        arms = model.split or []
        key = (request.user if request is not None and request.user else who) or "anonymous"
        digest = hashlib.blake2b(f"{model.name}\0{key}".encode(), digest_size=8).digest()
        point = int.from_bytes(digest, "big") / 2**64 * 100  # in [0, 100)
        total = 0.0
        arm = arms[-1]
        for candidate in arms:
            total += candidate.percent
            if point < total:
                arm = candidate
                break
        decision = f"split:{arm.name}"
        if arm.model is not None:
            chosen = self.registry.resolve(arm.model)
            if chosen.cascade is not None:
                return self._cascade(chosen, decision, stream, arm.name)
            return Plan(chosen, self.order(chosen, stream), decision, arm.name)
        routes = self.order(model, stream)
        first = [r for r in routes if not r.fallback and r.label == arm.deployment]
        return Plan(model, first + [r for r in routes if r not in first], decision, arm.name)
