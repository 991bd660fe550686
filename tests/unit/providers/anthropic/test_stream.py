"""Anthropic streams → canonical chunks, served over real HTTP in odd-sized pieces.

Transcripts are the SDKs' recorded streams and the docs' examples (see
tests/fixtures/anthropic/README.md). Each is written by a loopback server
in pieces of 1, 5, 17, … bytes, so lines, events and multi-byte characters
arrive split at awkward places. Where a transcript has an unstreamed twin
(`<case>.wire.json`, the Message the same call returns without streaming),
the streamed usage, finish reason and answer must equal the unstreamed ones.
"""

from __future__ import annotations

from typing import Any

import grpc
import orjson
import pytest
from google.protobuf import json_format

from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.anthropic import AnthropicProvider
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases
from tests.unit.providers.anthropic.support import (
    DIALECT,
    answer_tool_for,
    fixture_bytes,
    fixture_json,
    user_request,
)
from tests.unit.providers.openai.support import Reply, Upstream

Fixture = tuple[Upstream, AnthropicProvider]
STREAMS = cases.cases(DIALECT, "stream")
PAIRS = [case for case in STREAMS if cases.path(DIALECT, f"{case}.wire.json").exists()]
# An answer cut by max_tokens mid-way through a tool's JSON has no well-defined unstreamed twin.
PARTIAL = {"messages_stream_max_tokens_partial_json"}


def request_for(case: str) -> pb.GenerateRequest:
    request = user_request()
    if answer_tool_for(case):
        request.response_format.type = pb.ResponseFormat.TYPE_JSON_OBJECT
    return request


def comparable(chunks: list[pb.StreamChunk], expected: list[dict[str, Any]]) -> list[pb.StreamChunk]:
    """The chunks without measured timings; an estimate's counts only where the golden says "estimated"."""
    out = []
    for chunk, want in zip(chunks, expected + [{}] * len(chunks), strict=False):
        copy = pb.StreamChunk()
        copy.CopyFrom(chunk)
        if copy.HasField("final"):
            copy.final.ClearField("timings")
            if want.get("final", {}).get("usage") == {"estimated": True}:
                copy.final.usage.CopyFrom(pb.Usage(estimated=copy.final.usage.estimated))
        out.append(copy)
    return out


def golden(case: str) -> tuple[list[dict[str, Any]], list[pb.StreamChunk]]:
    expected = fixture_json(f"{case}.canonical.json")
    return expected, [json_format.ParseDict(chunk, pb.StreamChunk()) for chunk in expected]


async def stream_case(
    fixture: Fixture, case: str, pieces: tuple[int, ...] | None = None
) -> list[pb.StreamChunk]:
    upstream, provider = fixture
    reply = Reply(fixture_bytes(f"{case}.wire.sse"))
    if pieces is not None:
        reply.pieces = pieces
    upstream.on("POST /messages", reply)
    return [chunk async for chunk in provider.stream(request_for(case), "claude-x", 10)]


@pytest.mark.parametrize("case", STREAMS)
async def test_stream_translates_to_the_canonical_chunks(upstream: Fixture, case: str) -> None:
    chunks = await stream_case(upstream, case)
    raw, expected = golden(case)
    assert comparable(chunks, raw) == expected
    finals = [chunk for chunk in chunks if chunk.HasField("final")]
    assert len(finals) == 1 and chunks[-1] is finals[0]


async def test_one_byte_at_a_time_keeps_multibyte_characters_whole(upstream: Fixture) -> None:
    case = "messages_stream_thinking_refusal"
    chunks = await stream_case(upstream, case, pieces=(1,))
    raw, expected = golden(case)
    assert comparable(chunks, raw) == expected


