"""What the OpenAI surface's tests share: canonical builders, and a real `openai` client (mock transport)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import openai
import orjson
from google.protobuf import struct_pb2

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.openai.errors import error_response
from modelgateway.v1 import gateway_pb2 as pb

HI = [{"role": "user", "content": "hi"}]
WEATHER_PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER_PARAMS},
}
PNG_URL = "data:image/png;base64,iVBORw0KGgo="

USAGE = pb.Usage(
    input_tokens=19, output_tokens=10, total_tokens=29, cached_input_tokens=4, reasoning_tokens=3
)


def text(role: pb.Role.ValueType, content: str) -> pb.Message:
    return pb.Message(role=role, content=[pb.ContentPart(text=content)])


def as_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def chat_request(**fields: Any) -> pb.GenerateRequest:
    fields.setdefault("model", "gpt-4o-mini")
    fields.setdefault("messages", [text(pb.ROLE_USER, "hi")])
    return pb.GenerateRequest(**fields)


def response(
    message: pb.Message, reason: pb.FinishReason.ValueType = pb.FINISH_REASON_STOP
) -> pb.GenerateResponse:
    return pb.GenerateResponse(
        id="chatcmpl-abc",
        model="mini",
        created=1_700_000_000,
        message=message,
        finish_reason=reason,
        usage=USAGE,
        route=pb.Route(served_model="gpt-4o-mini", provider="cloud"),
        cost=pb.Cost(total_usd=0.5),
    )


def sdk_client(handler: Callable[[httpx2.Request], httpx2.Response]) -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://bridge.test/v1",
        api_key="anything",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def events(raw: bytes) -> list[Any]:
    """The `data:` payloads of an SSE body, [DONE] as the string."""
    assert raw.endswith(b"\n\n")
    out: list[Any] = []
    for event in raw.split(b"\n\n")[:-1]:
        assert event.startswith(b"data: "), event
        data = event.removeprefix(b"data: ")
        out.append("[DONE]" if data == b"[DONE]" else orjson.loads(data))
    return out


def events_raw(bodies: list[Any]) -> bytes:
    return b"".join(b"data: " + (b"[DONE]" if b == "[DONE]" else orjson.dumps(b)) + b"\n\n" for b in bodies)


def sse_handler(raw: bytes) -> Callable[[httpx2.Request], httpx2.Response]:
    return lambda _request: httpx2.Response(200, content=raw, headers={"content-type": "text/event-stream"})


def error_handler(err: BridgeError) -> Callable[[httpx2.Request], httpx2.Response]:
    def handle(_request: httpx2.Request) -> httpx2.Response:
        rendered = error_response(err)
        return httpx2.Response(
            rendered.status_code, headers=dict(rendered.headers), content=bytes(rendered.body)
        )

    return handle
