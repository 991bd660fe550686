"""OpenAIProvider's unary calls over a real socket (providers/openai/provider.py): endpoints,
the shared HTTP error table, in-band errors, deadlines, credentials."""

from __future__ import annotations

import grpc
import orjson
import pytest

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.openai import OpenAIProvider
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers.openai.support import (
    KEY,
    Reply,
    Upstream,
    collect,
    fixture_bytes,
    fixture_json,
    user_request,
)


async def test_generate_with_tool_calls(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    wire = fixture_json("chat_response_tool_calls.wire.json")
    fake.on("POST /chat/completions", Reply(orjson.dumps(wire), content_type="application/json"))
    response = await provider.generate(user_request(), "gpt-4o-mini", timeout=10)
    assert [c.id for c in response.message.tool_calls] == ["call_abc123", "call_def456"]
    assert response.finish_reason == pb.FINISH_REASON_TOOL_CALLS
    assert response.usage == pb.Usage(input_tokens=82, output_tokens=17, total_tokens=99)
    assert response.timings.total_ns > 0
    [seen] = fake.seen
    assert "stream" not in seen.body and "stream_options" not in seen.body


async def test_generate_legacy_completion(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    wire = fixture_json("completion_response_legacy.wire.json")
    fake.on("POST /completions", Reply(orjson.dumps(wire), content_type="application/json"))
    request = pb.GenerateRequest(model="m", prompt="Say this is a test", sampling=pb.Sampling(max_tokens=7))
    response = await provider.generate(request, "gpt-3.5-turbo-instruct", timeout=10)
    assert response.message.content[0].text == "\n\nThis is indeed a test"
    assert response.finish_reason == pb.FINISH_REASON_LENGTH
    assert fake.seen[0].body == {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "Say this is a test",
        "max_tokens": 7,
    }


async def test_http_429_with_retry_after(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on(
        "POST /chat/completions",
        Reply(
            fixture_bytes("error_429.wire.json"),
            status=429,
            content_type="application/json",
            headers={"Retry-After": "7"},
        ),
    )
    for call in (
        provider.generate(user_request(), "gpt-4o", timeout=10),
        collect(provider.stream(user_request(), "gpt-4o", timeout=10)),
    ):
        with pytest.raises(GatewayError) as caught:
            await call
        assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert caught.value.reason == Reason.RATE_LIMITED
        assert caught.value.retry_after == 7.0
        assert "Rate limit reached for gpt-4o" in caught.value.message


async def test_http_401_never_leaks_the_key(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    body = fixture_bytes("error_401.wire.json")
    assert KEY.encode() in body  # the fixture echoes the key, as some servers do
    fake.on("POST /chat/completions", Reply(body, status=401, content_type="application/json"))
    for call in (
        provider.generate(user_request(), "gpt-4o", timeout=10),
        collect(provider.stream(user_request(), "gpt-4o", timeout=10)),
    ):
        with pytest.raises(GatewayError) as caught:
            await call
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert caught.value.reason == Reason.UPSTREAM_AUTH_FAILED
        assert KEY not in caught.value.message
        assert KEY not in str(caught.value.to_status())


async def test_in_band_error_in_a_200_unary_reply(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    error = {"error": {"message": f"upstream rejected {KEY}", "code": 502}}
    fake.on("POST /chat/completions", Reply(orjson.dumps(error), content_type="application/json"))
    with pytest.raises(GatewayError) as caught:
        await provider.generate(user_request(), "m", timeout=10)
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert KEY not in caught.value.message


async def test_reply_without_choices_is_a_protocol_error(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on(
        "POST /chat/completions", Reply(b'{"object": "chat.completion"}', content_type="application/json")
    )
    with pytest.raises(GatewayError) as caught:
        await provider.generate(user_request(), "m", timeout=10)
    assert caught.value.reason == Reason.UPSTREAM_ERROR
    assert "no choices" in caught.value.message


async def test_timeout_argument_bounds_the_call(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    wire = fixture_json("chat_response_tool_calls.wire.json")
    fake.on(
        "POST /chat/completions",
        Reply(orjson.dumps(wire), content_type="application/json", first_byte_delay=2.0),
    )
    with pytest.raises(GatewayError) as caught:
        await provider.generate(user_request(), "m", timeout=0.2)
    assert caught.value.reason == Reason.UPSTREAM_TIMEOUT


async def test_no_authorization_header_without_a_key() -> None:
    provider = OpenAIProvider("local", ProviderConfig(kind="openai", base_url="http://127.0.0.1:1/v1"))
    assert "Authorization" not in provider.http.session.headers
    assert provider.address == "http://127.0.0.1:1"
    await provider.close()
