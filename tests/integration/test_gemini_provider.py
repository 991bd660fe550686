"""A Gemini-backed model end to end: the `openai` SDK → bridge → gRPC service → the fake Gemini API.

`model-gateway up` runs against tests/fakes/gemini_server.py in its own
processes; the upstream model name picks the fake's behaviour (fail-503,
fail-429, malformed-call, fail-401, …).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

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

KEY = "AIzaSyPLANTED-gemini-key-0123456789abcdef"
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


def config(fake_url: str, grpc_port: int, bridge_port: int) -> str:
    return f"""
server:
  grpc: 127.0.0.1:{grpc_port}
  bridge: 127.0.0.1:{bridge_port}
  request_timeout_s: 30
providers:
  google: {{kind: gemini, base_url: "{fake_url}", api_key: "${{TEST_GEMINI_KEY}}"}}
models:
  - name: gemini-flash
    deployments: [{{provider: google, model: gemini-2.5-flash}}]
    max_output_tokens: 512
    options: {{include_thoughts: true}}
    pricing: {{input_per_mtok: 0.3, output_per_mtok: 2.5}}
    capabilities: [chat, tools]
  - name: gemini-3
    deployments: [{{provider: google, model: gemini-3-pro-preview}}]
  - name: gemini-failover
    deployments:
      - {{provider: google, model: fail-503}}
      - {{provider: google, model: gemini-2.0-flash}}
  - name: gemini-limited
    deployments: [{{provider: google, model: fail-429}}]
  - name: gemini-malformed
    deployments: [{{provider: google, model: malformed-call}}]
  - name: gemini-bad-key
    deployments: [{{provider: google, model: fail-401}}]
  - name: gemini-embed
    deployments: [{{provider: google, model: gemini-embedding-001}}]
    capabilities: [embeddings]
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Fake, Path]]:
    tmp = tmp_path_factory.mktemp("gemini")
    fake, fake_process = start_fake("gemini_server", tmp)
    grpc_port, bridge_port = free_port(), free_port()
    path = tmp / "gateway.yaml"
    path.write_text(config(fake.url, grpc_port, bridge_port))
    log_path = tmp / "gateway.log"
    env = {**os.environ, "TEST_GEMINI_KEY": KEY}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*GATEWAY, "--config", str(path), "up"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_tcp(grpc_port, process)
        wait_for_tcp(bridge_port, process)
        yield f"http://127.0.0.1:{bridge_port}", fake, log_path
    finally:
        stop(process)
        stop(fake_process)
    assert process.returncode == 0, gateway_log(log_path)


@pytest.fixture(scope="module")
def client(stack: tuple[str, Fake, Path]) -> Iterator[OpenAI]:
    with OpenAI(base_url=stack[0] + "/v1", api_key="anything", max_retries=0, timeout=30) as sdk:
        yield sdk


def user(text: str) -> Any:
    return {"role": "user", "content": text}


def test_chat_and_stream_report_the_same_usage(client: OpenAI, stack: tuple[str, Fake, Path]) -> None:
    messages = [{"role": "system", "content": "Be brief."}, user("Why is the sky blue?")]
    whole = client.chat.completions.create(model="gemini-flash", messages=messages)
    sent: Any = stack[1].stats()["last_request"]
    assert sent["headers"]["x-goog-api-key"] == KEY
    assert sent["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent["body"]["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent["body"]["generationConfig"]["maxOutputTokens"] == 512
    assert whole.choices[0].message.content == "Hello from fake-gemini: Why is the sky blue?"
    chunks = list(
        client.chat.completions.create(
            model="gemini-flash", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage is not None and whole.usage is not None
    assert chunks[-1].usage.model_dump() == whole.usage.model_dump()
    # Thinking is billed as output: the fake thinks 4 tokens.
    assert whole.usage.completion_tokens_details is not None
    assert whole.usage.completion_tokens_details.reasoning_tokens == 4


@pytest.mark.parametrize("model", ["gemini-flash", "gemini-3"])
def test_tool_round_trip(client: OpenAI, model: str) -> None:
    messages: list[Any] = [user("What is the weather in Paris?")]
    first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    # An OpenAI client sends the call back without Gemini's signature: Gemini 3 still takes it.
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 24 C"})
    second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == 'fake-gemini: the tool said {"output": "sunny, 24 C"}'


def test_streamed_tool_call_is_assembled_by_the_sdk(client: OpenAI) -> None:
    with client.chat.completions.stream(
        model="gemini-flash", messages=[user("Weather in Paris, please")], tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.type == "function"
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
    assert final.choices[0].finish_reason == "tool_calls"


def test_json_mode_and_schema(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gemini-flash", messages=[user("Answer in JSON")], response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)
    schema: dict[str, object] = {
        "type": "object",
        "properties": {"count": {"type": "integer"}},
        "additionalProperties": False,
    }
    structured = client.chat.completions.create(
        model="gemini-flash",
        messages=[user("Count")],
        response_format={"type": "json_schema", "json_schema": {"name": "count", "schema": schema}},
    )
    assert json.loads(structured.choices[0].message.content or "") == {"count": 42}


def test_503_fails_over_to_the_next_deployment(client: OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="gemini-failover", messages=[user("Hi")])
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-gateway-attempts"] == "2"


def test_rate_limit_keeps_the_retry_info_delay(client: OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gemini-limited", messages=[user("Hi")])
    assert caught.value.response.headers["retry-after"] == "7"


def test_malformed_function_call_is_an_error_not_an_empty_answer(client: OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gemini-malformed", messages=[user("Hi")], tools=[WEATHER_TOOL])
    assert caught.value.status_code == 503
    assert "MALFORMED_FUNCTION_CALL" in caught.value.message


def test_the_provider_key_reaches_neither_the_client_nor_the_log(
    client: OpenAI, stack: tuple[str, Fake, Path]
) -> None:
    """The fake answers like Gemini: 400 API_KEY_INVALID whose DebugInfo quotes the key."""
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gemini-bad-key", messages=[user("Hi")])
    assert KEY not in caught.value.response.text
    assert KEY not in gateway_log(stack[2])


def test_embeddings(client: OpenAI) -> None:
    result = client.embeddings.create(model="gemini-embed", input=["first", "second text"], dimensions=8)
    assert [len(item.embedding) for item in result.data] == [8, 8]
