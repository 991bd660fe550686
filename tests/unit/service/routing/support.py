"""Shared by the routing and failover tests: a fake clock, recorded routing events, more scripted errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from model_gateway.errors import GatewayError, Reason
from model_gateway.routing.breaker import CircuitState
from model_gateway.routing.registry import Route


class FakeClock:
    """A monotonic clock that moves only when told to (or when something sleeps on it)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Events:
    """Records what routing reports (routing/events.RoutingEvents)."""

    retries: list[tuple[str, str]] = field(default_factory=list)  # (deployment, error reason)
    skips: list[str] = field(default_factory=list)
    hedges: list[str] = field(default_factory=list)
    moves: list[tuple[str, CircuitState]] = field(default_factory=list)

    def retried(self, route: Route, error: GatewayError) -> None:
        self.retries.append((route.label, error.reason))

    def skipped(self, route: Route) -> None:
        self.skips.append(route.label)

    def hedged(self, route: Route) -> None:
        self.hedges.append(route.label)

    def breaker_changed(self, deployment: str, state: CircuitState) -> None:
        self.moves.append((deployment, state))


def not_found() -> GatewayError:
    return GatewayError(
        grpc.StatusCode.NOT_FOUND,
        Reason.UPSTREAM_MODEL_NOT_FOUND,
        "answered 404",
        metadata={"upstream_status": "404"},
    )


def timed_out() -> GatewayError:
    return GatewayError(grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_TIMEOUT, "timed out")


def ollama_busy() -> GatewayError:
    return GatewayError(
        grpc.StatusCode.UNAVAILABLE,
        Reason.UPSTREAM_UNAVAILABLE,
        "provider 'local' (http://127.0.0.1:11434) failed (HTTP 503): server busy, please try again.  "
        "maximum pending requests exceeded",
        metadata={"provider": "local", "upstream_status": "503"},
    )
