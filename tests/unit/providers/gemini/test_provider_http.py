"""GeminiProvider over real HTTP against a scripted upstream: paths, headers, streams split at odd
places, the error table (from the golden error bodies), models, embeddings and countTokens."""

from __future__ import annotations

import grpc
import orjson
import pytest

from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.gemini import GeminiProvider
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers.gemini.support import (
    KEY,
    SETTINGS,
    Reply,
    Upstream,
    canonical_chunks,
    cases,
    collect,
    fixture_bytes,
    fixture_json,
    parse,
    user_request,
    without_timings,
)

Fixture = tuple[Upstream, GeminiProvider]
GENERATE = "POST /models/gemini-2.5-flash:generateContent"
STREAM = "POST /models/gemini-2.5-flash:streamGenerateContent?alt=sse"


@pytest.mark.parametrize("case", cases("generate_", "stream"))
async def test_streams_over_a_socket_in_odd_pieces(upstream: Fixture, case: str) -> None:
    fake, provider = upstream
    fake.on(STREAM, Reply(fixture_bytes(f"{case}.wire.sse")))
    chunks = await collect(provider.stream(user_request(), "gemini-2.5-flash", timeout=10))
    assert without_timings(chunks) == canonical_chunks(case)
    final = chunks[-1].final
    assert final.timings.total_ns >= final.timings.first_chunk_ns >= 0
    [seen] = fake.seen
    assert seen.headers["x-goog-api-key"] == KEY
    assert "key=" not in seen.path  # the key never travels in the URL, where logs keep it
    assert seen.body == {"contents": [{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}]}


@pytest.mark.parametrize("case", cases("generate_stream_", "stream"))
async def test_streamed_usage_equals_unstreamed_usage_over_http(upstream: Fixture, case: str) -> None:
    fake, provider = upstream
    twin = case.replace("_stream_", "_response_", 1)
    fake.on(STREAM, Reply(fixture_bytes(f"{case}.wire.sse")))
    fake.on(GENERATE, Reply(fixture_bytes(f"{twin}.wire.json"), content_type="application/json"))
    streamed = (await collect(provider.stream(user_request(), "gemini-2.5-flash", timeout=10)))[-1].final
    unary = await provider.generate(user_request(), "gemini-2.5-flash", timeout=10)
    assert streamed.usage == unary.usage
    assert not unary.usage.estimated
    assert streamed.finish_reason == unary.finish_reason


async def test_generate_reads_the_reply_and_times_it(upstream: Fixture) -> None:
    fake, provider = upstream
    fake.on(
        GENERATE, Reply(fixture_bytes("generate_response_text.wire.json"), content_type="application/json")
    )
    response = await provider.generate(user_request(), "gemini-2.5-flash", timeout=10, settings=SETTINGS)
    expected = parse(fixture_json("generate_response_text.canonical.json"), pb.GenerateResponse)
    assert response.timings.total_ns > 0
    response.ClearField("timings")
    assert response == expected


async def test_a_stream_without_content_parts_still_finishes(upstream: Fixture) -> None:
    fake, provider = upstream
    fake.on(STREAM, Reply(fixture_bytes("stream_no_content_parts.wire.sse")))
    chunks = await collect(provider.stream(user_request(), "gemini-2.5-flash", timeout=10))
    assert "".join(c.delta.text for c in chunks[:-1]) == "I will draw a pig with wings."
    assert chunks[-1].final.usage.output_tokens == 8


async def test_a_cut_stream_is_an_error_not_a_silent_stop(upstream: Fixture) -> None:
    fake, provider = upstream
    fake.on(STREAM, Reply(fixture_bytes("stream_cut.wire.sse")))
    received: list[pb.StreamChunk] = []
    with pytest.raises(GatewayError) as caught:
        async for chunk in provider.stream(user_request(), "gemini-2.5-flash", timeout=10):
            received.append(chunk)
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert caught.value.reason == Reason.STREAM_INTERRUPTED
    assert [c.delta.text for c in received] == ["The", " capital"]


