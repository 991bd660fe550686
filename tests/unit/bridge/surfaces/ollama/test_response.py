"""Canonical replies → /api/chat and /api/generate objects, judged by the ollama client's types."""

from __future__ import annotations

import re
from typing import Any

import ollama
import pytest

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.ollama.response import created_at, response_json
from modelgateway.v1 import gateway_pb2 as pb


def test_created_at_is_go_rfc3339_nano() -> None:
    assert created_at(1_691_176_965_499_127_000) == "2023-08-04T19:22:45.499127Z"
    assert created_at(1_691_176_965_000_000_000) == "2023-08-04T19:22:45Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", created_at())


def final_response(**fields: Any) -> pb.GenerateResponse:
    base: dict[str, Any] = {
        "model": "llama3.2",
        "message": pb.Message(role=pb.ROLE_ASSISTANT, content=[pb.ContentPart(text="Hello!")]),
        "finish_reason": pb.FINISH_REASON_STOP,
        "usage": pb.Usage(input_tokens=26, output_tokens=298, total_tokens=324),
    }
    base.update(fields)
    return pb.GenerateResponse(**base)


def test_non_streamed_chat_reply_parses_as_chat_response() -> None:
    timings = pb.Timings(
        total_ns=5_191_566_416, load_ns=2_154_458, prompt_eval_ns=383_809_000, eval_ns=4_799_921_000
    )
    body = response_json(final_response(timings=timings), "llama3.2", chat=True, wall_ns=1)
    reply = ollama.ChatResponse.model_validate(body)
    assert reply.message.role == "assistant" and reply.message.content == "Hello!"
    assert reply.done is True and reply.done_reason == "stop"
    assert (reply.prompt_eval_count, reply.eval_count) == (26, 298)
    assert (reply.total_duration, reply.load_duration) == (5_191_566_416, 2_154_458)
    assert (reply.prompt_eval_duration, reply.eval_duration) == (383_809_000, 4_799_921_000)


def test_untimed_upstream_gets_the_bridge_wall_clock() -> None:
    body = response_json(final_response(), "m", chat=False, wall_ns=9_000)
    reply = ollama.GenerateResponse.model_validate(body)
    assert reply.response == "Hello!"
    assert reply.total_duration == 9_000 and reply.eval_duration == 9_000 and reply.load_duration == 0
    assert "context" not in body  # token context means nothing across providers


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        (pb.FINISH_REASON_STOP, "stop"),
        (pb.FINISH_REASON_LENGTH, "length"),
        (pb.FINISH_REASON_TOOL_CALLS, "stop"),  # as Ollama says it
        (pb.FINISH_REASON_UNSPECIFIED, "stop"),
    ],
)
def test_done_reason(finish: pb.FinishReason.ValueType, reason: str) -> None:
    body = response_json(final_response(finish_reason=finish), "m", chat=True, wall_ns=1)
    assert body["done_reason"] == reason


def test_non_streamed_tool_calls_and_thinking() -> None:
    message = pb.Message(
        role=pb.ROLE_ASSISTANT,
        reasoning="need the weather",
        tool_calls=[pb.ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')],
    )
    body = response_json(
        final_response(message=message, finish_reason=pb.FINISH_REASON_TOOL_CALLS), "m", chat=True, wall_ns=5
    )
    assert body["message"]["tool_calls"] == [
        {"id": "call_1", "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}}
    ]
    reply = ollama.ChatResponse.model_validate(body)
    assert reply.message.thinking == "need the weather"
    assert reply.message.tool_calls is not None
    assert reply.message.tool_calls[0].function.arguments == {"city": "Paris"}
    assert reply.done_reason == "stop"


@pytest.mark.parametrize("arguments", ['{"a": ', "[1]", '"x"'])
def test_tool_arguments_that_are_not_an_object_are_a_502(arguments: str) -> None:
    message = pb.Message(role=pb.ROLE_ASSISTANT, tool_calls=[pb.ToolCall(name="f", arguments=arguments)])
    with pytest.raises(BridgeError, match="tool 'f' with arguments that are not a JSON object") as caught:
        response_json(final_response(message=message), "m", chat=True, wall_ns=1)
    assert caught.value.status == 502
