"""/v1/models: every name and alias an SDK Model."""

from __future__ import annotations

from openai.types import Model

from model_gateway_bridge.surfaces.openai.models import model_list
from modelgateway.v1 import gateway_pb2 as pb


def test_models() -> None:
    reply = pb.ListModelsResponse(
        models=[
            pb.Model(name="gpt-4o-mini", aliases=["mini"], created=1_700_000_000),
            pb.Model(name="llama3.2:3b", created=1_700_000_000),
        ]
    )
    listed = model_list(reply)
    assert listed["object"] == "list"
    models = [Model.model_validate(m) for m in listed["data"]]
    assert [m.id for m in models] == ["gpt-4o-mini", "mini", "llama3.2:3b"]
    assert {(m.object, m.owned_by, m.created) for m in models} == {("model", "model-gateway", 1_700_000_000)}
