"""The Ollama surface of the running bridge, driven by the real `ollama` Python client.

`model-gateway up` runs against the fake Ollama and OpenAI upstreams (see
conftest.py); models are named after the behaviour they trigger. Every reply
is parsed by the client's own types, so a wire mismatch fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import ollama
import pytest

from tests.fakes.common import INBAND_ERROR_MESSAGE, embedding
from tests.integration.conftest import ROOT, Gateway

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

# One model per upstream kind: the fake Ollama (native wire) and the fake OpenAI (translated).
LOCAL, CLOUD = "llama3.2", "gpt-4o-mini"
GREETING = {LOCAL: "Hello from fake-ollama: hi there", CLOUD: "Hello from fake-openai: hi there"}


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> ollama.Client:
    return ollama.Client(host=gateway.bridge_url, timeout=30)


@pytest.fixture(scope="module")
def async_client(gateway: Gateway) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=gateway.bridge_url, timeout=30)


def hi() -> list[dict[str, Any]]:
    return [{"role": "user", "content": "hi there"}]


@pytest.mark.parametrize("model", [LOCAL, CLOUD])
def test_chat_unstreamed_and_streamed_agree(client: ollama.Client, model: str) -> None:
    whole = client.chat(model, hi(), stream=False)
    assert whole.message.role == "assistant" and whole.message.content == GREETING[model]
    assert whole.done is True and whole.done_reason == "stop" and whole.model == model
    parts = list(client.chat(model, hi(), stream=True))
    assert "".join(p.message.content or "" for p in parts) == GREETING[model]
    assert len(parts) > 2 and not any(p.done for p in parts[:-1]) and parts[-1].done
    last = parts[-1]
    # Usage of a streamed call equals that of the same call unstreamed.
    assert (last.prompt_eval_count, last.eval_count) == (whole.prompt_eval_count, whole.eval_count)
    assert whole.eval_count and whole.eval_count > 0
    for reply in (whole, last):
        assert reply.total_duration and reply.total_duration > 0
        assert reply.eval_duration is not None and reply.prompt_eval_duration is not None


async def test_async_client_streams(async_client: ollama.AsyncClient) -> None:
    parts = [part async for part in await async_client.chat(LOCAL, hi(), stream=True)]
    assert "".join(p.message.content or "" for p in parts) == GREETING[LOCAL]
    reply = await async_client.generate(CLOUD, "hi there")
    assert reply.response == GREETING[CLOUD]


@pytest.mark.parametrize("model", [LOCAL, CLOUD])
def test_generate(client: ollama.Client, model: str) -> None:
    whole = client.generate(model, "hi there", stream=False)
    assert whole.response == GREETING[model] and whole.done and whole.done_reason == "stop"
    parts = list(client.generate(model, "hi there", stream=True))
    assert "".join(p.response or "" for p in parts) == GREETING[model]
    assert (parts[-1].prompt_eval_count, parts[-1].eval_count) == (whole.prompt_eval_count, whole.eval_count)


def test_generate_reaches_ollama_as_generate(client: ollama.Client, gateway: Gateway) -> None:
    client.generate(LOCAL, "hi there", system="be brief", raw=False, stream=False)
    sent = gateway.ollama.stats()["last_request"]
    assert isinstance(sent, dict) and sent["path"] == "/api/generate"
    assert (sent["body"]["prompt"], sent["body"]["system"], sent["body"]["raw"]) == (
        "hi there",
        "be brief",
        False,
    )


def test_generate_with_nothing_to_say_only_loads(client: ollama.Client) -> None:
    loaded = client.generate(LOCAL)
    assert (loaded.done, loaded.done_reason, loaded.response) == (True, "load", "")
    unloaded = client.chat(LOCAL, [], keep_alive=0)
    assert unloaded.done_reason == "unload"


@pytest.mark.parametrize("model", [LOCAL, CLOUD])
@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip(client: ollama.Client, model: str, stream: bool) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    if stream:
        parts = list(client.chat(model, messages, tools=[WEATHER_TOOL], stream=True))
        calls = [call for part in parts for call in (part.message.tool_calls or [])]
        assert parts[-1].done_reason == "stop"  # Ollama's reason for a tool-call answer
    else:
        reply = client.chat(model, messages, tools=[WEATHER_TOOL])
        calls = list(reply.message.tool_calls or [])
        assert reply.done_reason == "stop"
    # Whole calls, arguments as an object, however the upstream fragmented them.
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]

    # The result goes back as Ollama clients send it: no call ids, only tool_name.
    messages.append({"role": "assistant", "content": "", "tool_calls": calls})
    messages.append({"role": "tool", "content": "sunny, 21C", "tool_name": "get_weather"})
    answer = client.chat(model, messages, tools=[WEATHER_TOOL])
    assert (
        answer.message.content
        == f"{'fake-ollama' if model == LOCAL else 'fake-openai'}: the tool said sunny, 21C"
    )


@pytest.mark.parametrize("model", [LOCAL, CLOUD])
def test_format_json_and_schema(client: ollama.Client, model: str) -> None:
    reply = client.chat(model, [{"role": "user", "content": "answer in JSON"}], format="json")
    assert isinstance(json.loads(reply.message.content or ""), dict)
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    reply = client.chat(model, [{"role": "user", "content": "how old?"}], format=schema)
    assert json.loads(reply.message.content or "") == {"age": 42}


def test_options_reach_an_ollama_upstream_untouched(client: ollama.Client, gateway: Gateway) -> None:
    options = {"temperature": 0.1, "num_predict": -1, "num_ctx": 4096, "stop": ["END"]}
    client.chat(LOCAL, hi(), options=options, keep_alive="7m", stream=False)
    sent = gateway.ollama.stats()["last_request"]
    assert isinstance(sent, dict)
    body = sent["body"]
    assert body["options"] == options and body["keep_alive"] == "7m"


def test_models_endpoints(client: ollama.Client, gateway: Gateway) -> None:
    names = [m.model for m in client.list().models]
    assert {
        "llama3.2:latest",
        "tiny:latest",
        "gpt-4o-mini:latest",
        "mini:latest",
        "embed-local:latest",
    } <= set(names)
    # A listed name, tag included, is a name the gateway serves.
    assert client.chat("tiny:latest", hi()).message.content == GREETING[LOCAL]
    shown = client.show(LOCAL)
    assert shown.capabilities and "completion" in shown.capabilities
    assert shown.details is not None and shown.details.family == "llama"
    assert client.ps().models == []
    version = httpx.get(f"{gateway.bridge_url}/api/version", timeout=5)
    assert version.status_code == 200 and version.json()["version"].count(".") == 2
    root = httpx.get(gateway.bridge_url + "/", timeout=5)
    assert root.status_code == 200 and root.text.startswith("Ollama is running")
    assert httpx.head(gateway.bridge_url + "/", timeout=5).status_code == 200


def test_embed_and_legacy_embeddings(client: ollama.Client) -> None:
    reply = client.embed("embed-local", ["Why is the sky blue?", "Why is the grass green?"])
    assert reply.embeddings == [embedding("Why is the sky blue?"), embedding("Why is the grass green?")]
    assert reply.prompt_eval_count == 10
    single = client.embed("embed-local", "Why is the sky blue?")
    assert single.embeddings == [embedding("Why is the sky blue?")]
    legacy = client.embeddings("embed-local", "Here is an article about llamas...")
    assert legacy.embedding == embedding("Here is an article about llamas...")


def test_unknown_model_is_404(client: ollama.Client) -> None:
    for call in (
        lambda: client.chat("no-such-model", hi()),
        lambda: list(client.chat("no-such-model", hi(), stream=True)),
        lambda: client.generate("no-such-model", "x"),
        lambda: client.show("no-such-model"),
        lambda: client.embed("no-such-model", "x"),
    ):
        with pytest.raises(ollama.ResponseError) as caught:
            call()
        assert caught.value.status_code == 404
        assert "model 'no-such-model' not found" in caught.value.error


def test_bad_options_are_400(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(LOCAL, hi(), options={"temperature": "hot"})
    assert caught.value.status_code == 400
    assert caught.value.error == 'invalid options.temperature: expected a number, got "hot"'
    # Out of range is the gateway's verdict, in the same shape.
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(LOCAL, hi(), options={"temperature": 7})
    assert caught.value.status_code == 400 and "temperature" in caught.value.error


@pytest.mark.parametrize("model", ["cut-local", "cut"])
def test_stream_cut_mid_answer_raises(client: ollama.Client, gateway: Gateway, model: str) -> None:
    received: list[ollama.ChatResponse] = []
    with pytest.raises(ollama.ResponseError) as caught:
        for part in client.chat(model, hi(), stream=True):
            received.append(part)
    assert received and not received[-1].done  # the answer had begun
    assert caught.value.error  # an {"error": ...} line, not a silent end
    # The raw body ends with exactly that error line.
    with httpx.stream("POST", f"{gateway.bridge_url}/api/chat", json={"model": model, "messages": hi()}) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert r.status_code == 200 and "error" in lines[-1] and lines[-1]["error"]


def test_inband_upstream_error_is_an_error_line(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        list(client.generate("inband", "hi there", stream=True))
    assert INBAND_ERROR_MESSAGE in caught.value.error


def test_route_headers_on_raw_responses(gateway: Gateway) -> None:
    body = {"model": "tiny", "messages": hi(), "stream": False}
    reply = httpx.post(f"{gateway.bridge_url}/api/chat", json=body, timeout=10)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/json")
    assert reply.headers["x-gateway-model"] == "llama3.2"
    assert reply.headers["x-gateway-provider"] == "local"
    assert reply.headers["x-request-id"]
    with httpx.stream(
        "POST", f"{gateway.bridge_url}/api/generate", json={"model": CLOUD, "prompt": "x"}
    ) as r:
        r.read()
    assert r.headers["content-type"] == "application/x-ndjson"
    assert r.headers["x-gateway-provider"] == "cloud" and r.headers["x-gateway-deployment"]


def test_client_disconnect_cancels_the_upstream(gateway: Gateway) -> None:
    def cancelled() -> int:
        value = gateway.ollama.stats()["streams_cancelled"]
        assert isinstance(value, int)
        return value

    before = cancelled()
    body = {"model": "slow-stream-local", "messages": hi()}
    with httpx.stream("POST", f"{gateway.bridge_url}/api/chat", json=body, timeout=10) as reply:
        first = next(reply.iter_lines())
    assert json.loads(first)["done"] is False
    deadline = time.monotonic() + 5
    while cancelled() <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cancelled() > before, "the upstream stream kept running after the client left"


def test_ollama_host_env_is_honoured(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", gateway.bridge_url)
    assert ollama.Client().chat(LOCAL, hi()).message.content == GREETING[LOCAL]
    # The module-level functions build their client at import, from the environment.
    script = "import ollama; print(ollama.generate(model='llama3.2', prompt='hi there').response)"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "OLLAMA_HOST": gateway.bridge_url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == GREETING[LOCAL]