async def test_a_dropped_connection_mid_stream_is_interrupted(upstream: Fixture) -> None:
    fake, provider = upstream
    body = fixture_bytes("generate_stream_text.wire.sse")
    fake.on(STREAM, Reply(body[: len(body) // 2], abort=True))
    with pytest.raises(GatewayError) as caught:
        await collect(provider.stream(user_request(), "gemini-2.5-flash", timeout=10))
    assert caught.value.reason == Reason.STREAM_INTERRUPTED


async def test_malformed_function_call_is_an_error(upstream: Fixture) -> None:
    fake, provider = upstream
    fake.on(STREAM, Reply(fixture_bytes("stream_malformed_function_call.wire.sse")))
    received: list[pb.StreamChunk] = []
    with pytest.raises(GatewayError) as caught:
        async for chunk in provider.stream(user_request(), "gemini-2.5-flash", timeout=10):
            received.append(chunk)
    error = caught.value
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_ERROR)
    assert "MALFORMED_FUNCTION_CALL" in error.message
    assert "print(default_api.get_current_temperature(location=Paris))" in error.message
    assert error.failover
    assert not any(c.HasField("final") for c in received)


async def test_malformed_function_call_unstreamed_is_an_error(upstream: Fixture) -> None:
    fake, provider = upstream
    last = fixture_bytes("stream_malformed_function_call.wire.sse").split(b"\r\n\r\n")[1]
    fake.on(GENERATE, Reply(last.removeprefix(b"data: "), content_type="application/json"))
    with pytest.raises(GatewayError) as caught:
        await provider.generate(user_request(), "gemini-2.5-flash", timeout=10)
    assert caught.value.reason == Reason.UPSTREAM_ERROR
    assert "MALFORMED_FUNCTION_CALL" in caught.value.message


async def test_an_error_inside_the_stream_ends_it_with_the_mapped_error(upstream: Fixture) -> None:
    fake, provider = upstream
    fake.on(STREAM, Reply(fixture_bytes("stream_inband_error.wire.sse")))
    received: list[pb.StreamChunk] = []
    with pytest.raises(GatewayError) as caught:
        async for chunk in provider.stream(user_request(), "gemini-2.5-flash", timeout=10):
            received.append(chunk)
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert "The model is overloaded" in caught.value.message
    assert [c.delta.text for c in received] == ["Partial"]


# --- the error table ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "code", "reason", "retry_after", "quoted"),
    [
        (
            "error_api_key_invalid",
            400,
            grpc.StatusCode.UNAUTHENTICATED,
            Reason.UPSTREAM_AUTH_FAILED,
            None,
            "api_key",
        ),
        (
            "error_service_disabled",
            403,
            grpc.StatusCode.PERMISSION_DENIED,
            Reason.UPSTREAM_AUTH_FAILED,
            None,
            "project",
        ),
        ("error_rate_limited", 429, grpc.StatusCode.RESOURCE_EXHAUSTED, Reason.RATE_LIMITED, 53.5, "quota"),
        (
            "error_not_found",
            404,
            grpc.StatusCode.NOT_FOUND,
            Reason.UPSTREAM_MODEL_NOT_FOUND,
            None,
            "ListModels",
        ),
        (
            "error_token_limit",
            400,
            grpc.StatusCode.INVALID_ARGUMENT,
            Reason.CONTEXT_TOO_LONG,
            None,
            "1048576",
        ),
        (
            "error_overloaded",
            503,
            grpc.StatusCode.UNAVAILABLE,
            Reason.UPSTREAM_UNAVAILABLE,
            None,
            "overloaded",
        ),
        (
            "error_failed_precondition",
            400,
            grpc.StatusCode.UNAVAILABLE,
            Reason.UPSTREAM_ERROR,
            None,
            "enable billing",
        ),
        (
            "error_internal",
            500,
            grpc.StatusCode.UNAVAILABLE,
            Reason.UPSTREAM_UNAVAILABLE,
            None,
            "internal error",
        ),
    ],
)
@pytest.mark.parametrize("streamed", [False, True], ids=["unary", "stream"])
async def test_google_rpc_status_errors_map_to_canonical_codes(
    upstream: Fixture,
    name: str,
    status: int,
    code: grpc.StatusCode,
    reason: Reason,
    retry_after: float | None,
    quoted: str,
    streamed: bool,
) -> None:
    fake, provider = upstream
    reply = Reply(fixture_bytes(f"{name}.wire.json"), status=status, content_type="application/json")
    fake.on(STREAM if streamed else GENERATE, reply)
    with pytest.raises(GatewayError) as caught:
        if streamed:
            await collect(provider.stream(user_request(), "gemini-2.5-flash", timeout=10))
        else:
            await provider.generate(user_request(), "gemini-2.5-flash", timeout=10)
    error = caught.value
    assert (error.code, error.reason, error.retry_after) == (code, reason, retry_after)
    assert quoted in error.message
    assert "provider 'gem'" in error.message
    # The API key invalid body quotes the key in its DebugInfo; nothing of it may leak.
    assert KEY not in str(error.to_status())
    assert KEY[:16] not in error.message


async def test_a_body_that_is_not_json_is_unavailable_quoting_200_bytes(upstream: Fixture) -> None:
    fake, provider = upstream
    page = b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 400 + b"TAIL</body></html>"
    fake.on(GENERATE, Reply(page, status=502, content_type="text/html"))
    with pytest.raises(GatewayError) as caught:
        await provider.generate(user_request(), "gemini-2.5-flash", timeout=10)
    error = caught.value
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE)
    assert page[:200].decode() in error.message
    assert "TAIL" not in error.message


