"""The native framings of a stream: grpc-gateway's NDJSON `{"result": ...}` lines and SSE events,
each ending with a google.rpc.Status when the stream fails or ends without its final chunk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
import pytest

from model_gateway_bridge.client import OpenStream
from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.streaming import Framer, stream_body
from model_gateway_bridge.surfaces.native.stream import NDJSON, SSE
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.scripted import delta, final


def opened(chunks: list[pb.StreamChunk], fail: BridgeError | None = None) -> OpenStream:
    async def rest() -> AsyncIterator[pb.StreamChunk]:
        for chunk in chunks[1:]:
            yield chunk
        if fail is not None:
            raise fail

    return OpenStream(chunks[0], rest(), {})


def ndjson(raw: bytes) -> list[Any]:
    return [orjson.loads(line) for line in raw.splitlines()]


def sse(raw: bytes) -> list[tuple[str, Any]]:
    """(event name, data) of each SSE event; "" for an unnamed one."""
    out = []
    for event in raw.split(b"\n\n")[:-1]:
        name, data = "", b""
        for line in event.split(b"\n"):
            field, _, value = line.partition(b": ")
            if field == b"event":
                name = value.decode()
            elif field == b"data":
                data = value
        out.append((name, orjson.loads(data)))
    return out


async def body(chunks: list[pb.StreamChunk], framer: Framer, fail: BridgeError | None = None) -> bytes:
    return b"".join([frame async for frame in stream_body(opened(chunks, fail), framer)])


UNFINISHED = {"code": 2, "message": "the gateway ended the stream without a final chunk", "details": []}
CUT = BridgeError(503, "upstream cut the stream", code=grpc.StatusCode.UNAVAILABLE)
CUT_STATUS = {"code": 14, "message": "upstream cut the stream", "details": []}


async def test_ndjson_lines_are_results_and_nothing_follows_the_final_one() -> None:
    lines = ndjson(await body([delta("Hi"), final()], NDJSON))
    assert len(lines) == 2
    assert lines[0]["result"]["delta"]["text"] == "Hi"
    assert lines[1]["result"]["final"]["finishReason"] == "FINISH_REASON_STOP"


@pytest.mark.parametrize(
    ("chunks", "fail", "status"),
    [
        ([delta("Hi"), delta("!")], None, UNFINISHED),
        ([delta("Hi")], CUT, CUT_STATUS),
    ],
    ids=["no final chunk", "a failure after the first chunk"],
)
async def test_ndjson_ends_with_a_status_line(
    chunks: list[pb.StreamChunk], fail: BridgeError | None, status: dict[str, Any]
) -> None:
    lines = ndjson(await body(chunks, NDJSON, fail))
    assert "result" in lines[0]
    assert lines[-1] == {"error": status}


async def test_sse_ends_with_an_error_event_when_the_final_chunk_is_missing() -> None:
    events = sse(await body([delta("Hi")], SSE))
    assert len(events) == 2
    assert events[0][0] == "" and events[0][1]["delta"]["text"] == "Hi"
    assert events[1] == ("error", {"error": UNFINISHED})
