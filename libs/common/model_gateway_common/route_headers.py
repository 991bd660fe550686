"""The route a call took, as gRPC metadata and, through the bridge, HTTP response headers."""

from __future__ import annotations

from modelgateway.v1 import gateway_pb2 as pb

ROUTE_HEADERS = ("x-gateway-model", "x-gateway-provider", "x-gateway-deployment", "x-gateway-attempts")


def route_metadata(route: pb.Route) -> tuple[tuple[str, str], ...]:
    return (
        ("x-gateway-model", route.served_model),
        ("x-gateway-provider", route.provider),
        ("x-gateway-deployment", route.deployment),
        ("x-gateway-attempts", str(route.attempts)),
    )
