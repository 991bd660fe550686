"""The Anthropic front door end to end: the official `anthropic` SDK → bridge → gRPC service → fakes.

`model-gateway up` runs in front of the fake OpenAI and Ollama upstreams
(the shared `gateway` stack), and in front of the fake Anthropic API (this
module's own stack) for what only an Anthropic upstream can take back:
signed thinking blocks, `thinking`, `context_management`, beta flags and
its own token count.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from anthropic import Anthropic

from tests.integration.conftest import (
    GATEWAY,
    ROOT,
    Fake,
    Gateway,
    free_port,
    gateway_log,
    start_fake,
    stop,
    wait_for_tcp,
)

CLAUDE_CODE = ROOT / "tests" / "unit" / "bridge" / "surfaces" / "anthropic" / "claude_code_request.json"
BETAS = (  # as Claude Code 2.1.197 sends them
    "claude-code-20250219,interleaved-thinking-2025-05-14,thinking-token-count-2026-05-13,"
    "context-management-2025-06-27,prompt-caching-scope-2026-01-05,mid-conversation-system-2026-04-07,"
    "effort-2025-11-24"
)
WEATHER: Any = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ANTHROPIC_ONLY = {
    "thinking",
    "output_config",
    "context_management",
    "cache_control",
    "anthropic-beta",
    "metadata",
}
ANT_KEY = "sk-ant-planted-0a1b2c3d4e5f"


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> Iterator[Anthropic]:
    with Anthropic(base_url=gateway.bridge_url, api_key="anything", max_retries=0, timeout=30) as sdk:
        yield sdk


def user(text: str) -> Any:
    return {"role": "user", "content": text}


@pytest.mark.parametrize("model", ["gpt-4o-mini", "tiny"])
def test_create_and_stream_report_the_same_usage(client: Anthropic, model: str) -> None:
    messages = [user("Why is the sky blue?")]
    whole = client.messages.create(model=model, max_tokens=256, system="Be brief.", messages=messages)
    assert whole.id.startswith("msg_") and whole.stop_reason == "end_turn"
    assert whole.content[0].type == "text" and whole.content[0].text.endswith("Why is the sky blue?")
    with client.messages.stream(model=model, max_tokens=256, system="Be brief.", messages=messages) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == whole.content[0].text
    assert final.usage.model_dump() == whole.usage.model_dump()
    assert final.stop_reason == whole.stop_reason


def test_count_tokens_is_never_a_completion(client: Anthropic, gateway: Gateway) -> None:
    before = gateway.ollama.stats()["requests"]
    raw = client.messages.with_raw_response.count_tokens(model="tiny", messages=[user("Hello, Claude")])
    assert raw.parse().input_tokens > 0
    assert raw.headers["x-gateway-usage-estimated"] == "true"
    assert gateway.ollama.stats()["requests"] == before  # nothing was asked of the upstream


@pytest.mark.parametrize("model", ["gpt-4o-mini", "llama3.2"])
def test_tool_round_trip(client: Anthropic, model: str) -> None:
    messages: list[Any] = [user("What is the weather in Paris?")]
    first = client.messages.create(model=model, max_tokens=256, messages=messages, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    use = next(block for block in first.content if block.type == "tool_use")
    assert (use.name, use.input) == ("get_weather", {"city": "Paris"})
    messages.append(
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
    )
    messages.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 24 C"}],
        }
    )
    with client.messages.stream(model=model, max_tokens=256, messages=messages, tools=[WEATHER]) as stream:
        second = stream.get_final_message()
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text" and second.content[0].text.endswith("the tool said sunny, 24 C")


def test_streamed_tool_call_is_assembled_by_the_sdk(client: Anthropic) -> None:
    with client.messages.stream(
        model="mini", max_tokens=256, messages=[user("weather in Paris?")], tools=[WEATHER]
    ) as stream:
        final = stream.get_final_message()
    use = final.content[-1]
    assert use.type == "tool_use" and use.input == {"city": "Paris"} and final.stop_reason == "tool_use"


def test_models_in_anthropics_shape(client: Anthropic) -> None:
    names = [model.id for model in client.models.list(limit=100)]
    assert {"gpt-4o-mini", "mini", "llama3.2", "tiny"} <= set(names)
    assert client.models.retrieve("tiny").id == "tiny"


def test_errors_are_the_sdks_exceptions(client: Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="claude-opus-4-8", max_tokens=10, messages=[user("hi")])
    assert (
        "claude-opus-4-8" in str(missing.value)
        and missing.value.response.json()["error"]["type"] == "not_found_error"
    )
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model="limited", max_tokens=10, messages=[user("hi")])
    assert limited.value.response.headers["retry-after"] == "7"
    with pytest.raises(anthropic.BadRequestError, match="max_tokens: Field required"):
        client.post("/v1/messages", cast_to=httpx.Response, body={"model": "tiny", "messages": [user("hi")]})


def test_a_stream_cut_midway_raises_in_the_sdk(client: Anthropic) -> None:
    stream = client.messages.stream(model="cut", max_tokens=50, messages=[user("hi")])
    with pytest.raises(anthropic.APIStatusError) as cut, stream as events:
        for _ in events:
            pass
    assert "overloaded_error" in str(cut.value)


def test_a_body_over_the_limit_is_413(gateway: Gateway) -> None:
    big = {"model": "tiny", "max_tokens": 10, "messages": [user("x" * 70_000)]}
    reply = httpx.post(gateway.bridge_url + "/v1/messages", json=big, timeout=10)
    assert reply.status_code == 413 and reply.json()["error"]["type"] == "request_too_large"


def claude_code_stream(gateway: Gateway, model: str) -> tuple[httpx.Response, list[dict[str, Any]]]:
    body = {**json.loads(CLAUDE_CODE.read_text()), "model": model}
    headers = {"anthropic-version": "2023-06-01", "anthropic-beta": BETAS, "x-api-key": "sk-local"}
    reply = httpx.post(gateway.bridge_url + "/v1/messages?beta=true", json=body, headers=headers, timeout=30)
    assert reply.status_code == 200, reply.text
    events = []
    for block in reply.text.split("\n\n"):
        if block.strip():
            lines = dict(line.split(": ", 1) for line in block.split("\n"))
            events.append(json.loads(lines["data"]))
    return reply, events


@pytest.mark.parametrize("model", ["tiny", "mini"])
def test_a_claude_code_request_is_served(gateway: Gateway, model: str) -> None:
    """Claude Code 2.1's first call: many betas, adaptive thinking, output_config, context_management,
    metadata.user_id as a JSON string, cached system blocks, 25 tools, max_tokens 32000, streamed."""
    _, events = claude_code_stream(gateway, model)
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    fake = gateway.ollama if model == "tiny" else gateway.openai
    sent: Any = fake.stats()["last_request"]
    assert len(sent["body"]["tools"]) == 25


@pytest.mark.skipif(
    importlib.util.find_spec("model_gateway.providers.openai.flavors") is None,
    reason="the openai provider does not yet leave out other dialects' keys",
)
def test_messages_only_fields_stay_off_an_openai_upstream(gateway: Gateway) -> None:
    reply, _ = claude_code_stream(gateway, "mini")
    sent: Any = gateway.openai.stats()["last_request"]
    assert not ANTHROPIC_ONLY & set(sent["body"]), sent["body"].keys()
    assert {"thinking", "output_config", "context_management"} <= set(
        reply.headers["x-gateway-dropped-params"].split(", ")
    )


# --- onto an Anthropic upstream ------------------------------------------------------------------


def anthropic_config(fake_url: str, grpc_port: int, bridge_port: int) -> str:
    return f"""
