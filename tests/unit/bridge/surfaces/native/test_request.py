"""Native bodies → request messages: the proto3 JSON mapping, rejecting what grpc-gateway rejects."""

from __future__ import annotations

from typing import Any

import pytest

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.native.request import parse_into
from modelgateway.v1 import gateway_pb2 as pb


def test_camel_and_snake_names_are_read_and_unknown_fields_dropped() -> None:
    message = pb.GenerateRequest()
    body = {"model": "m", "prompt": "hi", "sampling": {"maxTokens": 8, "top_p": 0.5}, "whatever": 1}
    parse_into(body, message)
    assert message == pb.GenerateRequest(
        model="m", prompt="hi", sampling=pb.Sampling(max_tokens=8, top_p=0.5)
    )


BAD: list[tuple[dict[str, Any], str, str | None]] = [
    # (body, a fragment of the message, param)
    ({"sampling": "hot"}, "sampling: expected an object, got str", "sampling"),
    ({"messages": ["hi"]}, "messages[0]: expected an object, got str", "messages[0]"),
    (
        {"sampling": {"temperature": True}},
        "sampling.temperature: expected a number, got True",
        "sampling.temperature",
    ),
    (
        {"responseFormat": {"type": True}},
        "responseFormat.type: True is not an enum value",
        "responseFormat.type",
    ),
    ({"sampling": {"maxTokens": "many"}}, "invalid GenerateRequest", None),
]


@pytest.mark.parametrize(("body", "fragment", "param"), BAD)
def test_wrong_types_are_400s_naming_the_field(
    body: dict[str, Any], fragment: str, param: str | None
) -> None:
    with pytest.raises(BridgeError) as caught:
        parse_into(body, pb.GenerateRequest())
    assert caught.value.status == 400 and fragment in caught.value.message
    assert caught.value.param == param
