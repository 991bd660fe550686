"""What routing tells the outside (metrics) as it happens: retries, skips, breaker moves.

A protocol obs/ implements (obs/metrics.RoutingMetrics), so routing and
core never import telemetry; tests and a bare pipeline use the quiet one.
"""

from __future__ import annotations

from typing import Protocol

from model_gateway.errors import GatewayError
from model_gateway.routing.breaker import BreakerListener, CircuitState
from model_gateway.routing.registry import Route


class RoutingEvents(BreakerListener, Protocol):
    def retried(self, route: Route, error: GatewayError) -> None:
        """A deployment is tried again after `error` (a retry, not a failover)."""

    def skipped(self, route: Route) -> None:
        """A route was passed over because its breaker is open (or probing)."""

    def hedged(self, route: Route) -> None:
        """A unary call was slow: `route` is asked too (the first answer wins)."""


class QuietEvents:
    def retried(self, route: Route, error: GatewayError) -> None:
        return None

    def skipped(self, route: Route) -> None:
        return None

    def hedged(self, route: Route) -> None:
        return None

    def breaker_changed(self, deployment: str, state: CircuitState) -> None:
        return None


QUIET_EVENTS = QuietEvents()
