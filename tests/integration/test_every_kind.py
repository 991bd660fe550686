"""One model per provider kind, the same requests through each: issue 9's "done when".

`model-gateway up` in front of the four fakes (tests/fakes/*_server.py): an
Ollama, an OpenAI (its `strict-` models checked as api.openai.com checks: an
unknown argument is a 400), an Anthropic and a Gemini server; the
`huggingface` kind (TGI's OpenAI-compatible Messages API under /v1) is
served by the OpenAI fake. Through every model: an OpenAI-SDK chat, the same
chat streamed (same text, same usage), a tool round trip (unary and
streamed), JSON mode and a JSON schema; through gRPC the same calls' usage
and cost, streamed equal to unstreamed. Then what a kind or a model cannot
take: fields dropped and named (x-gateway-dropped-params, the access log),
capabilities refused, embeddings on the kinds that have them.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import openai
import pytest
from openai import OpenAI

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.integration.conftest import (
    GATEWAY,
    ROOT,
    Fake,
    free_port,
    gateway_log,
    start_fake,
    stop,
    wait_for_tcp,
)

KEYS = {
    "TEST_EVERY_OPENAI_KEY": "sk-every-openai-0123456789",
    "TEST_EVERY_ANTHROPIC_KEY": "sk-ant-every-0123456789",
    "TEST_EVERY_GEMINI_KEY": "AIza-every-0123456789",
}
# model name → what its fake calls itself in replies
KINDS = {
    "on-ollama": "fake-ollama",
    "on-openai": "fake-openai",
    "on-anthropic": "fake-anthropic",
    "on-gemini": "fake-gemini",
    "on-huggingface": "fake-openai",
}
PRICING = "pricing: {input_per_mtok: 2.0, output_per_mtok: 8.0}"
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def config(fakes: dict[str, Fake], grpc_port: int, bridge_port: int, tmp: Path) -> str:
    every = "capabilities: [chat, tools, vision]"
    return f"""
server:
  grpc: 127.0.0.1:{grpc_port}
  bridge: 127.0.0.1:{bridge_port}
  request_timeout_s: 30
storage: {{database: "sqlite:///{tmp}/gateway.db"}}
providers:
  local:  {{kind: ollama, base_url: "{fakes["ollama"].url}"}}
  cloud:  # api.openai.com's checks on its strict- models: flavor openai sends only what they allow
    kind: openai
    flavor: openai
    base_url: "{fakes["openai"].url}/v1"
    api_key: "${{TEST_EVERY_OPENAI_KEY}}"
  claude: {{kind: anthropic, base_url: "{fakes["anthropic"].url}", api_key: "${{TEST_EVERY_ANTHROPIC_KEY}}"}}
  google: {{kind: gemini, base_url: "{fakes["gemini"].url}", api_key: "${{TEST_EVERY_GEMINI_KEY}}"}}
  hf:     {{kind: huggingface, base_url: "{fakes["openai"].url}"}}
models:
  - name: on-ollama
    deployments: [{{provider: local, model: "llama3.2"}}]
    {PRICING}
    {every}
  - name: on-openai
    deployments: [{{provider: cloud, model: strict-gpt-4o-mini}}]
    {PRICING}
    {every}
  - name: on-anthropic
    deployments: [{{provider: claude, model: claude-fake-sonnet}}]
    max_output_tokens: 512
    {PRICING}
    {every}
  - name: on-gemini
    deployments: [{{provider: google, model: gemini-2.5-flash}}]
    {PRICING}
    {every}
  - name: on-huggingface
    deployments: [{{provider: hf, model: gpt-4o-mini}}]
    {PRICING}
    {every}
  - name: text-only
    deployments: [{{provider: cloud, model: strict-gpt-4o-mini}}]
    capabilities: [chat]
  - name: embed-ollama
    deployments: [{{provider: local, model: nomic-embed-text}}]
  - name: embed-openai
    deployments: [{{provider: cloud, model: strict-text-embedding-3-small}}]
  - name: embed-gemini
    deployments: [{{provider: google, model: gemini-embedding-001}}]
