"""AnthropicProvider against the protocol-faithful fake (tests/fakes/anthropic_server.py) over real HTTP.

The fake answers as the Messages API does: headers and max_tokens checked,
errors in Anthropic's shape with their statuses (429 with retry-after, 529
overloaded, 500), streams with the full event sequence, and failures on cue
by model name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
import pytest_asyncio
from pydantic import SecretStr

from model_gateway.config import PricingConfig, ProviderConfig
from model_gateway.errors import GatewayError, Reason
from model_gateway.pricing import cost_of
from model_gateway.providers.anthropic import AnthropicProvider
from model_gateway.providers.base import ModelSettings
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes import anthropic_server
from tests.fakes.common import RETRY_AFTER_SECONDS, FakeServer
from tests.unit.providers.anthropic.support import KEY, canonical_request, user_request

MODEL = "claude-fake-sonnet"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest_asyncio.fixture(scope="module")
async def fake() -> AsyncIterator[FakeServer]:
    server = await anthropic_server.start(slow_seconds=2.0)
    yield server
    await server.close()


def make_provider(fake: FakeServer, **config: Any) -> AnthropicProvider:
    settings: dict[str, Any] = {"kind": "anthropic", "base_url": fake.url, "api_key": SecretStr(KEY)} | config
    return AnthropicProvider("claude", ProviderConfig(**settings))


@pytest_asyncio.fixture
async def provider(fake: FakeServer) -> AsyncIterator[AnthropicProvider]:
    provider = make_provider(fake)
    yield provider
    await provider.close()


async def drain(
    provider: AnthropicProvider, request: pb.GenerateRequest, model: str, **kw: Any
) -> list[pb.StreamChunk]:
    return [chunk async for chunk in provider.stream(request, model, kw.pop("timeout", 10), **kw)]


def last_request(fake: FakeServer) -> dict[str, Any]:
    seen = fake.stats.last_request
    assert seen is not None
    return seen


async def test_generate_and_stream_agree_and_send_the_required_headers(
    fake: FakeServer, provider: AnthropicProvider
) -> None:
    request = user_request(system="Be brief.")
    unstreamed = await provider.generate(request, MODEL, 10)
    sent = last_request(fake)
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == KEY
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["body"]["max_tokens"] == 4096 and sent["body"]["system"] == "Be brief."
    chunks = await drain(provider, request, MODEL)
    text = "".join(chunk.delta.text for chunk in chunks[:-1])
    assert text == unstreamed.message.content[0].text == "Hello from fake-anthropic: Why is the sky blue?"
    assert chunks[-1].final.usage == unstreamed.usage and not unstreamed.usage.estimated
    assert chunks[-1].final.finish_reason == unstreamed.finish_reason == pb.FINISH_REASON_STOP


async def test_max_tokens_comes_from_the_model_settings(
    fake: FakeServer, provider: AnthropicProvider
) -> None:
    response = await provider.generate(user_request(), MODEL, 10, ModelSettings(max_output_tokens=3))
    assert last_request(fake)["body"]["max_tokens"] == 3
    assert response.finish_reason == pb.FINISH_REASON_LENGTH


async def test_stop_sequence_stops(provider: AnthropicProvider) -> None:
    request = user_request(sampling=pb.Sampling(stop=["sky"]))
    response = await provider.generate(request, MODEL, 10)
    assert response.message.content[0].text == "Hello from fake-anthropic: Why is the "
    assert response.finish_reason == pb.FINISH_REASON_STOP


async def test_tool_round_trip(provider: AnthropicProvider) -> None:
    request = canonical_request(
        {
            "model": "m",
            "messages": [{"role": "ROLE_USER", "content": [{"text": "What is the weather in Paris?"}]}],
            "tools": [WEATHER_TOOL],
        }
    )
    first = await provider.generate(request, MODEL, 10)
    assert first.finish_reason == pb.FINISH_REASON_TOOL_CALLS
    call = first.message.tool_calls[0]
    assert call.name == "get_weather" and orjson.loads(call.arguments) == {"city": "Paris"}
    chunks = await drain(provider, request, MODEL)
    fragments = [f for chunk in chunks[:-1] for f in chunk.delta.tool_calls]
    assert {f.index for f in fragments} == {0}
    assert orjson.loads("".join(f.arguments for f in fragments)) == orjson.loads(call.arguments)
    request.messages.append(first.message)
    request.messages.add(role=pb.ROLE_TOOL, tool_call_id=call.id, content=[pb.ContentPart(text="22 degrees")])
    second = await provider.generate(request, MODEL, 10)
    assert second.message.content[0].text == "fake-anthropic: the tool said 22 degrees"
    assert second.finish_reason == pb.FINISH_REASON_STOP


async def test_json_schema_answers_through_the_forced_tool(provider: AnthropicProvider) -> None:
    request = user_request("Give me a product")
    request.response_format.type = pb.ResponseFormat.TYPE_JSON_SCHEMA
    request.response_format.schema.update(
        {"type": "object", "properties": {"name": {"type": "string"}, "quantity": {"type": "integer"}}}
    )
    response = await provider.generate(request, MODEL, 10)
    assert orjson.loads(response.message.content[0].text) == {
        "name": "Hello from fake-anthropic",
        "quantity": 42,
    }
    assert response.finish_reason == pb.FINISH_REASON_STOP and not response.message.tool_calls
    chunks = await drain(provider, request, MODEL)
    streamed = "".join(chunk.delta.text for chunk in chunks[:-1])
    assert orjson.loads(streamed) == orjson.loads(response.message.content[0].text)
    assert chunks[-1].final.finish_reason == pb.FINISH_REASON_STOP


async def test_prompt_caching_writes_then_reads_and_prices_both(
    fake: FakeServer, provider: AnthropicProvider
) -> None:
    request = user_request("Summarise the book.", system="You are a literary critic with a long brief. " * 20)
    settings = ModelSettings(options={"cache_system_prompt": True})
    first = await provider.generate(request, MODEL, 10, settings)
    assert last_request(fake)["body"]["system"][-1]["cache_control"] == {"type": "ephemeral"}
    chunks = await drain(provider, request, MODEL, settings=settings)
    written, read = first.usage, chunks[-1].final.usage
    assert written.cache_write_input_tokens > 0 and written.cached_input_tokens == 0
    assert read.cached_input_tokens == written.cache_write_input_tokens and read.cache_write_input_tokens == 0
    assert read.input_tokens == written.input_tokens  # the whole prompt either way
    pricing = PricingConfig(input_per_mtok=3.0, output_per_mtok=15.0, cached_input_per_mtok=0.3)
    assert cost_of(pricing, read).input_usd < cost_of(pricing, written).input_usd


async def test_count_tokens_calls_the_count_endpoint(fake: FakeServer, provider: AnthropicProvider) -> None:
    request = user_request(system="Be brief.")
    tokens = await provider.count_tokens(request, MODEL, 10)
    sent = last_request(fake)
    assert sent["path"] == "/v1/messages/count_tokens" and "max_tokens" not in sent["body"]
    assert tokens == (await provider.generate(request, MODEL, 10)).usage.input_tokens


async def test_list_models_follows_pages(fake: FakeServer) -> None:
    names = [f"claude-{i:04d}" for i in range(1200)]
    server = await anthropic_server.start(models=names)
    provider = make_provider(server)
    try:
        assert await provider.list_models(10) == names
        assert server.stats.by_path["/v1/models"] == 2
    finally:
        await provider.close()
        await server.close()


async def test_betas_from_config_and_request_are_joined(fake: FakeServer) -> None:
    provider = make_provider(
        fake, headers={"anthropic-beta": "prompt-caching-2024-07-31", "anthropic-version": "2024-01-01"}
    )
    try:
        request = user_request()
        await provider.generate(request, MODEL, 10)
        headers = last_request(fake)["headers"]
        assert headers["anthropic-beta"] == "prompt-caching-2024-07-31"
        assert headers["anthropic-version"] == "2024-01-01"  # the operator's override wins
        request.provider_options.update({"betas": ["interleaved-thinking-2025-05-14"]})
        await drain(provider, request, MODEL)
        assert last_request(fake)["headers"]["anthropic-beta"] == (
            "prompt-caching-2024-07-31,interleaved-thinking-2025-05-14"
        )
    finally:
        await provider.close()


async def test_a_base_url_ending_in_v1_is_accepted(fake: FakeServer) -> None:
    provider = make_provider(fake, base_url=fake.url + "/v1/")
    try:
        response = await provider.generate(user_request(), MODEL, 10)
        assert response.message.content[0].text
        assert last_request(fake)["path"] == "/v1/messages"
    finally:
        await provider.close()


# --- failures --------------------------------------------------------------------------------


async def call(
    provider: AnthropicProvider, model: str, stream: bool, request: pb.GenerateRequest | None = None
) -> None:
    request = request or user_request()
    if stream:
        await drain(provider, request, model)
    else:
        await provider.generate(request, model, 10)


@pytest.mark.parametrize("stream", [False, True])
async def test_429_is_rate_limited_with_retry_after(provider: AnthropicProvider, stream: bool) -> None:
    with pytest.raises(GatewayError) as caught:
        await call(provider, "fail-429", stream)
    error = caught.value
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.reason == Reason.RATE_LIMITED
    assert error.retry_after == RETRY_AFTER_SECONDS and error.failover


@pytest.mark.parametrize("stream", [False, True])
async def test_529_overloaded_is_unavailable_and_fails_over(
    provider: AnthropicProvider, stream: bool
) -> None:
    with pytest.raises(GatewayError) as caught:
        await call(provider, "fail-529", stream)
    error = caught.value
    assert error.code == grpc.StatusCode.UNAVAILABLE and error.reason == Reason.UPSTREAM_UNAVAILABLE
    assert error.failover and "overloaded" in error.message
    assert error.metadata["upstream_status"] == "529"


@pytest.mark.parametrize("stream", [False, True])
async def test_500_is_unavailable(provider: AnthropicProvider, stream: bool) -> None:
    with pytest.raises(GatewayError) as caught:
        await call(provider, "fail-500", stream)
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE and caught.value.failover


@pytest.mark.parametrize("stream", [False, True])
async def test_invalid_request_error_is_invalid_argument_with_anthropics_message(
    provider: AnthropicProvider, stream: bool
) -> None:
    request = user_request(sampling=pb.Sampling(temperature=1.5))  # OpenAI's range, not Anthropic's
    with pytest.raises(GatewayError) as caught:
        await call(provider, MODEL, stream, request)
    error = caught.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and not error.failover
    assert "temperature: Input should be less than or equal to 1" in error.message
    assert error.metadata["upstream_error_type"] == "invalid_request_error"


async def test_a_body_that_is_not_json_is_unavailable_quoting_it(provider: AnthropicProvider) -> None:
    with pytest.raises(GatewayError) as caught:
        await call(provider, "not-json", False)
    error = caught.value
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert "HTTP 502 with a body that is not JSON: '<html><head><title>502 Bad Gateway" in error.message


async def test_cut_stream_and_in_band_error_end_the_stream_with_an_error(provider: AnthropicProvider) -> None:
    with pytest.raises(GatewayError) as cut:
        await call(provider, "cut-stream", True)
    assert cut.value.reason == Reason.STREAM_INTERRUPTED
    seen: list[pb.StreamChunk] = []
    with pytest.raises(GatewayError) as inband:
        async for chunk in provider.stream(user_request(), "inband-error", 10):
            seen.append(chunk)
    assert [chunk.delta.text for chunk in seen] == ["Hello"]
    assert inband.value.code == grpc.StatusCode.UNAVAILABLE
    assert "overloaded_error mid-stream" in inband.value.message


async def test_a_slow_first_byte_times_out(provider: AnthropicProvider) -> None:
    with pytest.raises(GatewayError) as caught:
        await drain(provider, user_request(), "slow-first-byte", timeout=0.3)
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE and caught.value.reason == Reason.UPSTREAM_TIMEOUT


async def test_no_key_is_an_authentication_error(fake: FakeServer) -> None:
    provider = make_provider(fake, api_key=None)
    try:
        with pytest.raises(GatewayError) as caught:
            await provider.generate(user_request(), MODEL, 10)
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await provider.close()


@pytest.mark.parametrize(
    "model",
    [
        "fail-401",
        "fail-403",
        "fail-404",
        "fail-429",
        "fail-500",
        "fail-529",
        "not-json",
        "cut-stream",
        "inband-error",
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_the_provider_key_never_appears_in_an_error(
    provider: AnthropicProvider, model: str, stream: bool
) -> None:
    with pytest.raises(GatewayError) as caught:
        await call(provider, model, stream)
    error = caught.value
    assert KEY not in error.message and KEY not in str(error.metadata) and KEY not in str(error.to_status())
    if model == "fail-403":
        assert "[redacted]" in error.message  # the fake echoed it; the gateway did not pass it on


# --- the fake itself speaks the protocol ------------------------------------------------------------


async def post(
    fake: FakeServer, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    sent = {"x-api-key": KEY, "anthropic-version": "2023-06-01"} if headers is None else headers
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake.url}/v1/messages", json=body, headers=sent) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
            None,
            400,
            "max_tokens: Field required",
        ),
        ({"model": MODEL, "max_tokens": 5, "messages": []}, {"x-api-key": KEY}, 400, "anthropic-version"),
        (
            {"model": MODEL, "max_tokens": 5, "messages": []},
            {"anthropic-version": "2023-06-01"},
            401,
            "x-api-key",
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
            None,
            400,
            "top-level `system`",
        ),
        (
            {
                "model": MODEL,
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [],
                "tool_choice": {"type": "auto"},
            },
            None,
            400,
            "tool_choice may only be specified while providing tools",
        ),
        (
            {
                "model": MODEL,
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
                "top_k_extra": 1,
            },
            None,
            400,
            "Extra inputs are not permitted",
        ),
    ],
)
async def test_the_fake_rejects_what_the_api_rejects(
    fake: FakeServer, body: dict[str, Any], headers: dict[str, str] | None, status: int, message: str
) -> None:
    got_status, reply = await post(fake, body, headers)
    assert got_status == status
    assert reply["type"] == "error" and message in reply["error"]["message"]
