"""Stream chunks → the Responses event sequence: every event parsed by the SDK's ResponseStreamEvent
with no undeclared key, and the whole stream accumulated by the SDK's own `responses.stream()`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.openai.responses import reasoning
from model_gateway_bridge.surfaces.openai.responses.request import parse_responses
from model_gateway_bridge.surfaces.openai.responses.stream import ResponsesStream
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.surfaces.openai.helpers import sdk_client, sse_handler
from tests.unit.bridge.surfaces.openai.responses_helpers import run_stream, sse, strict_event, strict_response

CREATED = 1_700_000_001
USAGE = pb.Usage(
    input_tokens=19, output_tokens=10, total_tokens=29, cached_input_tokens=4, reasoning_tokens=3
)
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": False}
NAMESPACE = {
    "type": "namespace",
    "name": "crm",
    "description": "Customer records",
    "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
}


def delta(text: str = "", *calls: pb.ToolCallDelta, thinking: str = "") -> pb.StreamChunk:
    return pb.StreamChunk(
        id="s", created=CREATED, delta=pb.Delta(text=text, tool_calls=calls, reasoning=thinking)
    )


def final(reason: pb.FinishReason.ValueType = pb.FINISH_REASON_STOP) -> pb.StreamChunk:
    return pb.StreamChunk(id="s", created=CREATED, final=pb.FinalChunk(finish_reason=reason, usage=USAGE))


def framer(**fields: Any) -> ResponsesStream:
    return ResponsesStream(parse_responses({"model": "mini", "input": "hi", "stream": True, **fields}))


async def events_of(
    chunks: list[pb.StreamChunk], fail: BridgeError | None = None, **fields: Any
) -> tuple[bytes, list[tuple[str, dict[str, Any]]]]:
    raw = await run_stream(chunks, framer(**fields), fail)
    events = sse(raw)
    for _name, body in events:
        strict_event(body)
    assert [body["sequence_number"] for _, body in events] == list(range(len(events)))
    return raw, events


def sdk_final(raw: bytes, **fields: Any) -> Any:
    """The SDK's own accumulation of the stream: `responses.stream(...).get_final_response()`."""
    client = sdk_client(sse_handler(raw))
    with client.responses.stream(model="mini", input="hi", **fields) as stream:
        for _event in stream:
            pass
        return stream.get_final_response()