def assembled(chunks: list[pb.StreamChunk]) -> dict[str, Any]:
    """What a client assembles from the deltas: text, reasoning, signature, redacted data, tool calls."""
    text, reasoning, signature, redacted = [], [], [], []
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        delta = chunk.delta
        text.append(delta.text)
        reasoning.append(delta.reasoning)
        signature.append(delta.reasoning_signature)
        redacted.append(delta.redacted_reasoning)
        for fragment in delta.tool_calls:
            call = calls.setdefault(fragment.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += fragment.id
            call["name"] += fragment.name
            call["arguments"] += fragment.arguments
    assert sorted(calls) == list(range(len(calls))), "tool-call indexes are 0, 1, … in order"
    return {
        "text": "".join(text),
        "reasoning": "".join(reasoning),
        "signatures": "".join(signature),
        "redacted": "".join(redacted),
        "tool_calls": [{**calls[i], "arguments": orjson.loads(calls[i]["arguments"])} for i in sorted(calls)],
    }


def unstreamed_view(message: pb.Message) -> dict[str, Any]:
    parts = [part.reasoning for part in message.content if part.HasField("reasoning")]
    return {
        "text": "".join(part.text for part in message.content if part.HasField("text")),
        "reasoning": message.reasoning,
        "signatures": "".join(part.signature for part in parts),
        "redacted": "".join(part.data for part in parts if part.redacted),
        "tool_calls": [
            {"id": call.id, "name": call.name, "arguments": orjson.loads(call.arguments)}
            for call in message.tool_calls
        ],
    }


@pytest.mark.parametrize("case", PAIRS)
async def test_streamed_usage_equals_the_unstreamed_calls(upstream: Fixture, case: str) -> None:
    fake, provider = upstream
    chunks = await stream_case(upstream, case)
    final = chunks[-1].final
    fake.on("POST /messages", Reply(fixture_bytes(f"{case}.wire.json"), content_type="application/json"))
    unstreamed = await provider.generate(request_for(case), "claude-x", 10)
    assert final.usage == unstreamed.usage
    assert not final.usage.estimated and final.usage.total_tokens > 0
    assert final.finish_reason == unstreamed.finish_reason
    if case not in PARTIAL:
        streamed, whole = assembled(chunks), unstreamed_view(unstreamed.message)
        if answer_tool_for(case):  # the same JSON answer, spaced as streamed or as re-encoded
            streamed["text"], whole["text"] = orjson.loads(streamed["text"]), orjson.loads(whole["text"])
        assert streamed == whole


async def test_a_stream_without_usage_is_estimated(upstream: Fixture) -> None:
    chunks = await stream_case(upstream, "messages_stream_thinking_docs")
    usage = chunks[-1].final.usage
    assert usage.estimated and usage.input_tokens > 0 and usage.output_tokens > 0


async def test_an_error_event_mid_stream_ends_it_with_the_mapped_error(upstream: Fixture) -> None:
    seen: list[pb.StreamChunk] = []
    with pytest.raises(GatewayError) as caught:
        async for chunk in stream_case_iter(upstream, "messages_stream_error_overloaded"):
            seen.append(chunk)
    assert [chunk.delta.text for chunk in seen] == ["Hello"]
    error = caught.value
    assert error.code == grpc.StatusCode.UNAVAILABLE and error.failover
    assert "overloaded_error mid-stream: Overloaded" in error.message


async def stream_case_iter(fixture: Fixture, case: str) -> Any:
    upstream, provider = fixture
    upstream.on("POST /messages", Reply(fixture_bytes(f"{case}.wire.sse")))
    async for chunk in provider.stream(request_for(case), "claude-x", 10):
        yield chunk


@pytest.mark.parametrize("abort", [False, True])
async def test_a_cut_stream_is_an_error_never_a_silent_end(upstream: Fixture, abort: bool) -> None:
    fake, provider = upstream
    fake.on("POST /messages", Reply(fixture_bytes("messages_stream_cut.wire.sse"), abort=abort))
    with pytest.raises(GatewayError) as caught:
        async for _ in provider.stream(user_request(), "claude-x", 10):
            pass
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert caught.value.reason == Reason.STREAM_INTERRUPTED


@pytest.mark.parametrize(
    ("error_type", "code"),
    [
        ("rate_limit_error", grpc.StatusCode.RESOURCE_EXHAUSTED),
        ("api_error", grpc.StatusCode.UNAVAILABLE),
        ("invalid_request_error", grpc.StatusCode.INVALID_ARGUMENT),
        ("something_new_error", grpc.StatusCode.UNAVAILABLE),
    ],
)
async def test_error_event_types_map_like_their_http_status(
    upstream: Fixture, error_type: str, code: grpc.StatusCode
) -> None:
    fake, provider = upstream
    body = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","usage":'
        b'{"input_tokens":3,"output_tokens":1}}}\n\nevent: error\ndata: {"type":"error","error":'
        b'{"type":"' + error_type.encode() + b'","message":"went wrong"}}\n\n'
    )
    fake.on("POST /messages", Reply(body))
    with pytest.raises(GatewayError) as caught:
        async for _ in provider.stream(user_request(), "claude-x", 10):
            pass
    assert caught.value.code == code
    assert "went wrong" in caught.value.message


async def test_message_delta_without_message_stop_still_ends_whole(upstream: Fixture) -> None:
    fake, provider = upstream
    body = fixture_bytes("messages_stream_basic.wire.sse")
    fake.on("POST /messages", Reply(body[: body.index(b"event: message_stop")]))
    chunks = [chunk async for chunk in provider.stream(user_request(), "claude-x", 10)]
    assert chunks[-1].final.finish_reason == pb.FINISH_REASON_STOP
    assert chunks[-1].final.usage.output_tokens == 6


async def test_without_usage_the_streamed_estimate_equals_the_unstreamed_one(upstream: Fixture) -> None:
    fake, provider = upstream
    chunks = await stream_case(upstream, "messages_stream_thinking_docs")
    thinking, signature = assembled(chunks)["reasoning"], assembled(chunks)["signatures"]
    reply = {
        "id": "msg_01BVYq2Yf2k5uRuwEpGTf7iV",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": thinking, "signature": signature},
            {"type": "text", "text": assembled(chunks)["text"]},
        ],
        "stop_reason": "end_turn",
    }
    fake.on("POST /messages", Reply(orjson.dumps(reply), content_type="application/json"))
    unstreamed = await provider.generate(request_for("messages_stream_thinking_docs"), "claude-x", 10)
    assert unstreamed.usage.estimated and chunks[-1].final.usage == unstreamed.usage