async def test_a_reply_that_is_not_a_gemini_response_is_a_protocol_error(upstream: Fixture) -> None:
    fake, provider = upstream
    fake.on(GENERATE, Reply(b'{"choices": []}', content_type="application/json"))
    with pytest.raises(GatewayError) as caught:
        await provider.generate(user_request(), "gemini-2.5-flash", timeout=10)
    assert caught.value.reason == Reason.UPSTREAM_ERROR
    assert "no candidates" in caught.value.message


# --- models, embeddings, countTokens ------------------------------------------------------------


async def test_list_models_follows_pages_and_strips_the_prefix(upstream: Fixture) -> None:
    fake, provider = upstream
    page1 = Reply(fixture_bytes("models_page1.wire.json"), content_type="application/json")
    page2 = Reply(fixture_bytes("models_page2.wire.json"), content_type="application/json")
    fake.on("GET /models?pageSize=1000", page1)
    fake.on("GET /models?pageSize=1000&pageToken=Ch1nZW1pbmktMi41LWZsYXNo", page2)
    assert await provider.list_models(timeout=10) == [
        "gemini-2.0-flash",
        "gemini-2.5-flash",
        "gemini-embedding-001",
    ]
    assert all(seen.headers["x-goog-api-key"] == KEY for seen in fake.seen)


async def test_embed_sends_batch_embed_contents(upstream: Fixture) -> None:
    fake, provider = upstream
    reply = Reply(fixture_bytes("embed_response_batch.wire.json"), content_type="application/json")
    fake.on("POST /models/gemini-embedding-001:batchEmbedContents", reply)
    request = parse(fixture_json("embed_batch_dimensions.canonical.json"), pb.EmbedRequest)
    response = await provider.embed(request, "gemini-embedding-001", timeout=10)
    assert response == parse(fixture_json("embed_response_batch.canonical.json"), pb.EmbedResponse)
    assert fake.seen[0].body == fixture_json("embed_batch_dimensions.wire.json")


async def test_count_tokens(upstream: Fixture) -> None:
    fake, provider = upstream
    fake.on(
        "POST /models/gemini-2.5-flash:countTokens",
        Reply(
            orjson.dumps({"totalTokens": 31, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 31}]})
        ),
    )
    request = parse(fixture_json("count_tokens_with_system.canonical.json"), pb.GenerateRequest)
    assert await provider.count_tokens(request, "gemini-2.5-flash", timeout=10) == 31
    assert fake.seen[0].body == fixture_json("count_tokens_with_system.wire.json")
