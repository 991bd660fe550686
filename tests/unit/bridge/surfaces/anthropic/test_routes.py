"""The Anthropic routes on the whole bridge app, against the scripted gateway: what goes over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from anthropic.types import ErrorResponse, Message, MessageTokensCount, ModelInfo, RawMessageStreamEvent
from fastapi import FastAPI

from model_gateway_bridge.app import create_app
from model_gateway_bridge.config import BridgeConfig, BridgeServerConfig
from model_gateway_bridge.surfaces.anthropic import keepalive
from tests.unit.bridge.surfaces.anthropic.helpers import sse, strict
from tests.unit.bridge.surfaces.anthropic.scripted import AnthropicScripted

VERSION = {"anthropic-version": "2023-06-01", "x-api-key": "sk-client"}
HI = [{"role": "user", "content": "hi"}]


def body(model: str = "llama3.2", **fields: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 100, "messages": HI, **fields}


@pytest.fixture(scope="module")
async def small_app(scripted: tuple[AnthropicScripted, str]) -> AsyncIterator[FastAPI]:
    application = create_app(BridgeConfig(server=BridgeServerConfig(max_body_bytes=2048)), scripted[1])
    yield application
    await application.state.bridge.client.close()


@pytest.fixture
def http(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url="http://bridge.test", transport=httpx.ASGITransport(app=app), headers=VERSION
    )


async def test_message(http: httpx.AsyncClient, servicer: AnthropicScripted) -> None:
    reply = await http.post("/v1/messages?beta=true", json=body(), headers={"anthropic-beta": "a,b"})
    assert reply.status_code == 200, reply.text
    message = strict(Message, reply.json())
    assert message.content[0].type == "text" and message.content[0].text == "Hello there"
    assert (message.stop_reason, message.usage.input_tokens, message.usage.output_tokens) == (
        "end_turn",
        5,
        2,
    )
    assert reply.headers["request-id"] == reply.headers["x-request-id"]
    assert reply.headers["x-gateway-provider"] == "local"
    assert servicer.surfaces == ["anthropic"]


async def test_thinking_message_and_cache_usage(http: httpx.AsyncClient) -> None:
    reply = await http.post("/v1/messages", json=body("thinker"))
    assert [b["type"] for b in strict(Message, reply.json()).model_dump()["content"]] == [
        "thinking",
        "redacted_thinking",
        "text",
    ]
    cached = strict(Message, (await http.post("/v1/messages", json=body("cached"))).json())
    assert cached.usage.model_dump(exclude_none=True) == {
        "input_tokens": 40,
        "output_tokens": 7,
        "cache_creation_input_tokens": 60,
        "cache_read_input_tokens": 2000,
    }


async def test_stream(http: httpx.AsyncClient) -> None:
    reply = await http.post("/v1/messages", json=body("thinker", stream=True))
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
    events = sse(reply.content)
    for _, data in events:
        strict(RawMessageStreamEvent, data)
    assert [name for name, _ in events][:2] == ["message_start", "content_block_start"]
    assert events[-2][1]["usage"]["output_tokens"] == 30 and events[-1][0] == "message_stop"


async def test_tools_stream(http: httpx.AsyncClient) -> None:
    tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    events = sse((await http.post("/v1/messages", json=body(stream=True, tools=tools))).content)
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert starts[-1] == {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}
    json_text = "".join(d["delta"].get("partial_json", "") for n, d in events if n == "content_block_delta")
    assert json_text.endswith('{"city": "Paris"}')
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_a_slow_first_chunk_gets_pings(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keepalive, "FIRST_PING_S", 0.05)
    monkeypatch.setattr(keepalive, "PING_INTERVAL_S", 0.1)
    reply = await http.post("/v1/messages", json=body("slow", stream=True))
    names = [name for name, _ in sse(reply.content)]
    assert names[0] == "message_start" and names[1] == "ping" and names[-1] == "message_stop"
    assert names.count("message_start") == 1
    assert "x-gateway-provider" not in reply.headers  # the route came after the status line
    text = "".join(d["delta"].get("text", "") for n, d in sse(reply.content) if n == "content_block_delta")
    assert text == "Hello there "


async def test_after_the_pings_a_refusal_is_an_error_event(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keepalive, "FIRST_PING_S", 0.0)
    events = sse((await http.post("/v1/messages", json=body("missing", stream=True))).content)
    assert [name for name, _ in events] == ["message_start", "ping", "error"]
    assert strict(ErrorResponse, events[-1][1]).error.type == "not_found_error"


async def test_before_the_first_chunk_a_refusal_is_an_http_error(http: httpx.AsyncClient) -> None:
    reply = await http.post("/v1/messages", json=body("missing", stream=True))
    assert reply.status_code == 404
    assert strict(ErrorResponse, reply.json()).error.type == "not_found_error"


async def test_a_stream_cut_midway_ends_with_an_error_event(http: httpx.AsyncClient) -> None:
    events = sse((await http.post("/v1/messages", json=body("broken", stream=True))).content)
    assert events[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "upstream cut the stream"}},
    )


@pytest.mark.parametrize(("model", "estimated"), [("llama3.2", "true"), ("counted", None)])
async def test_count_tokens(
    http: httpx.AsyncClient, servicer: AnthropicScripted, model: str, estimated: str | None
) -> None:
    reply = await http.post("/v1/messages/count_tokens", json={"model": model, "messages": HI, "system": "s"})
    assert strict(MessageTokensCount, reply.json()).input_tokens == 42
    assert reply.headers.get("x-gateway-usage-estimated") == estimated
    assert servicer.counted[0].system == "s" and not servicer.requests  # counted, never generated


async def test_models_in_anthropics_shape_with_the_version_header(http: httpx.AsyncClient) -> None:
    page = (await http.get("/v1/models", params={"limit": 2})).json()
    assert [m["id"] for m in page["data"]] == ["llama3.2", "tiny"]
    assert (page["has_more"], page["first_id"], page["last_id"]) == (True, "llama3.2", "tiny")
    for item in page["data"]:
        strict(ModelInfo, item)
    rest = (await http.get("/v1/models", params={"after_id": "tiny"})).json()
    assert [m["id"] for m in rest["data"]] == ["qwen3:8b"] and rest["has_more"] is False
    one = (await http.get("/v1/models/tiny")).json()
    assert strict(ModelInfo, one).id == "tiny" and one["max_input_tokens"] == 131072
    missing = await http.get("/v1/models/nope")
    assert (missing.status_code, missing.json()["error"]["type"]) == (404, "not_found_error")
    bad = await http.get("/v1/models", params={"limit": 0})
    assert (bad.status_code, bad.json()["error"]["message"]) == (400, "limit: 0 is out of range [1, 1000]")


async def test_models_in_openais_shape_without_it(raw: httpx.AsyncClient) -> None:
    listed = (await raw.get("/v1/models")).json()
    assert listed["object"] == "list" and listed["data"][0]["object"] == "model"
    assert (await raw.get("/v1/models/tiny")).json()["object"] == "model"


@pytest.mark.parametrize(
    ("request_kwargs", "status", "kind", "message"),
    [
        (
            {"json": {"model": "m", "messages": HI}},
            400,
            "invalid_request_error",
            "max_tokens: Field required",
        ),
        (
            {"content": b"{nope", "headers": {"content-type": "application/json"}},
            400,
            "invalid_request_error",
            None,
        ),
        ({"content": b"hi", "headers": {"content-type": "text/plain"}}, 415, "invalid_request_error", None),
        ({"json": body("missing")}, 404, "not_found_error", "model 'missing' not found"),
    ],
)
async def test_errors_in_anthropics_shape(
    http: httpx.AsyncClient, request_kwargs: dict[str, Any], status: int, kind: str, message: str | None
) -> None:
    reply = await http.post("/v1/messages", **request_kwargs)
    error = strict(ErrorResponse, reply.json()) if status != 415 else None
    assert reply.status_code == status
    assert reply.json()["type"] == "error" and reply.json()["error"]["type"] == kind
    if message is not None:
        assert reply.json()["error"]["message"] == message
    assert error is None or error.error.type == kind


async def test_no_route_is_answered_in_anthropics_shape(http: httpx.AsyncClient) -> None:
    reply = await http.get("/v1/messages/batches")
    assert reply.status_code in (404, 405) and reply.json()["type"] == "error"


async def test_a_body_over_the_limit_is_413_request_too_large(small_app: FastAPI) -> None:
    client = httpx.AsyncClient(
        base_url="http://b", transport=httpx.ASGITransport(app=small_app), headers=VERSION
    )
    reply = await client.post("/v1/messages", json=body(system="x" * 4096))
    assert reply.status_code == 413
    assert reply.json() == {
        "type": "error",
        "error": {
            "type": "request_too_large",
            "message": "request body is larger than the limit of 2048 bytes",
        },
    }
