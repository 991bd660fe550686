"""An Anthropic-backed model end to end: the `openai` SDK → bridge → gRPC service → the fake.

`model-gateway up` runs against tests/fakes/anthropic_server.py in its own
processes; the upstream model name picks the fake's behaviour (fail-529,
fail-429, inband-error, …).
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

KEY = "sk-ant-planted-9f8e7d6c5b4a3210"
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def config(fake_url: str, grpc_port: int, bridge_port: int) -> str:
    return f"""
server:
  grpc: 127.0.0.1:{grpc_port}
  bridge: 127.0.0.1:{bridge_port}
  request_timeout_s: 30
providers:
  claude: {{kind: anthropic, base_url: "{fake_url}", api_key: "${{TEST_ANTHROPIC_KEY}}"}}
models:
  - name: claude-sonnet
    deployments: [{{provider: claude, model: claude-fake-sonnet}}]
    max_output_tokens: 512
    pricing: {{input_per_mtok: 3.0, output_per_mtok: 15.0, cached_input_per_mtok: 0.3}}
    capabilities: [chat, tools]
  - name: claude-cached
    deployments: [{{provider: claude, model: claude-fake-haiku}}]
    options: {{cache_system_prompt: true}}
    pricing: {{input_per_mtok: 1.0, output_per_mtok: 5.0, cached_input_per_mtok: 0.1}}
  - name: claude-failover
    deployments:
      - {{provider: claude, model: fail-529}}
      - {{provider: claude, model: claude-fake-haiku}}
  - name: claude-limited
    deployments: [{{provider: claude, model: fail-429}}]
  - name: claude-inband
    deployments: [{{provider: claude, model: inband-error}}]
  - name: claude-forbidden
    deployments: [{{provider: claude, model: fail-403}}]
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Fake, Path]]:
    tmp = tmp_path_factory.mktemp("anthropic")
    fake, fake_process = start_fake("anthropic_server", tmp)
    grpc_port, bridge_port = free_port(), free_port()
    path = tmp / "gateway.yaml"
    path.write_text(config(fake.url, grpc_port, bridge_port))
    log_path = tmp / "gateway.log"
    env = {**os.environ, "TEST_ANTHROPIC_KEY": KEY}
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
    whole = client.chat.completions.create(model="claude-sonnet", messages=messages)
    sent: Any = stack[1].stats()["last_request"]
    assert sent["headers"]["x-api-key"] == KEY and sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["body"]["system"] == "Be brief." and sent["body"]["max_tokens"] == 512
    assert whole.choices[0].message.content == "Hello from fake-anthropic: Why is the sky blue?"
    chunks = list(
        client.chat.completions.create(
            model="claude-sonnet", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage is not None and whole.usage is not None
    assert chunks[-1].usage.model_dump() == whole.usage.model_dump()


def test_tool_round_trip(client: OpenAI) -> None:
    messages: list[Any] = [user("What is the weather in Paris?")]
    first = client.chat.completions.create(model="claude-sonnet", messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 24 C"})
    second = client.chat.completions.create(model="claude-sonnet", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "fake-anthropic: the tool said sunny, 24 C"


def test_streamed_tool_call_is_assembled_by_the_sdk(client: OpenAI) -> None:
    with client.chat.completions.stream(
        model="claude-sonnet", messages=[user("Weather in Paris, please")], tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.type == "function"
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
    assert final.choices[0].finish_reason == "tool_calls"


def test_json_mode_and_schema(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="claude-sonnet", messages=[user("Answer in JSON")], response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)
    assert completion.choices[0].finish_reason == "stop"
    schema: dict[str, object] = {"type": "object", "properties": {"count": {"type": "integer"}}}
    structured = client.chat.completions.create(
        model="claude-sonnet",
        messages=[user("Count")],
        response_format={"type": "json_schema", "json_schema": {"name": "count", "schema": schema}},
    )
    assert json.loads(structured.choices[0].message.content or "") == {"count": 42}


def test_prompt_caching_reports_cached_tokens(client: OpenAI) -> None:
    messages = [{"role": "system", "content": "A long and stable brief. " * 30}, user("Hi")]
    first = client.chat.completions.create(model="claude-cached", messages=messages)
    second = client.chat.completions.create(model="claude-cached", messages=messages)
    assert first.usage is not None and second.usage is not None
    assert first.usage.prompt_tokens == second.usage.prompt_tokens
    details = second.usage.prompt_tokens_details
    assert details is not None and details.cached_tokens == 5 * 30 + 3


def test_529_fails_over_to_the_next_deployment(client: OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="claude-failover", messages=[user("Hi")])
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-gateway-attempts"] == "2"


def test_rate_limit_keeps_retry_after(client: OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="claude-limited", messages=[user("Hi")])
    assert caught.value.response.headers["retry-after"] == "7"


def test_in_band_error_ends_the_stream_with_an_error_event(client: OpenAI) -> None:
    stream = client.chat.completions.create(model="claude-inband", messages=[user("Hi")], stream=True)
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            pass
    assert not isinstance(caught.value, openai.APIStatusError)
    assert "overloaded" in caught.value.message


def test_the_provider_key_reaches_neither_the_client_nor_the_log(
    client: OpenAI, stack: tuple[str, Fake, Path]
) -> None:
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="claude-forbidden", messages=[user("Hi")])
    assert KEY not in caught.value.response.text
    assert KEY not in gateway_log(stack[2])
