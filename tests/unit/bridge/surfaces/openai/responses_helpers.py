"""What the Responses tests share: strict parsing by the SDK's own types, SSE reading, stream driving."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from model_gateway_bridge.client import OpenStream
from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.streaming import stream_body
from model_gateway_bridge.surfaces.openai.responses.stream import ResponsesStream
from modelgateway.v1 import gateway_pb2 as pb
from tests.contract.test_sdk_types import strict, undeclared

# Keys api.openai.com sends that the SDK's Response type does not declare: `store` is in every
# Response the API returns (openai-python tests/lib/responses/test_responses.py, a live snapshot:
# `"store": true`; the API reference's Response object example), the SDK's model leaves it out.
RESPONSE_EXTRAS = (re.compile(r"^store$"), re.compile(r"^response\.store$"))

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def strict_response(raw: Any) -> Response:
    return strict(Response, raw, RESPONSE_EXTRAS)


def strict_event(raw: Any) -> Any:
    parsed = EVENTS.validate_python(raw)
    extra = [p for p in undeclared(parsed, raw) if not any(x.search(p) for x in RESPONSE_EXTRAS)]
    assert not extra, f"{type(parsed).__name__} does not declare {extra}: {raw}"
    return parsed


def sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each SSE event; every event must name its type in both places."""
    assert raw.endswith(b"\n\n")
    out = []
    for block in raw.split(b"\n\n")[:-1]:
        head, data = block.split(b"\n", 1)
        assert head.startswith(b"event: ") and data.startswith(b"data: "), block
        name, body = head.removeprefix(b"event: ").decode(), orjson.loads(data.removeprefix(b"data: "))
        assert body["type"] == name
        out.append((name, body))
    return out


async def run_stream(
    chunks: list[pb.StreamChunk], framer: ResponsesStream, fail: BridgeError | None = None
) -> bytes:
    async def rest() -> AsyncIterator[pb.StreamChunk]:
        for chunk in chunks[1:]:
            yield chunk
        if fail is not None:
            raise fail

    opened = OpenStream(chunks[0], rest(), {})
    return b"".join([piece async for piece in stream_body(opened, framer)])
