"""POST /v1/responses through the whole bridge app (in process) against the scripted gateway."""

from __future__ import annotations

import httpx
import orjson

from tests.unit.bridge.scripted import ScriptedGateway
from tests.unit.bridge.surfaces.openai.responses_helpers import sse, strict_event, strict_response

WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


async def test_an_unstreamed_response_with_the_dropped_names_in_headers(
    raw: httpx.AsyncClient, servicer: ScriptedGateway
) -> None:
    reply = await raw.post(
        "/v1/responses",
        json={
            "model": "llama3.2",
            "input": "hi",
            "tools": [WEATHER, {"type": "web_search"}],
            "include": ["reasoning.encrypted_content"],
            "client_metadata": {"a": "b"},
        },
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-gateway-dropped-tools"] == "web_search"
    assert reply.headers["x-gateway-dropped-params"] == "include, client_metadata"
    assert reply.headers["x-gateway-provider"] == "local"
    body = reply.json()
    strict_response(body)
    assert body["output"][0]["type"] == "function_call" and body["output"][0]["call_id"] == "call_1"
    assert servicer.surfaces == ["openai"]
    assert not servicer.requests[0].provider_options.fields


async def test_a_streamed_response(raw: httpx.AsyncClient, servicer: ScriptedGateway) -> None:
    reply = await raw.post("/v1/responses", json={"model": "llama3.2", "input": "hi", "stream": True})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = sse(reply.content)
    for _, body in events:
        strict_event(body)
    assert events[-1][0] == "response.completed"
    assert events[-1][1]["response"]["output"][0]["content"][0]["text"] == "Hello there "


async def test_a_stream_cut_after_its_first_chunk_ends_in_response_failed(raw: httpx.AsyncClient) -> None:
    reply = await raw.post("/v1/responses", json={"model": "broken", "input": "hi", "stream": True})
    events = sse(reply.content)
    assert [name for name, _ in events][-2:] == ["error", "response.failed"]


async def test_errors_are_openai_error_objects(raw: httpx.AsyncClient) -> None:
    unknown = await raw.post(
        "/v1/responses",
        json={"model": "llama3.2", "input": [{"role": "user", "content": "a"}, {"type": "x"}]},
    )
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["param"] == "input[1].type" and '"x"' in error["message"] and "index 1" in error["message"]
    stored = await raw.post(
        "/v1/responses", json={"model": "llama3.2", "input": "a", "previous_response_id": "r"}
    )
    assert stored.status_code == 400 and stored.json()["error"]["param"] == "previous_response_id"
    missing = await raw.post("/v1/responses", json={"model": "missing", "input": "a"})
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "model 'missing' not found"
    missing_stream = await raw.post("/v1/responses", json={"model": "missing", "input": "a", "stream": True})
    assert missing_stream.status_code == 404  # before the first chunk: a plain HTTP error


async def test_a_body_over_the_limit_is_a_413(raw: httpx.AsyncClient) -> None:
    big = orjson.dumps({"model": "llama3.2", "input": "x" * (4 * 1024 * 1024)})
    reply = await raw.post("/v1/responses", content=big, headers={"content-type": "application/json"})
    assert reply.status_code == 413
    assert "larger than the limit" in reply.json()["error"]["message"]
