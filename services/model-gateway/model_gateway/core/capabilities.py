"""What a configured model says it can do, checked before any upstream sees the request.

A model's `capabilities` (config) name what it takes beyond plain chat:
`vision` (image parts) and `tools` (tool definitions). The check applies to
models that list their capabilities: a model whose config leaves them out
has the default `[chat]`, and nothing is refused for it (existing configs
predate the check; their upstreams still answer for themselves). So
`capabilities: [chat, tools]` on a text-only model refuses images with a
clear INVALID_ARGUMENT, instead of an upstream 400 or an answer that never
looked at the picture.

The routed model (the first route's) must be able to; a fallback model that
cannot is left out of the routes, so a failover never lands on a model that
would ignore or reject part of the request.
"""

from __future__ import annotations

from collections.abc import Sequence

from model_gateway.config import ModelConfig
from model_gateway.errors import invalid
from model_gateway.routing.registry import Route
from modelgateway.v1 import gateway_pb2 as pb

VISION = "vision"
TOOLS = "tools"
_INSTEAD = {VISION: "send no images", TOOLS: "send no tools"}


def needs(request: pb.GenerateRequest) -> list[tuple[str, str]]:
    """(capability, the field that asks for it), first occurrence of each."""
    found: list[tuple[str, str]] = []
    if request.tools:
        found.append((TOOLS, "tools"))
    for i, message in enumerate(request.messages):
        for j, part in enumerate(message.content):
            if part.HasField("image"):
                found.append((VISION, f"messages[{i}].content[{j}].image"))
                return found
    return found


def declared(model: ModelConfig) -> bool:
    """Whether the config lists the model's capabilities (the default `[chat]` does not count)."""
    return "capabilities" in model.model_fields_set


def missing(model: ModelConfig, wanted: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    if not declared(model):
        return None
    for capability, where in wanted:
        if capability not in model.capabilities:
            return capability, where
    return None


def capable_routes(request: pb.GenerateRequest, routes: list[Route]) -> list[Route]:
    """The routes whose model can serve the request; INVALID_ARGUMENT when the routed model cannot."""
    wanted = needs(request)
    if not wanted or not routes:
        return routes
    lacking = missing(routes[0].model, wanted)
    if lacking is not None:
        capability, where = lacking
        model = routes[0].model
        listed = ", ".join(model.capabilities) or "none"
        raise invalid(
            where,
            f"model '{model.name}' does not support {capability} (its capabilities: {listed}); "
            f"{_INSTEAD[capability]}, or use a model with {capability} in its capabilities",
        )
    return [route for route in routes if missing(route.model, wanted) is None]
