"""The Ollama routes in-process: the real `ollama.AsyncClient` (over httpx's ASGI transport)
against the whole bridge app and a scripted gRPC ModelGateway on loopback."""

from __future__ import annotations

from typing import Any

import httpx
import ollama
import orjson
import pytest
from fastapi import FastAPI

from model_gateway_bridge.surfaces.ollama.routes import OLLAMA_COMPAT_VERSION, ROOT_TEXT
from tests.unit.bridge.scripted import ScriptedGateway
from tests.unit.bridge.surfaces.ollama.helpers import WEATHER_TOOL


@pytest.fixture
def client(app: FastAPI) -> ollama.AsyncClient:
    return ollama.AsyncClient(host="http://bridge.test", transport=httpx.ASGITransport(app=app))


async def test_client_chat_streams_by_default(client: ollama.AsyncClient, servicer: ScriptedGateway) -> None:
    parts = [
        part async for part in await client.chat("llama3.2", [{"role": "user", "content": "hi"}], stream=True)
    ]
    assert "".join(p.message.content or "" for p in parts) == "Hello there "
    assert parts[-1].done and parts[-1].eval_count == 2 and parts[-1].prompt_eval_count == 5
    assert servicer.requests[-1].messages[0].content[0].text == "hi"


async def test_client_chat_not_streamed(client: ollama.AsyncClient) -> None:
    reply = await client.chat("llama3.2", [{"role": "user", "content": "hi"}], options={"temperature": 0.1})
    assert reply.message.content == "Hello there" and reply.done_reason == "stop"
    assert reply.eval_count == 2


async def test_client_tool_calls_both_ways(client: ollama.AsyncClient) -> None:
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    for stream in (False, True):
        if stream:
            parts = [
                p async for p in await client.chat("llama3.2", messages, tools=[WEATHER_TOOL], stream=True)
            ]
            calls = [c for p in parts for c in (p.message.tool_calls or [])]
        else:
            reply = await client.chat("llama3.2", messages, tools=[WEATHER_TOOL])
            calls = list(reply.message.tool_calls or [])
        assert [(c.function.name, c.function.arguments) for c in calls] == [
            ("get_weather", {"city": "Paris"})
        ]


async def test_client_generate(client: ollama.AsyncClient, servicer: ScriptedGateway) -> None:
    reply = await client.generate("llama3.2", "Why is the sky blue?", system="short")
    assert reply.response == "Hello there" and reply.done
    assert (servicer.requests[-1].prompt, servicer.requests[-1].system) == ("Why is the sky blue?", "short")
    parts = [p async for p in await client.generate("llama3.2", "Why?", stream=True)]
    assert "".join(p.response or "" for p in parts) == "Hello there "


async def test_load_and_unload_answer_without_generating(
    client: ollama.AsyncClient, servicer: ScriptedGateway
) -> None:
    loaded = await client.generate("llama3.2")
    assert (loaded.done, loaded.done_reason, loaded.response) == (True, "load", "")
    unloaded = await client.chat("llama3.2", [], keep_alive=0)
    assert (unloaded.done_reason, unloaded.message.content) == ("unload", "")
    assert servicer.requests == []
    with pytest.raises(ollama.ResponseError) as caught:
        await client.generate("nope")
    assert caught.value.status_code == 404 and "model 'nope' not found" in caught.value.error


async def test_errors_have_status_and_ollama_body(client: ollama.AsyncClient, raw: httpx.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat("missing", [{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404 and caught.value.error == "model 'missing' not found"
    reply = await raw.post("/api/chat", json={"model": "m", "options": {"temperature": "hot"}})
    assert reply.status_code == 400
    assert reply.json() == {"error": 'invalid options.temperature: expected a number, got "hot"'}
    reply = await raw.post(
        "/api/generate", content=b'{"prompt": "x"}', headers={"content-type": "text/plain"}
    )
    assert (reply.status_code, reply.json()) == (400, {"error": "model is required"})


async def test_error_after_first_line_is_an_error_line(
    client: ollama.AsyncClient, raw: httpx.AsyncClient
) -> None:
    reply = await raw.post(
        "/api/chat", json={"model": "broken", "messages": [{"role": "user", "content": "x"}]}
    )
    assert reply.status_code == 200
    lines = [orjson.loads(line) for line in reply.text.splitlines()]
    assert lines[0]["message"]["content"] == "Hello "
    assert lines[-1] == {"error": "upstream cut the stream"}
    with pytest.raises(ollama.ResponseError, match="upstream cut the stream"):
        async for _ in await client.generate("broken", "x", stream=True):
            pass


async def test_a_stream_without_its_final_chunk_ends_with_an_error_line(raw: httpx.AsyncClient) -> None:
    reply = await raw.post(
        "/api/chat", json={"model": "unfinished", "messages": [{"role": "user", "content": "x"}]}
    )
    lines = [orjson.loads(line) for line in reply.text.splitlines()]
    assert lines[0]["message"]["content"] == "Hello "
    assert lines[-1] == {"error": "the gateway ended the stream without a final chunk"}
    assert all(not line.get("done") for line in lines)


async def test_stream_headers_and_content_type(raw: httpx.AsyncClient) -> None:
    reply = await raw.post("/api/generate", json={"model": "llama3.2", "prompt": "x"})
    assert reply.headers["content-type"] == "application/x-ndjson"
    assert reply.headers["x-gateway-provider"] == "local" and reply.headers["x-request-id"]
    reply = await raw.post("/api/generate", json={"model": "llama3.2", "prompt": "x", "stream": False})
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["x-gateway-model"] == "llama3.2"


async def test_models_endpoints(client: ollama.AsyncClient, raw: httpx.AsyncClient) -> None:
    listing = await client.list()
    assert [m.model for m in listing.models] == ["llama3.2:latest", "tiny:latest", "qwen3:8b"]
    shown = await client.show("tiny")
    assert shown.capabilities == ["completion", "tools"]
    with pytest.raises(ollama.ResponseError) as caught:
        await client.show("nope")
    assert caught.value.status_code == 404
    assert (await client.ps()).models == []
    assert (await raw.get("/api/version")).json() == {"version": OLLAMA_COMPAT_VERSION}
    root = await raw.get("/")
    assert (root.status_code, root.text) == (200, ROOT_TEXT)
    assert root.headers["content-type"].startswith("text/plain")
    assert (await raw.head("/")).status_code == 200
    pull = await raw.post("/api/pull", json={"model": "x"})
    assert pull.status_code == 501 and "not supported" in pull.json()["error"]


async def test_embed_and_legacy_embeddings(client: ollama.AsyncClient, servicer: ScriptedGateway) -> None:
    reply = await client.embed("llama3.2", ["a", "b"], dimensions=2, truncate=True)
    assert reply.embeddings == [[0.5, -0.25], [0.5, -0.25]] and reply.prompt_eval_count == 6
    request = servicer.embeds[-1]
    assert list(request.input) == ["a", "b"] and request.dimensions == 2 and request.truncate is True
    legacy = await client.embeddings("llama3.2", "one")
    assert legacy.embedding == [0.5, -0.25]
    empty = await client.embed("llama3.2", [])
    assert empty.embeddings == []