"""


@dataclass(frozen=True)
class Stack:
    bridge_url: str
    grpc_target: str
    fakes: dict[str, Fake]
    log_path: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("every_kind")
    fakes: dict[str, Fake] = {}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for kind in ("ollama", "openai", "anthropic", "gemini"):
            fake, process = start_fake(f"{kind}_server", tmp)
            fakes[kind] = fake
            processes.append(process)
        grpc_port, bridge_port = free_port(), free_port()
        path = tmp / "gateway.yaml"
        path.write_text(config(fakes, grpc_port, bridge_port, tmp))
        log_path = tmp / "gateway.log"
        env = {**os.environ, **KEYS, "LOG_LEVEL": "INFO"}
        with log_path.open("wb") as log:
            gateway = subprocess.Popen(
                [*GATEWAY, "--config", str(path), "up"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_tcp(grpc_port, gateway)
            wait_for_tcp(bridge_port, gateway)
            yield Stack(f"http://127.0.0.1:{bridge_port}", f"127.0.0.1:{grpc_port}", fakes, log_path)
        finally:
            stop(gateway)
        assert gateway.returncode == 0, gateway_log(log_path)
    finally:
        for process in processes:
            stop(process)


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[OpenAI]:
    with OpenAI(base_url=stack.bridge_url + "/v1", api_key="anything", max_retries=0, timeout=30) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def stub(stack: Stack) -> Iterator[pb_grpc.ModelGatewayStub]:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        yield pb_grpc.ModelGatewayStub(channel)


def user(text: str) -> Any:
    return {"role": "user", "content": text}


EVERY = pytest.mark.parametrize("model", list(KINDS))


# --- the same requests through every kind -----------------------------------------------------


@EVERY
def test_chat_and_the_same_chat_streamed(client: OpenAI, model: str) -> None:
    messages = [{"role": "system", "content": "Be brief."}, user("Why is the sky blue?")]
    whole = client.chat.completions.create(model=model, messages=messages, temperature=0.5, max_tokens=64)
    assert whole.choices[0].message.content == f"Hello from {KINDS[model]}: Why is the sky blue?"
    assert whole.choices[0].finish_reason == "stop" and whole.model == model
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=messages,
            temperature=0.5,
            max_tokens=64,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == whole.choices[0].message.content
    )
    assert whole.usage is not None and whole.usage.prompt_tokens > 0 and whole.usage.completion_tokens > 0
    assert chunks[-1].usage is not None and chunks[-1].usage.model_dump() == whole.usage.model_dump()


@EVERY
def test_usage_and_cost_streamed_equal_unstreamed(stub: pb_grpc.ModelGatewayStub, model: str) -> None:
    request = pb.GenerateRequest(
        model=model,
        messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="Count the stars tonight")])],
        sampling=pb.Sampling(max_tokens=64),
    )
    reply = stub.Generate(request, timeout=20)
    finals = [chunk.final for chunk in stub.StreamGenerate(request, timeout=20) if chunk.HasField("final")]
    assert len(finals) == 1
    final = finals[0]
    assert reply.usage.input_tokens > 0 and not reply.usage.estimated  # the upstream reported it
    assert final.usage == reply.usage
    assert reply.cost.total_usd > 0 and final.cost == reply.cost
    expected = (reply.usage.input_tokens * 2.0 + reply.usage.output_tokens * 8.0) / 1e6
    assert reply.cost.total_usd == pytest.approx(expected)
    assert reply.route.served_model == final.route.served_model == model


@EVERY
def test_tool_round_trip(client: OpenAI, model: str) -> None:
    messages: list[Any] = [user("What is the weather in Paris?")]
    first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather" and call.id
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 24 C"})
    second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    # Gemini's functionResponse wraps a text result as {"output": ...}; its fake says back what it got.
    said = second.choices[0].message.content or ""
    assert said.startswith(f"{KINDS[model]}: the tool said ") and "sunny, 24 C" in said


@EVERY
def test_streamed_tool_call_is_assembled_by_the_sdk(client: OpenAI, model: str) -> None:
    stream = client.chat.completions.create(
        model=model, messages=[user("What is the weather in Paris?")], tools=[WEATHER_TOOL], stream=True
    )
    name, arguments, ids, finish = "", "", set(), None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for fragment in choice.delta.tool_calls or ():
                assert fragment.index == 0  # one call, one stable index
                ids.add(fragment.id) if fragment.id else None
                if fragment.function is not None:
                    name += fragment.function.name or ""
                    arguments += fragment.function.arguments or ""
    assert finish == "tool_calls" and name == "get_weather" and len(ids) == 1
    assert json.loads(arguments) == {"city": "Paris"}


@EVERY
def test_json_mode_and_json_schema(client: OpenAI, model: str) -> None:
    loose = client.chat.completions.create(
        model=model, messages=[user("Describe the sky as JSON")], response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(loose.choices[0].message.content or ""), dict)
    schema = {
        "type": "object",
        "properties": {"count": {"type": "integer"}},
        "required": ["count"],
        "additionalProperties": False,
    }
    structured = client.chat.completions.create(
        model=model,
        messages=[user("How many moons has Mars?")],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "count", "schema": schema, "strict": True},
        },
    )
    answer = json.loads(structured.choices[0].message.content or "")
    assert set(answer) == {"count"} and isinstance(answer["count"], int)


# --- what a kind or a model cannot take --------------------------------------------------------


def test_an_unknown_argument_is_dropped_and_named_not_sent_to_a_strict_upstream(
    client: OpenAI, stack: Stack
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="on-openai", messages=[user("Hi")], seed=7, extra_body={"top_k": 40, "min_p": 0.05}
    )
    assert raw.http_response.status_code == 200
    assert set(raw.headers["x-gateway-dropped-params"].split(", ")) == {"top_k", "min_p"}
    sent: Any = stack.fakes["openai"].stats()["last_request"]
    assert sent["body"]["seed"] == 7 and not {"top_k", "min_p"} & set(sent["body"])
    # The same through TGI's API: top_k is not one of its parameters either.
    raw = client.chat.completions.with_raw_response.create(
        model="on-huggingface", messages=[user("Hi")], extra_body={"top_k": 40}
    )
    assert raw.headers["x-gateway-dropped-params"] == "top_k"
    # Ollama takes top_k: nothing to name.
    raw = client.chat.completions.with_raw_response.create(
        model="on-ollama", messages=[user("Hi")], extra_body={"top_k": 40}
    )
    assert "x-gateway-dropped-params" not in raw.headers


def test_an_ollama_clients_options_reach_an_openai_model_and_what_cannot_is_named(stack: Stack) -> None:
    body = {
        "model": "on-openai",
        "messages": [user("Why is the sky blue?")],
        "options": {"top_k": 5, "num_ctx": 4096, "temperature": 0.2},
        "keep_alive": "5m",
        "stream": False,
    }
    reply = httpx.post(stack.bridge_url + "/api/chat", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["message"]["content"] == "Hello from fake-openai: Why is the sky blue?"
    named = set(reply.headers["x-gateway-dropped-params"].split(", "))
    assert named == {"top_k", "options.num_ctx", "keep_alive"}
    sent: Any = stack.fakes["openai"].stats()["last_request"]
    assert sent["body"]["temperature"] == 0.2
    # Streamed (NDJSON): the header comes with the first byte.
    with httpx.stream(
        "POST", stack.bridge_url + "/api/chat", json={**body, "stream": True}, timeout=30
    ) as streamed:
        assert streamed.status_code == 200
        assert set(streamed.headers["x-gateway-dropped-params"].split(", ")) == named
        lines = [json.loads(line) for line in streamed.iter_lines() if line]
    assert lines[-1]["done"] is True
    # ... and the access log names them.
    logged = [
        json.loads(line) for line in stack.log_path.read_text().splitlines() if '"dropped_params"' in line
    ]
    assert any(set(entry.get("dropped_params") or ()) == named for entry in logged)


def test_a_model_without_vision_or_tools_says_so(client: OpenAI) -> None:
    image: Any = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    looking: Any = {"role": "user", "content": [{"type": "text", "text": "what?"}, image]}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="text-only",
            messages=[looking],
        )
    message = caught.value.message
    assert "text-only" in message and "vision" in message and "messages[0].content[1]" in message
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="text-only", messages=[user("hi")], tools=[WEATHER_TOOL])
    assert "text-only" in caught.value.message and "tools" in caught.value.message
    # The same model, asked for what it can do, answers.
    assert client.chat.completions.create(model="text-only", messages=[user("hi")]).choices[0].message.content


@pytest.mark.parametrize("model", ["embed-ollama", "embed-openai", "embed-gemini"])
def test_embeddings_on_every_kind_that_has_them(client: OpenAI, model: str) -> None:
    reply = client.embeddings.create(model=model, input=["the sky", "the sea"])
    assert [item.index for item in reply.data] == [0, 1]
    assert all(len(item.embedding) > 0 for item in reply.data)
    assert reply.data[0].embedding != reply.data[1].embedding
    assert reply.usage.prompt_tokens > 0