async def test_a_text_stream() -> None:
    raw, events = await events_of([delta("Hel"), delta("lo"), final()])
    assert [name for name, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    created = events[0][1]["response"]
    assert created["status"] == "in_progress" and created["output"] == [] and created["usage"] is None
    assert created["created_at"] == CREATED
    item_id = events[2][1]["item"]["id"]
    deltas = [body for name, body in events if name == "response.output_text.delta"]
    assert [
        (d["item_id"], d["output_index"], d["content_index"], d["delta"], d["logprobs"]) for d in deltas
    ] == [
        (item_id, 0, 0, "Hel", []),
        (item_id, 0, 0, "lo", []),
    ]
    assert events[6][1]["text"] == "Hello"
    completed = events[-1][1]["response"]
    strict_response(completed)
    assert completed["id"] == created["id"] and completed["status"] == "completed"
    assert completed["output"][0]["content"][0]["text"] == "Hello"
    assert completed["usage"]["input_tokens_details"]["cached_tokens"] == 4
    final_response = sdk_final(raw)
    assert final_response.output_text == "Hello" and final_response.usage is not None
    assert final_response.usage.total_tokens == 29


async def test_tool_calls_split_across_chunks_with_a_namespace() -> None:
    chunks = [
        delta("Let me check."),
        delta("", pb.ToolCallDelta(index=0, id="call_1", name="get_weather", arguments='{"ci')),
        delta("", pb.ToolCallDelta(index=0, arguments='ty": "Paris"}')),
        delta("", pb.ToolCallDelta(index=1, id="call_2", name="crm__lookup", arguments="{}")),
        final(pb.FINISH_REASON_TOOL_CALLS),
    ]
    raw, events = await events_of(chunks, tools=[WEATHER, NAMESPACE])
    names = [name for name, _ in events]
    assert names[2:] == [
        "response.output_item.added",  # message
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",  # call_1
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.output_item.added",  # call_2, parallel: call_1 still open
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = [body["item"] for name, body in events if name == "response.output_item.added"]
    assert (
        added[1]["call_id"] == "call_1"
        and added[1]["status"] == "in_progress"
        and added[1]["arguments"] == ""
    )
    assert (added[2]["name"], added[2]["namespace"]) == ("lookup", "crm")
    output = events[-1][1]["response"]["output"]
    assert [item["type"] for item in output] == ["message", "function_call", "function_call"]
    assert json.loads(output[1]["arguments"]) == {"city": "Paris"} and output[2]["arguments"] == "{}"
    args = {
        body["item_id"]: body["arguments"]
        for name, body in events
        if name == "response.function_call_arguments.done"
    }
    assert json.loads(args[output[1]["id"]]) == {"city": "Paris"} and args[output[2]["id"]] == "{}"
    response = sdk_final(raw, tools=[WEATHER, NAMESPACE])
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(c.call_id, c.name, c.namespace) for c in calls] == [
        ("call_1", "get_weather", None),
        ("call_2", "lookup", "crm"),
    ]
    assert json.loads(calls[0].arguments) == {"city": "Paris"}


async def test_reasoning_is_streamed_as_a_summary() -> None:
    raw, events = await events_of([delta(thinking="Let me "), delta(thinking="think."), delta("42"), final()])
    names = [name for name, _ in events]
    assert names[2:9] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    assert events[6][1]["text"] == "Let me think." and events[6][1]["summary_index"] == 0
    output = events[-1][1]["response"]["output"]
    assert output[0]["summary"] == [{"type": "summary_text", "text": "Let me think."}]
    assert output[1]["content"][0]["text"] == "42"
    assert sdk_final(raw).output_text == "42"


async def test_call_signatures_ride_in_a_reasoning_item_when_encrypted_content_is_asked_for() -> None:
    chunks = [
        delta(
            "", pb.ToolCallDelta(index=0, id="c1", name="get_weather", arguments="{}", signature="gem-sig")
        ),
        final(pb.FINISH_REASON_TOOL_CALLS),
    ]
    _, events = await events_of(chunks, tools=[WEATHER], include=["reasoning.encrypted_content"])
    output = events[-1][1]["response"]["output"]
    assert [item["type"] for item in output] == ["function_call", "reasoning"]
    assert reasoning.decode(output[1]["encrypted_content"]).call_signatures == {"c1": "gem-sig"}
    _, plain = await events_of(chunks, tools=[WEATHER])
    assert [item["type"] for item in plain[-1][1]["response"]["output"]] == ["function_call"]


async def test_signed_and_redacted_reasoning_ride_in_encrypted_content_when_asked_for() -> None:
    chunks = [
        delta(thinking="Let me think."),
        pb.StreamChunk(delta=pb.Delta(reasoning_signature="sig-1")),
        pb.StreamChunk(delta=pb.Delta(redacted_reasoning="opaque")),
        delta("42"),
        final(),
    ]
    raw, events = await events_of(chunks, include=["reasoning.encrypted_content"])
    item = events[-1][1]["response"]["output"][0]
    assert item["summary"] == [{"type": "summary_text", "text": "Let me think."}]
    carried = reasoning.decode(item["encrypted_content"])
    assert carried.parts == [
        pb.ReasoningPart(text="Let me think.", signature="sig-1"),
        pb.ReasoningPart(redacted=True, data="opaque"),
    ]
    assert sdk_final(raw).output_text == "42"
    _, plain = await events_of(chunks)
    assert "encrypted_content" not in plain[-1][1]["response"]["output"][0]


async def test_the_output_limit_ends_in_response_incomplete() -> None:
    _, events = await events_of([delta("Hel"), final(pb.FINISH_REASON_LENGTH)])
    name, body = events[-1]
    assert name == "response.incomplete"
    assert body["response"]["status"] == "incomplete"
    assert body["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["response"]["output"][0]["status"] == "incomplete"


async def test_an_empty_answer_still_has_a_message() -> None:
    raw, events = await events_of([delta(""), final()])
    output = events[-1][1]["response"]["output"]
    assert output == [
        {
            "id": output[0]["id"],
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "", "annotations": [], "logprobs": []}],
        }
    ]
    assert sdk_final(raw).output_text == ""


@pytest.mark.parametrize(
    ("fail", "code"),
    [
        (BridgeError(503, "upstream cut the stream"), "server_error"),
        (BridgeError(429, "slow down", reason="RATE_LIMITED"), "rate_limit_exceeded"),
    ],
)
async def test_a_failure_after_the_first_event_is_an_error_event_then_response_failed(
    fail: BridgeError, code: str
) -> None:
    raw, events = await events_of([delta("Hel")], fail)
    assert [name for name, _ in events][-2:] == ["error", "response.failed"]
    error = events[-2][1]
    assert error["message"] == fail.message
    failed = events[-1][1]["response"]
    assert failed["status"] == "failed" and failed["error"] == {"code": code, "message": fail.message}
    assert failed["id"] == events[0][1]["response"]["id"]
    client = sdk_client(sse_handler(raw))
    with client.responses.stream(model="mini", input="hi") as stream:
        seen = [event.type for event in stream]
    assert seen[-1] == "response.failed"
    with pytest.raises(RuntimeError, match=r"response\.completed"):
        stream.get_final_response()


async def test_a_stream_without_its_final_chunk_fails_visibly() -> None:
    _, events = await events_of([delta("Hel"), delta("lo")])
    assert events[-1][0] == "response.failed"
    assert "before the model finished" in events[-1][1]["response"]["error"]["message"]


async def test_a_model_error_finish_fails_the_response() -> None:
    _, events = await events_of([delta("Hel"), final(pb.FINISH_REASON_ERROR)])
    assert [name for name, _ in events][-2:] == ["error", "response.failed"]
