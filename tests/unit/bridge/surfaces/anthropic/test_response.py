"""Canonical replies → the `message` object, against the published replies of tests/fixtures/anthropic.

The provider read each published reply into its canonical form; this front
door must write it back as the API sent it (content blocks, stop_reason,
usage), and the result must parse as the SDK's `Message` with no key the
type does not declare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from anthropic.types import Message
from google.protobuf import json_format

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.anthropic.response import message_id, message_object, usage
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.surfaces.anthropic.helpers import strict

FIXTURES = Path(__file__).resolve().parents[5] / "tests" / "fixtures" / "anthropic"
# Replies the canonical form carries whole ([DOCS] examples; sources in the fixtures' README).
CASES = ["text", "tool_use", "thinking", "cache_write", "cache_read"]
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def published_usage(wire: dict[str, Any]) -> dict[str, int]:
    return {key: wire.get(key) or 0 for key in USAGE_KEYS}


@pytest.mark.parametrize("case", CASES)
def test_published_replies_are_written_back(case: str) -> None:
    name = f"messages_response_{case}"
    wire = orjson.loads((FIXTURES / f"{name}.wire.json").read_bytes())
    canonical = json_format.ParseDict(
        orjson.loads((FIXTURES / f"{name}.canonical.json").read_bytes()), pb.GenerateResponse()
    )
    out = message_object(canonical, wire["model"])
    assert out == {**wire, "usage": published_usage(wire["usage"])}
    strict(Message, out)


def test_cache_counts_leave_anthropics_input_tokens() -> None:
    whole = pb.Usage(
        input_tokens=2100, output_tokens=7, cached_input_tokens=2000, cache_write_input_tokens=60
    )
    assert usage(whole) == {
        "input_tokens": 40,
        "output_tokens": 7,
        "cache_creation_input_tokens": 60,
        "cache_read_input_tokens": 2000,
    }


def test_plain_reasoning_and_tool_calls_from_other_providers() -> None:
    message = pb.Message(
        role=pb.ROLE_ASSISTANT,
        reasoning="thinking aloud",
        content=[pb.ContentPart(text="Let me look.")],
        tool_calls=[pb.ToolCall(id="call_abc", name="get_weather", arguments='{"city": "Paris"}')],
    )
    response = pb.GenerateResponse(
        id="chatcmpl-7f3a", model="llama3.2", message=message, finish_reason=pb.FINISH_REASON_STOP
    )
    out = message_object(response, "llama3.2")
    assert out["id"] == "msg_7f3a" and out["stop_reason"] == "tool_use"  # Ollama says "stop" after a call
    assert out["content"] == [
        {"type": "thinking", "thinking": "thinking aloud", "signature": ""},
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "call_abc", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    strict(Message, out)


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        (pb.FINISH_REASON_STOP, "end_turn"),
        (pb.FINISH_REASON_LENGTH, "max_tokens"),
        (pb.FINISH_REASON_CONTENT_FILTER, "refusal"),
        (pb.FINISH_REASON_UNSPECIFIED, "end_turn"),
    ],
)
def test_stop_reasons(finish: pb.FinishReason.ValueType, reason: str) -> None:
    response = pb.GenerateResponse(
        message=pb.Message(content=[pb.ContentPart(text="x")]), finish_reason=finish
    )
    assert message_object(response, "m")["stop_reason"] == reason


def test_an_error_finish_is_a_502() -> None:
    with pytest.raises(BridgeError) as caught:
        message_object(pb.GenerateResponse(finish_reason=pb.FINISH_REASON_ERROR), "m")
    assert caught.value.status == 502


def test_ids() -> None:
    assert message_id("msg_01XFDUDYJgAACzvnptvVoYEL") == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert message_id("chatcmpl-ab12") == "msg_ab12"
    assert message_id("").startswith("msg_") and len(message_id("")) == 28
