"""Canonical stream chunks → SSE events, against the published streams of tests/fixtures/anthropic.

The provider read each published stream into canonical chunks; framed
again here, the events are Anthropic's (pings aside, which only say "still
there"; empty deltas aside; `message_start` carries no usage yet, the whole
usage comes in `message_delta`). Each event parses as the SDK's
RawMessageStreamEvent with no undeclared key, and the SDK's own accumulator
ends with the message the same call gets unstreamed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import ErrorResponse, Message, RawMessageStreamEvent
from google.protobuf import json_format

from model_gateway_bridge.client import OpenStream
from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.streaming import stream_body
from model_gateway_bridge.surfaces.anthropic.stream import MessageStream
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.surfaces.anthropic.helpers import sse, strict

FIXTURES = Path(__file__).resolve().parents[5] / "tests" / "fixtures" / "anthropic"
CASES = [
    "basic",  # [SDK-PY] basic_response.txt
    "tool_use",  # [SDK-PY] tool_use_response.txt
    "refusal",  # [SDK-PY] refusal_response.txt
    "thinking_refusal",  # [SDK-TS] fable-fallback/stream-a-refusal.sse
    "prompt_caching",  # ours, with the [DOCS] prompt-caching usage
    "redacted_thinking_tools",  # ours: thinking, redacted_thinking, text, three tool_use blocks
]
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def chunks_of(case: str) -> list[pb.StreamChunk]:
    raw = orjson.loads((FIXTURES / f"messages_stream_{case}.canonical.json").read_bytes())
    return [json_format.ParseDict(item, pb.StreamChunk(id="chatcmpl-s1")) for item in raw]


async def frame(chunks: list[pb.StreamChunk], model: str = "m", fail: BridgeError | None = None) -> bytes:
    async def rest() -> AsyncIterator[pb.StreamChunk]:
        for chunk in chunks[1:]:
            yield chunk
        if fail is not None:
            raise fail

    return b"".join(
        [piece async for piece in stream_body(OpenStream(chunks[0], rest(), {}), MessageStream(model))]
    )


def published(case: str) -> list[tuple[str, Any]]:
    """The published events as the gateway can say them."""
    events = sse_loose((FIXTURES / f"messages_stream_{case}.wire.sse").read_bytes())
    usage: dict[str, Any] = {}
    out: list[tuple[str, Any]] = []
    for name, data in events:
        if name == "ping":
            continue
        if name == "message_start":
            usage.update(data["message"]["usage"])
            data["message"]["usage"] = dict.fromkeys(USAGE_KEYS, 0)
            data["message"].pop("stop_details", None)
        elif name == "content_block_start":
            data["content_block"].pop("caller", None)
        elif name == "content_block_delta":
            delta = data["delta"]
            if not any(delta.get(key) for key in ("text", "partial_json", "thinking", "signature")):
                continue
        elif name == "message_delta":
            usage.update(data["usage"])
            data["usage"] = {key: usage.get(key) or 0 for key in USAGE_KEYS}
            data["delta"] = {"stop_reason": data["delta"]["stop_reason"], "stop_sequence": None}
        out.append((name, data))
    return _without_empty_text_blocks(_with_whole_inputs(out))


def _with_whole_inputs(events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """A tool_use block without input deltas: the canonical call carries its input as one fragment."""
    out: list[tuple[str, Any]] = []
    bare: dict[int, Any] = {}
    for name, data in events:
        if name == "content_block_start" and data["content_block"]["type"] == "tool_use":
            bare[data["index"]] = data["content_block"]["input"]
        elif name == "content_block_delta":
            bare.pop(data["index"], None)
        elif name == "content_block_stop" and data["index"] in bare:
            whole = orjson.dumps(bare.pop(data["index"])).decode()
            delta = {"type": "input_json_delta", "partial_json": whole}
            out.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": data["index"], "delta": delta},
                )
            )
        out.append((name, data))
    return out


def _without_empty_text_blocks(events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """A text block with no text says nothing the canonical chunks keep; later blocks move up."""
    used = {data["index"] for name, data in events if name == "content_block_delta"}
    empty = {
        data["index"]
        for name, data in events
        if name == "content_block_start" and data["content_block"]["type"] == "text"
    } - used
    out: list[tuple[str, Any]] = []
    for name, data in events:
        if "index" in data:
            if data["index"] in empty:
                continue
            data["index"] -= sum(1 for i in empty if i < data["index"])
        out.append((name, data))
    return out


def sse_loose(raw: bytes) -> list[tuple[str, Any]]:
    out = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        if block.strip():
            lines = dict(line.split(": ", 1) for line in block.strip().split("\n"))
            out.append((lines["event"], orjson.loads(lines["data"])))
    return out


@pytest.mark.parametrize("case", CASES)
async def test_published_streams_are_framed_back(case: str) -> None:
    expected = published(case)
    model = expected[0][1]["message"]["model"]
    events = sse(await frame(chunks_of(case), model))
    for (_, ours), (_, theirs) in zip(events, expected, strict=False):
        if ours["type"] == "message_start":
            assert ours["message"]["id"].startswith("msg_")
            ours["message"]["id"] = theirs["message"]["id"]
    assert events == expected
    snapshot, bufs = None, dict[int, bytes]()
    for _, data in events:
        event = strict(RawMessageStreamEvent, data)
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)
    assert snapshot is not None and snapshot.stop_reason == expected[-2][1]["delta"]["stop_reason"]
    twin = FIXTURES / f"messages_stream_{case}.wire.json"
    if (
        twin.exists() and case != "max_tokens_partial_json"
    ):  # its tool input was cut short: no JSON to compare
        unstreamed = orjson.loads(twin.read_bytes())
        final = snapshot.model_dump(exclude_none=True)
        blocks = [b for b in unstreamed["content"] if b != {"type": "text", "text": ""}]
        assert final["content"] == [{k: v for k, v in b.items() if k != "caller"} for b in blocks]
        assert final["usage"] == {k: unstreamed["usage"].get(k) or 0 for k in USAGE_KEYS}


async def test_thinking_signature_and_redacted_blocks() -> None:
    chunks = [
        pb.StreamChunk(delta=pb.Delta(reasoning="a")),
        pb.StreamChunk(delta=pb.Delta(reasoning_signature="sig")),
        pb.StreamChunk(delta=pb.Delta(redacted_reasoning="opaque")),
        pb.StreamChunk(
            delta=pb.Delta(tool_calls=[pb.ToolCallDelta(index=0, id="call_1", name="f", arguments='{"x"')])
        ),
        pb.StreamChunk(delta=pb.Delta(tool_calls=[pb.ToolCallDelta(index=0, arguments=": 1}")])),
        pb.StreamChunk(delta=pb.Delta(tool_calls=[pb.ToolCallDelta(index=1, id="call_2", name="g")])),
        pb.StreamChunk(
            final=pb.FinalChunk(
                finish_reason=pb.FINISH_REASON_STOP, usage=pb.Usage(input_tokens=3, output_tokens=4)
            )
        ),
    ]
    snapshot, bufs = None, dict[int, bytes]()
    for _, data in sse(await frame(chunks)):
        snapshot = accumulate_event(
            event=strict(RawMessageStreamEvent, data), current_snapshot=snapshot, json_bufs=bufs
        )
    assert snapshot is not None
    assert [b.model_dump(exclude_none=True) for b in snapshot.content] == [
        {"type": "thinking", "thinking": "a", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {
            "type": "tool_use",
            "id": "call_1",
            "name": "f",
            "input": {"x": 1},
        },  # a late fragment finds its block
        {"type": "tool_use", "id": "call_2", "name": "g", "input": {}},
    ]
    assert snapshot.stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("fail", "kind"),
    [
        (BridgeError(503, "upstream cut the stream"), "overloaded_error"),
        (BridgeError(504, "deadline exceeded"), "timeout_error"),
        (None, "api_error"),  # the gateway's stream ended without its final chunk
    ],
)
async def test_a_failure_after_the_start_is_an_error_event(fail: BridgeError | None, kind: str) -> None:
    events = sse(await frame([pb.StreamChunk(delta=pb.Delta(text="Hel"))], fail=fail))
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "error",
    ]
    error = strict(ErrorResponse, events[-1][1])
    assert error.error.type == kind


async def test_an_error_finish_is_an_error_event_and_nothing_after() -> None:
    chunks = [
        pb.StreamChunk(delta=pb.Delta(text="x")),
        pb.StreamChunk(final=pb.FinalChunk(finish_reason=pb.FINISH_REASON_ERROR)),
    ]
    events = sse(await frame(chunks))
    assert events[-1][0] == "error" and events[-1][1]["error"]["message"].startswith(
        "the model stopped with an error"
    )


async def test_streamed_message_equals_the_unstreamed_one() -> None:
    from model_gateway_bridge.surfaces.anthropic.response import message_object

    message = pb.Message(content=[pb.ContentPart(text="Hello there")])
    use = pb.Usage(input_tokens=2100, output_tokens=7, cached_input_tokens=2000, cache_write_input_tokens=60)
    whole = message_object(
        pb.GenerateResponse(
            id="chatcmpl-s1", message=message, usage=use, finish_reason=pb.FINISH_REASON_STOP
        ),
        "m",
    )
    chunks = [
        pb.StreamChunk(id="chatcmpl-s1", delta=pb.Delta(text="Hello")),
        pb.StreamChunk(id="chatcmpl-s1", delta=pb.Delta(text=" there")),
        pb.StreamChunk(id="chatcmpl-s1", final=pb.FinalChunk(finish_reason=pb.FINISH_REASON_STOP, usage=use)),
    ]
    snapshot, bufs = None, dict[int, bytes]()
    for _, data in sse(await frame(chunks)):
        snapshot = accumulate_event(
            event=strict(RawMessageStreamEvent, data), current_snapshot=snapshot, json_bufs=bufs
        )
    assert snapshot is not None
    assert (
        Message.model_validate(whole).model_dump()
        == Message.model_validate(snapshot.model_dump()).model_dump()
    )
