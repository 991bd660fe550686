"""/v1/models: the gateway's models as OpenAI Model objects."""

from __future__ import annotations

from model_gateway_bridge.fields import JSON
from modelgateway.v1 import gateway_pb2 as pb

OWNED_BY = "model-gateway"


def model_object(name: str, created: int) -> JSON:
    return {"id": name, "object": "model", "created": created, "owned_by": OWNED_BY}


def model_list(reply: pb.ListModelsResponse) -> JSON:
    """Every configured name and every alias, each its own entry: clients pick from this list."""
    data = [model_object(name, m.created) for m in reply.models for name in (m.name, *m.aliases)]
    return {"object": "list", "data": data}
