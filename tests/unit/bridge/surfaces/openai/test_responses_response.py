"""The canonical reply → a Response object, parsed by the SDK's `Response` with no undeclared key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.openai.responses import reasoning
from model_gateway_bridge.surfaces.openai.responses.request import parse_responses
from model_gateway_bridge.surfaces.openai.responses.response import responses_object
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.surfaces.openai.responses_helpers import strict_response

USAGE = pb.Usage(
    input_tokens=19, output_tokens=10, total_tokens=29, cached_input_tokens=4, reasoning_tokens=3
)
NAMESPACE = {
    "type": "namespace",
    "name": "crm",
    "description": "Customer records",
    "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
}


def reply(
    message: pb.Message, finish: pb.FinishReason.ValueType = pb.FINISH_REASON_STOP
) -> pb.GenerateResponse:
    return pb.GenerateResponse(
        id="chatcmpl-abc",
        model="mini",
        created=1_700_000_000,
        message=message,
        finish_reason=finish,
        usage=USAGE,
    )


def answer(
    text: str = "", *calls: pb.ToolCall, reasoning_text: str = "", parts: tuple[Any, ...] = ()
) -> pb.Message:
    message = pb.Message(role=pb.ROLE_ASSISTANT, tool_calls=calls, reasoning=reasoning_text)
    message.content.extend(pb.ContentPart(reasoning=p) for p in parts)
    if text:
        message.content.add(text=text)
    return message


def render(
    message: pb.Message, finish: pb.FinishReason.ValueType = pb.FINISH_REASON_STOP, **fields: Any
) -> Any:
    call = parse_responses({"model": "mini", "input": "hi", **fields})
    return responses_object(call, reply(message, finish))


def test_a_text_answer() -> None:
    raw = render(answer("Hello"), instructions="Be brief.", metadata={"k": "v"}, temperature=0.5)
    response = strict_response(raw)
    assert raw["id"].startswith("resp_") and raw["object"] == "response"
    assert (response.status, response.model, response.created_at) == ("completed", "mini", 1_700_000_000)
    assert response.output_text == "Hello"
    (item,) = raw["output"]
    assert item["id"].startswith("msg_") and item["role"] == "assistant" and item["status"] == "completed"
    assert item["content"] == [{"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []}]
    assert raw["usage"] == {
        "input_tokens": 19,
        "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
        "output_tokens": 10,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 29,
    }
    assert (raw["instructions"], raw["metadata"], raw["temperature"]) == ("Be brief.", {"k": "v"}, 0.5)
    assert (raw["error"], raw["incomplete_details"], raw["previous_response_id"], raw["store"]) == (
        None,
        None,
        None,
        False,
    )
    assert raw["tool_choice"] == "auto" and raw["tools"] == [] and raw["text"] == {"format": {"type": "text"}}


def test_function_calls_with_a_namespace_named_again() -> None:
    calls = (
        pb.ToolCall(id="call_1", name="get_weather", arguments='{"city":"Paris"}'),
        pb.ToolCall(id="call_2", name="crm__lookup", arguments=""),
    )
    weather = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": False}
    raw = render(answer("", *calls), pb.FINISH_REASON_TOOL_CALLS, tools=[weather, NAMESPACE])
    response = strict_response(raw)
    assert [item["type"] for item in raw["output"]] == ["function_call", "function_call"]
    first, second = raw["output"]
    assert first["id"].startswith("fc_") and first["status"] == "completed"
    assert (first["call_id"], first["name"], json.loads(first["arguments"])) == (
        "call_1",
        "get_weather",
        {"city": "Paris"},
    )
    assert "namespace" not in first
    assert (second["name"], second["namespace"], second["arguments"]) == ("lookup", "crm", "{}")
    assert response.output_text == ""
    assert raw["tools"][1]["type"] == "namespace"


def test_text_before_calls_and_a_call_without_an_id_gets_one() -> None:
    raw = render(answer("Checking.", pb.ToolCall(name="f", arguments="{}")), pb.FINISH_REASON_TOOL_CALLS)
    strict_response(raw)
    message, call = raw["output"]
    assert message["content"][0]["text"] == "Checking."
    assert call["call_id"].startswith("call_")


def test_the_output_limit_is_an_incomplete_response() -> None:
    raw = render(answer("Hel"), pb.FINISH_REASON_LENGTH, max_output_tokens=2)
    response = strict_response(raw)
    assert response.status == "incomplete" and raw["incomplete_details"] == {"reason": "max_output_tokens"}
    assert raw["output"][0]["status"] == "incomplete" and raw["max_output_tokens"] == 2


def test_a_content_filter_stop_is_incomplete_too() -> None:
    raw = render(answer(""), pb.FINISH_REASON_CONTENT_FILTER)
    assert raw["incomplete_details"] == {"reason": "content_filter"}
    strict_response(raw)


def test_a_model_that_failed_is_a_502() -> None:
    with pytest.raises(BridgeError) as caught:
        render(answer("x"), pb.FINISH_REASON_ERROR)
    assert caught.value.status == 502


def test_reasoning_is_a_reasoning_item_with_a_summary() -> None:
    raw = render(answer("42", reasoning_text="Let me think."))
    strict_response(raw)
    item, message = raw["output"]
    assert item["id"].startswith("rs_") and item["type"] == "reasoning"
    assert item["summary"] == [{"type": "summary_text", "text": "Let me think."}]
    assert "encrypted_content" not in item  # not asked for
    assert message["content"][0]["text"] == "42"


def test_signed_reasoning_travels_in_encrypted_content_when_asked_for() -> None:
    signed = pb.ReasoningPart(text="hmm", signature="sig", provider_kind="anthropic")
    message = answer("", pb.ToolCall(id="c1", name="f", arguments="{}", signature="gem"), parts=(signed,))
    raw = render(message, pb.FINISH_REASON_TOOL_CALLS, include=["reasoning.encrypted_content"])
    strict_response(raw)
    item = raw["output"][0]
    assert item["summary"] == [{"type": "summary_text", "text": "hmm"}]
    carried = reasoning.decode(item["encrypted_content"])
    assert carried.parts == [signed] and carried.call_signatures == {"c1": "gem"}
    # Nothing signed: no encrypted content, even when asked for.
    plain = render(answer("x", reasoning_text="r"), include=["reasoning.encrypted_content"])
    assert "encrypted_content" not in plain["output"][0]


def test_echoed_request_fields() -> None:
    schema = {"type": "object", "properties": {}}
    raw = render(
        answer("{}"),
        text={"format": {"type": "json_schema", "name": "x", "schema": schema, "strict": True}},
        reasoning={"effort": "low", "summary": "auto"},
        prompt_cache_key="pck",
        parallel_tool_calls=False,
        tool_choice="none",
        user="u1",
    )
    response = strict_response(raw)
    assert raw["text"]["format"] == {"type": "json_schema", "name": "x", "schema": schema, "strict": True}
    assert response.reasoning is not None and response.reasoning.effort == "low"
    assert (raw["prompt_cache_key"], raw["parallel_tool_calls"], raw["tool_choice"], raw["user"]) == (
        "pck",
        False,
        "none",
        "u1",
    )
