"""Routing strategies: in which order to try a model's deployments.

A strategy orders one model's routes (its own deployments); the router
applies it, then appends the fallbacks' routes (each fallback ordered by its
own strategy). Its `name` becomes the route's `decision`. Open breakers are
not a strategy's concern: failover skips them, so every strategy picks
among the healthy ones.

- `ordered`: as configured.
- `weighted`: random by `weight` (the first pick, and the failover order
  after it, both drawn by weight).
- `least_busy`: fewest calls in flight from this instance; ties at random.
- `latency`: lowest moving average of the time to the first token (streams)
  or to the answer (unary); a deployment with fewer than `MIN_SAMPLES`
  samples goes first, and `EXPLORE` of the calls try a random one first, so
  a deployment that got faster is noticed.
- `cost`: cheapest first by the serving model's pricing (input + output per
  million tokens), across the model and its fallbacks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol

from model_gateway.routing.registry import Route

MIN_SAMPLES = 3
EXPLORE = 0.1


class RoutingStrategy(Protocol):
    name: str

    def order(self, routes: Sequence[Route], stream: bool = False) -> list[Route]:
        """The routes to try, first choice first."""


class Ordered:
    """Deployments as configured, then fallbacks as configured."""

    name = "ordered"

    def order(self, routes: Sequence[Route], stream: bool = False) -> list[Route]:
        return list(routes)


class Weighted:
    name = "weighted"

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def order(self, routes: Sequence[Route], stream: bool = False) -> list[Route]:
        if len(routes) < 2:
            return list(routes)
        draw = self.rng.random
        # Efraimidis-Spirakis: sorting by u^(1/w) draws without replacement, proportionally to w.
        return sorted(routes, key=lambda r: draw() ** (1.0 / r.deployment.weight), reverse=True)


class LeastBusy:
    name = "least_busy"

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def order(self, routes: Sequence[Route], stream: bool = False) -> list[Route]:
        if len(routes) < 2:
            return list(routes)
        draw = self.rng.random
        return sorted(routes, key=lambda r: (r.stats.in_flight if r.stats else 0, draw()))


class Latency:
    name = "latency"

    def __init__(self, rng: random.Random | None = None, explore: float = EXPLORE) -> None:
        self.rng = rng or random.Random()
        self.explore = explore

    def order(self, routes: Sequence[Route], stream: bool = False) -> list[Route]:
        if len(routes) < 2:
            return list(routes)

        def speed(route: Route) -> tuple[int, float]:
            samples, seconds = route.stats.speed(stream) if route.stats else (0, 0.0)
            return (0, 0.0) if samples < MIN_SAMPLES else (1, seconds)

        ordered = sorted(routes, key=speed)
        if self.rng.random() < self.explore:
            ordered.insert(0, ordered.pop(self.rng.randrange(len(ordered))))
        return ordered


class Cost:
    name = "cost"

    def order(self, routes: Sequence[Route], stream: bool = False) -> list[Route]:
        return sorted(routes, key=lambda r: r.model.pricing.input_per_mtok + r.model.pricing.output_per_mtok)


def build(name: str, rng: random.Random) -> RoutingStrategy:
    return STRATEGIES[name](rng)


STRATEGIES: dict[str, Callable[[random.Random], RoutingStrategy]] = {
    Ordered.name: lambda rng: Ordered(),
    Weighted.name: Weighted,
    LeastBusy.name: LeastBusy,
    Latency.name: Latency,
    Cost.name: lambda rng: Cost(),
}
