"""The fake upstreams speak the real protocols: the official openai and ollama clients accept them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import ollama
import openai
import pytest
import pytest_asyncio
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam

from tests.fakes import ollama_server, openai_server
from tests.fakes.common import FakeServer, embedding

ROOT = Path(__file__).resolve().parents[2]
WEATHER_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Why is the sky blue?"}]
WEATHER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest_asyncio.fixture(scope="module")
async def openai_fake() -> AsyncIterator[FakeServer]:
    server = await openai_server.start(slow_seconds=0.5)
    yield server
    await server.close()


@pytest_asyncio.fixture(scope="module")
async def ollama_fake() -> AsyncIterator[FakeServer]:
    server = await ollama_server.start()
    yield server
    await server.close()


@pytest.fixture
def oai(openai_fake: FakeServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{openai_fake.url}/v1", api_key="sk-test-key", max_retries=0)


@pytest.fixture
def olm(ollama_fake: FakeServer) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=ollama_fake.url)


async def wait_for(condition: Callable[[], bool], timeout: float = 1.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        await asyncio.sleep(0.02)


# --- OpenAI --------------------------------------------------------------------------------------


async def test_openai_chat_unary_and_streamed_agree(oai: openai.AsyncOpenAI) -> None:
    unary = await oai.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert unary.choices[0].message.content == "Hello from fake-openai: Why is the sky blue?"
    assert unary.choices[0].finish_reason == "stop"
    assert unary.usage is not None and unary.usage.prompt_tokens == 5 + 3

    stream = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == unary.choices[0].message.content
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage == unary.usage
    assert all(c.usage is None for c in chunks[:-1])


async def test_openai_tool_call_split_across_chunks(oai: openai.AsyncOpenAI) -> None:
    unary = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=WEATHER,
        tools=[WEATHER_TOOL],
    )
    assert unary.choices[0].finish_reason == "tool_calls"
    [call] = unary.choices[0].message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    stream = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=WEATHER,
        tools=[WEATHER_TOOL],
        stream=True,
    )
    deltas = [tc async for chunk in stream for tc in (chunk.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == call.id and deltas[0].function and deltas[0].function.name == "get_weather"
    fragments = [d.function.arguments for d in deltas[1:] if d.function and d.function.arguments]
    assert len(fragments) >= 3 and json.loads("".join(fragments)) == {"city": "Paris"}


async def test_openai_tool_result_json_mode_and_length(oai: openai.AsyncOpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21C"},
    ]
    reply = await oai.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert "sunny, 21C" in (reply.choices[0].message.content or "")

    as_json = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=HELLO,
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(as_json.choices[0].message.content or ""), dict)

    short = await oai.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=2)
    assert short.choices[0].message.content == "Hello from" and short.choices[0].finish_reason == "length"
    assert short.usage is not None and short.usage.completion_tokens == 2


async def test_openai_completions_embeddings_and_models(oai: openai.AsyncOpenAI) -> None:
    completion = await oai.completions.create(model="gpt-4o-mini", prompt="Say hi")
    assert completion.choices[0].text == "Hello from fake-openai: Say hi"

    # the SDK asks for base64 unless told otherwise; both encodings carry the same vector
    b64 = await oai.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
    floats = await oai.embeddings.create(model="text-embedding-3-small", input="a b", encoding_format="float")
    assert b64.data[0].embedding == floats.data[0].embedding == embedding("a b")
    assert b64.usage.prompt_tokens == 3

    models = [model.id async for model in oai.models.list()]
    assert {"gpt-4o-mini", "text-embedding-3-small", "cut-stream"} <= set(models)
    assert (await oai.models.retrieve("gpt-4o-mini")).id == "gpt-4o-mini"


async def test_openai_failures_on_cue(oai: openai.AsyncOpenAI, openai_fake: FakeServer) -> None:
    with pytest.raises(openai.RateLimitError) as limited:
        await oai.chat.completions.create(model="fail-429", messages=HELLO)
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError):
        await oai.chat.completions.create(model="fail-500", messages=HELLO)
    with pytest.raises(openai.AuthenticationError, match="sk-test-key"):
        await oai.chat.completions.create(model="fail-401", messages=HELLO)
    for missing in ("fail-404", "no-such-model"):
        with pytest.raises(openai.NotFoundError):
            await oai.chat.completions.create(model=missing, messages=HELLO)
    last = openai_fake.stats.last_request
    assert last is not None and last["headers"]["authorization"] == "Bearer sk-test-key"


async def test_openai_broken_streams(oai: openai.AsyncOpenAI) -> None:
    stream = await oai.chat.completions.create(
        model="no-usage",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices[0].finish_reason == "stop" and all(c.usage is None for c in chunks)

    texts: list[str] = []
    with pytest.raises(openai.APIError, match="upstream exploded"):
        stream = await oai.chat.completions.create(model="inband-error", messages=HELLO, stream=True)
        async for chunk in stream:
            texts.append(chunk.choices[0].delta.content or "")
    assert texts == ["", "Hello"]  # the role chunk, one content chunk, then the error

    received: list[object] = []
    with pytest.raises(openai.APIConnectionError):  # the SDK wraps the cut (httpx.RemoteProtocolError)
        stream = await oai.chat.completions.create(model="cut-stream", messages=HELLO, stream=True)
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 2
    with pytest.raises(openai.APIConnectionError):
        await oai.chat.completions.create(model="cut-stream", messages=HELLO)


async def test_cancelled_slow_stream_is_counted(oai: openai.AsyncOpenAI, openai_fake: FakeServer) -> None:
    stats = openai_fake.stats
    before = stats.streams_cancelled
    stream = await oai.chat.completions.create(model="slow-stream", messages=HELLO, stream=True)
    await anext(aiter(stream))
    assert stats.active_streams == 1
    await stream.close()
    await wait_for(lambda: stats.streams_cancelled == before + 1 and stats.active_streams == 0)


async def test_slow_first_byte_and_stats_endpoints(openai_fake: FakeServer) -> None:
    async with httpx.AsyncClient(base_url=openai_fake.url) as http:
        assert (await http.post("/_fake/reset")).json()["requests"] == 0
        body = {"model": "slow-first-byte", "messages": HELLO}
        started = time.monotonic()
        assert (await http.post("/v1/chat/completions", json=body)).status_code == 200
        assert time.monotonic() - started >= 0.5  # --slow-seconds
        started = time.monotonic()
        await http.post("/v1/chat/completions", json=body, headers={"x-fake-delay": "0.05"})
        assert time.monotonic() - started < 0.5
        stats = (await http.get("/_fake/stats")).json()
    assert stats["requests"] == 2 and stats["by_path"] == {"/v1/chat/completions": 2}
    assert stats["last_request"]["body"] == body


# --- Ollama --------------------------------------------------------------------------------------


async def test_ollama_chat_unary_and_streamed_agree(olm: ollama.AsyncClient) -> None:
    unary = await olm.chat(model="llama3.2", messages=HELLO)
    assert unary.message.content == "Hello from fake-ollama: Why is the sky blue?"
    assert unary.done and unary.done_reason == "stop" and unary.prompt_eval_count == 8

    parts = [part async for part in await olm.chat(model="llama3.2", messages=HELLO, stream=True)]
    assert all(not p.done for p in parts[:-1]) and len(parts) > 3
    assert "".join(p.message.content or "" for p in parts) == unary.message.content
    final = parts[-1]
    assert final.done_reason == "stop"
    assert (final.prompt_eval_count, final.eval_count) == (unary.prompt_eval_count, unary.eval_count)
    assert final.total_duration and final.load_duration and final.eval_duration and final.prompt_eval_duration


async def test_ollama_tools_generate_and_json(olm: ollama.AsyncClient) -> None:
    for stream in (False, True):
        if stream:
            parts = [
                p
                async for p in await olm.chat(
                    model="llama3.2", messages=WEATHER, tools=[WEATHER_TOOL], stream=True
                )
            ]
            message = parts[0].message
        else:
            message = (await olm.chat(model="llama3.2", messages=WEATHER, tools=[WEATHER_TOOL])).message
        assert message.tool_calls is not None
        assert message.tool_calls[0].function.name == "get_weather"
        assert message.tool_calls[0].function.arguments == {"city": "Paris"}

    generated = await olm.generate(model="qwen3:4b", prompt="Say hi")
    assert generated.response == "Hello from fake-ollama: Say hi" and generated.done_reason == "stop"
    pieces = [p async for p in await olm.generate(model="qwen3:4b", prompt="Say hi", stream=True)]
    assert "".join(p.response or "" for p in pieces) == generated.response and pieces[-1].done

    short = await olm.generate(model="qwen3:4b", prompt="Say hi", options={"num_predict": 2})
    assert (short.response, short.done_reason, short.eval_count) == ("Hello from", "length", 2)

    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
    structured = await olm.chat(model="llama3.2", messages=HELLO, format=schema)
    assert json.loads(structured.message.content or "") == {"age": 42}


async def test_ollama_models_embed_and_native_endpoints(
    olm: ollama.AsyncClient, ollama_fake: FakeServer
) -> None:
    names = {model.model for model in (await olm.list()).models}
    assert {"llama3.2:latest", "qwen3:4b", "nomic-embed-text:latest", "slow-stream:latest"} <= names
    shown = await olm.show("llama3.2")
    assert shown.details is not None and shown.details.family == "llama"
    assert shown.capabilities is not None and "completion" in shown.capabilities
    assert (await olm.ps()).models

    embedded = await olm.embed(model="nomic-embed-text", input=["a b", "c"])
    assert [list(v) for v in embedded.embeddings] == [embedding("a b"), embedding("c")]
    assert embedded.prompt_eval_count == 3

    async with httpx.AsyncClient(base_url=ollama_fake.url) as http:
        assert (await http.get("/")).text == "Ollama is running"
        assert "version" in (await http.get("/api/version")).json()


async def test_ollama_failures_on_cue(olm: ollama.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as missing:
        await olm.chat(model="no-such-model", messages=HELLO)
    assert missing.value.status_code == 404
    assert missing.value.error == 'model "no-such-model" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError) as limited:
        await olm.chat(model="fail-429", messages=HELLO)
    assert limited.value.status_code == 429

    texts: list[str] = []
    with pytest.raises(ollama.ResponseError, match="upstream exploded"):
        async for part in await olm.chat(model="inband-error", messages=HELLO, stream=True):
            texts.append(part.message.content or "")
    assert texts == ["Hello"]

    parts: list[ollama.ChatResponse] = []
    with pytest.raises(httpx.RemoteProtocolError):  # the client does not wrap a dropped connection
        async for part in await olm.chat(model="cut-stream:latest", messages=HELLO, stream=True):
            parts.append(part)
    assert len(parts) == 2 and not parts[-1].done


@pytest.mark.parametrize("module", ["openai_server", "ollama_server"])
def test_runs_as_a_process(module: str, tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    command = [sys.executable, "-m", f"tests.fakes.{module}", "--port", "0", "--port-file", str(port_file)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
    try:
        end = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text()):
            assert process.poll() is None and time.monotonic() < end
            time.sleep(0.05)
        port = int(port_file.read_text())
        assert httpx.get(f"http://127.0.0.1:{port}/_fake/stats").json()["requests"] == 0
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
    assert process.stdout is not None and process.stdout.read().strip() == str(port).encode()