server:
  grpc: 127.0.0.1:{grpc_port}
  bridge: 127.0.0.1:{bridge_port}
  request_timeout_s: 30
providers:
  claude: {{kind: anthropic, base_url: "{fake_url}", api_key: "${{TEST_ANTHROPIC_KEY}}"}}
models:
  - name: sonnet
    aliases: [claude-sonnet-4-5-20250929]
    deployments: [{{provider: claude, model: claude-fake-sonnet}}]
    max_output_tokens: 512
"""


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Fake]]:
    tmp = tmp_path_factory.mktemp("anthropic_surface")
    fake, fake_process = start_fake("anthropic_server", tmp)
    grpc_port, bridge_port = free_port(), free_port()
    path = tmp / "gateway.yaml"
    path.write_text(anthropic_config(fake.url, grpc_port, bridge_port))
    log_path: Path = tmp / "gateway.log"
    env = {**os.environ, "TEST_ANTHROPIC_KEY": ANT_KEY}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*GATEWAY, "--config", str(path), "up"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_tcp(grpc_port, process)
        wait_for_tcp(bridge_port, process)
        yield f"http://127.0.0.1:{bridge_port}", fake
    finally:
        stop(process)
        stop(fake_process)
    assert process.returncode == 0, gateway_log(log_path)


def test_thinking_blocks_and_extras_reach_an_anthropic_upstream_as_sent(upstream: tuple[str, Fake]) -> None:
    url, fake = upstream
    thinking = {
        "type": "thinking",
        "thinking": "The user wants the weather.",
        "signature": "EqQBCgIYAhIM1gbcDa9G",
    }
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8r"}
    use = {
        "type": "tool_use",
        "id": "toolu_01A09q90qw90lq917835lq9",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    messages: Any = [
        user("What is the weather in Paris?"),
        {"role": "assistant", "content": [thinking, redacted, use]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": use["id"], "content": "15 C", "is_error": False}
            ],
        },
    ]
    with Anthropic(base_url=url, api_key="anything", max_retries=0, timeout=30) as sdk:
        reply = sdk.beta.messages.create(
            model="claude-sonnet-4-5-20250929",
            max_tokens=32000,
            messages=messages,
            tools=[WEATHER],
            thinking={"type": "enabled", "budget_tokens": 2048},
            betas=["interleaved-thinking-2025-05-14", "context-management-2025-06-27"],
            context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        )
        sent: Any = fake.stats()["last_request"]
        counted = sdk.messages.with_raw_response.count_tokens(
            model="sonnet", messages=[user("Hello, Claude")]
        )
    assert reply.content[0].type == "text" and reply.content[0].text == "fake-anthropic: the tool said 15 C"
    body, headers = sent["body"], sent["headers"]
    assert body["messages"][1]["content"] == [thinking, redacted, use]  # signed blocks back, untouched
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["context_management"] == {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
    assert body["max_tokens"] == 512  # clamped to the model's max_output_tokens
    assert "interleaved-thinking-2025-05-14" in headers["anthropic-beta"]
    assert headers["x-api-key"] == ANT_KEY
    # The provider's own count: no estimate header.
    assert counted.parse().input_tokens > 0 and "x-gateway-usage-estimated" not in counted.headers
