"""Routing strategies: given a model's routes in configured order, the order to try them in.

A strategy sees the routes (deployments, then fallbacks) and returns them
reordered or filtered; its `name` becomes the route's `decision`. Only
`ordered` exists today; weighted, least-busy, latency and cost strategies
implement the same protocol.
"""

from __future__ import annotations

from typing import Protocol

from model_gateway.routing.registry import Route


class RoutingStrategy(Protocol):
    name: str

    def order(self, routes: list[Route]) -> list[Route]:
        """The routes to try, first choice first."""


class Ordered:
    """Deployments as configured, then fallbacks as configured."""

    name = "ordered"

    def order(self, routes: list[Route]) -> list[Route]:
        return routes


STRATEGIES: dict[str, RoutingStrategy] = {Ordered.name: Ordered()}
