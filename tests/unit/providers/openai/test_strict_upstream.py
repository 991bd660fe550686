"""OpenAIProvider against the fake OpenAI server's `strict-` models, which answer 400 to any
argument api.openai.com does not define (tests/fakes/openai_strict.py): with the right flavor
every request passes, and what was left out is what the provider says it dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import json_format
from pydantic import SecretStr

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError
from model_gateway.providers.base import ModelSettings
from model_gateway.providers.openai import OpenAIProvider
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes import openai_server
from tests.fakes.common import FakeServer
from tests.unit.providers.openai.support import collect

KEY = "sk-strict-0123456789"


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    server = await openai_server.start(models=("gpt-4o-mini", "o3-mini", "text-embedding-3-small"))
    try:
        yield server
    finally:
        await server.close()


def provider(fake: FakeServer, flavor: str | None) -> OpenAIProvider:
    config = ProviderConfig(
        kind="openai",
        base_url=f"{fake.url}/v1",
        api_key=SecretStr(KEY),
        flavor=flavor,  # type: ignore[arg-type]
    )
    return OpenAIProvider("strict", config)


def ollama_client_request() -> pb.GenerateRequest:
    """What the Ollama front door makes of `options: {"top_k": 5, "num_ctx": 4096}` and friends."""
    return json_format.ParseDict(
        {
            "model": "m",
            "messages": [{"role": "ROLE_USER", "content": [{"text": "Why is the sky blue?"}]}],
            "sampling": {"temperature": 0.5, "topK": 5, "maxTokens": 64},
            "providerOptions": {
                "options": {
                    "temperature": 0.5,
                    "top_k": 5,
                    "num_predict": 64,
                    "num_ctx": 4096,
                    "min_p": 0.05,
                },
                "keep_alive": "5m",
                "think": False,
            },
        },
        pb.GenerateRequest(),
    )


async def test_an_ollama_clients_options_reach_api_openai_com_as_it_accepts_them(fake: FakeServer) -> None:
    upstream = provider(fake, "openai")
    try:
        request = ollama_client_request()
        reply = await upstream.generate(request, "strict-gpt-4o-mini", timeout=10)
        assert reply.message.content[0].text == "Hello from fake-openai: Why is the sky blue?"
        sent = fake.stats.last_request
        assert sent is not None
        assert sent["body"]["max_completion_tokens"] == 64 and sent["body"]["temperature"] == 0.5
        assert {"top_k", "options", "keep_alive", "think", "min_p", "max_tokens"}.isdisjoint(sent["body"])
        deltas, final = await collect(upstream.stream(request, "strict-gpt-4o-mini", timeout=10))
        assert "".join(d.text for d in deltas) == reply.message.content[0].text
        assert final.usage == reply.usage and not final.usage.estimated
        dropped = upstream.dropped_params(request, "strict-gpt-4o-mini")
        assert set(dropped) == {"top_k", "options.num_ctx", "options.min_p", "keep_alive", "think"}
    finally:
        await upstream.close()


async def test_the_same_request_unflavored_is_what_the_strict_server_refuses(fake: FakeServer) -> None:
    """Proof that the fake is strict: `generic` sends top_k, as it would to vLLM."""
    upstream = provider(fake, None)
    assert upstream.flavor.name == "generic"
    try:
        with pytest.raises(GatewayError) as caught:
            await upstream.generate(ollama_client_request(), "strict-gpt-4o-mini", timeout=10)
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "Unrecognized request argument supplied: top_k" in caught.value.message
    finally:
        await upstream.close()


async def test_a_reasoning_model_gets_max_completion_tokens_and_no_temperature() -> None:
    fake = await openai_server.start(models=("o3-mini", "my-proxy"), strict=True)  # real names, all strict
    upstream = provider(fake, "openai")
    request = json_format.ParseDict(
        {
            "model": "m",
            "messages": [{"role": "ROLE_SYSTEM", "name": "boss", "content": [{"text": "Be brief."}]},
                         {"role": "ROLE_USER", "content": [{"text": "hi"}]}],
            "sampling": {"temperature": 0.2, "topP": 0.5, "maxTokens": 100, "frequencyPenalty": 0.5},
        },
        pb.GenerateRequest(),
    )  # fmt: skip
    try:
        # The name rule: o3-mini is a reasoning model.
        await upstream.generate(request, "o3-mini", timeout=10)
        sent = fake.stats.last_request
        assert sent is not None and sent["body"]["max_completion_tokens"] == 100
        assert set(upstream.dropped_params(request, "o3-mini")) == {
            "temperature",
            "top_p",
            "frequency_penalty",
        }
        # A model option can say otherwise, and the strict server refuses what it then sends.
        not_reasoning = ModelSettings("o3", options={"reasoning_model": False})
        with pytest.raises(GatewayError, match="temperature"):
            await upstream.generate(request, "o3-mini", timeout=10, settings=not_reasoning)
    finally:
        await upstream.close()
        await fake.close()


async def test_tools_json_mode_and_a_tool_round_trip_pass_the_strict_checks(fake: FakeServer) -> None:
    upstream = provider(fake, "openai")
    tool = {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    request = json_format.ParseDict(
        {
            "model": "m",
            "messages": [{"role": "ROLE_USER", "content": [{"text": "What is the weather in Paris?"}]}],
            "tools": [tool],
            "toolChoice": {"mode": "MODE_AUTO"},
        },
        pb.GenerateRequest(),
    )
    try:
        first = await upstream.generate(request, "strict-gpt-4o-mini", timeout=10)
        [call] = first.message.tool_calls
        request.messages.append(first.message)
        request.messages.append(
            pb.Message(role=pb.ROLE_TOOL, tool_call_id=call.id, name="get_weather",
                       content=[pb.ContentPart(text="sunny")])
        )  # fmt: skip
        second = await upstream.generate(request, "strict-gpt-4o-mini", timeout=10)
        assert second.message.content[0].text == "fake-openai: the tool said sunny"
        json_mode = pb.GenerateRequest(
            model="m",
            messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="a JSON object")])],
            response_format=pb.ResponseFormat(type=pb.ResponseFormat.TYPE_JSON_OBJECT),
        )
        answer = await upstream.generate(json_mode, "strict-gpt-4o-mini", timeout=10)
        assert answer.message.content[0].text.startswith("{")
    finally:
        await upstream.close()


async def test_embeddings_extras_are_dropped_for_openai_and_sent_elsewhere(fake: FakeServer) -> None:
    request = pb.EmbedRequest(model="e", input=["hello"])
    request.provider_options.update({"truncate_prompt_tokens": 8, "keep_alive": "5m"})
    strict, generic = provider(fake, "openai"), provider(fake, "generic")
    try:
        reply = await strict.embed(request, "strict-text-embedding-3-small", timeout=10)
        assert len(reply.embeddings) == 1
        assert set(strict.dropped_params(request, "strict-text-embedding-3-small")) == {
            "truncate_prompt_tokens",
            "keep_alive",
        }
        with pytest.raises(GatewayError, match="truncate_prompt_tokens"):
            await generic.embed(request, "strict-text-embedding-3-small", timeout=10)
        assert generic.dropped_params(request, "strict-text-embedding-3-small") == ["keep_alive"]
    finally:
        await strict.close()
        await generic.close()
