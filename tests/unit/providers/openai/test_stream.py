"""OpenAI streams → canonical chunks: StreamState (providers/openai/stream.py) and, over a real
socket, the provider's SSE loop around it (providers/openai/provider.py).

The SSE bodies are those the openai-python SDK's streaming tests record,
and the variants llama.cpp, vLLM and OpenRouter produce (in-band errors,
comments, no usage, no [DONE], a body cut short).
"""

from __future__ import annotations

import asyncio

import grpc
import orjson
import pytest
from google.protobuf import json_format

from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.openai import OpenAIProvider
from model_gateway.providers.openai.stream import StreamState
from model_gateway.tokens import estimate_usage
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases
from tests.unit.providers.openai.support import (
    DIALECT,
    KEY,
    Reply,
    Upstream,
    collect,
    fixture_bytes,
    fixture_json,
    tool_calls_from,
    user_request,
)


@pytest.mark.parametrize("case", cases.cases(DIALECT, "stream"))
async def test_stream_translates_to_canonical_chunks(
    upstream: tuple[Upstream, OpenAIProvider], case: str
) -> None:
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(fixture_bytes(f"{case}.wire.sse")))
    chunks = [chunk async for chunk in provider.stream(user_request(), "m", timeout=10)]
    assert chunks[-1].final.timings.total_ns > 0
    chunks[-1].final.ClearField("timings")  # measured, not translated
    assert chunks == [
        json_format.ParseDict(c, pb.StreamChunk()) for c in fixture_json(f"{case}.canonical.json")
    ]


def test_stream_state_reassembles_the_tool_call_fixture() -> None:
    state = StreamState()
    deltas = []
    for line in fixture_bytes("chat_stream_tool_calls.wire.sse").decode().split("\n"):
        if line.startswith("data: {"):
            delta = state.consume(orjson.loads(line.removeprefix("data: ")))
            if delta is not None:
                deltas.append(delta)
    calls = tool_calls_from(deltas)
    assert [calls[0].name, calls[1].name] == ["get_weather", "get_stock_price"]
    assert state.finish_reason == pb.FINISH_REASON_TOOL_CALLS
    assert state.usage == pb.Usage(
        input_tokens=149, output_tokens=60, total_tokens=209, cached_input_tokens=128
    )
    assert [c.name for c in state.message().tool_calls] == ["get_weather", "get_stock_price"]


async def test_stream_with_tool_call_arguments_split_across_chunks(
    upstream: tuple[Upstream, OpenAIProvider],
) -> None:
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(fixture_bytes("chat_stream_tool_calls.wire.sse")))
    deltas, final = await collect(provider.stream(user_request(), "gpt-4o-2024-08-06", timeout=10))

    calls = tool_calls_from(deltas)
    assert calls[0] == pb.ToolCall(
        id="call_Qb3fZ7wKcR1xNnUe4yTgHs2L",
        name="get_weather",
        arguments='{"city": "Edinburgh", "units": "c"}',
    )
    assert calls[1] == pb.ToolCall(
        id="call_8mJdV2pXa0LsKe5RtWc9YhFo",
        name="get_stock_price",
        arguments='{"ticker": "AAPL", "exchange": "NASDAQ"}',
    )
    assert orjson.loads(calls[0].arguments) == {"city": "Edinburgh", "units": "c"}
    # Fragments are forwarded as they arrive; id and name only on a call's first one.
    fragments = [f for d in deltas for f in d.tool_calls]
    assert len(fragments) == 18
    assert [(f.index, bool(f.id), bool(f.name)) for f in fragments][:2] == [
        (0, True, True),
        (0, False, False),
    ]
    assert not any(d.text for d in deltas)  # the role-only first chunk forwarded nothing

    assert final.finish_reason == pb.FINISH_REASON_TOOL_CALLS
    assert final.usage == pb.Usage(
        input_tokens=149, output_tokens=60, total_tokens=209, cached_input_tokens=128
    )
    assert final.timings.total_ns >= final.timings.first_chunk_ns > 0

    [seen] = fake.seen
    assert seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.body["stream"] is True
    assert seen.body["stream_options"] == {"include_usage": True}
    assert seen.body["model"] == "gpt-4o-2024-08-06"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["lf", "crlf"])
async def test_stream_text_with_usage_chunk_without_choices(
    upstream: tuple[Upstream, OpenAIProvider], newline: bytes
) -> None:
    fake, provider = upstream
    fake.on(
        "POST /chat/completions",
        Reply(fixture_bytes("chat_stream_text_usage.wire.sse").replace(b"\n", newline)),
    )
    deltas, final = await collect(provider.stream(user_request(), "gpt-4o-mini", timeout=10))
    assert "".join(d.text for d in deltas) == "Hello! How can I help you today?"
    assert len(deltas) == 9  # the empty first content and the finish-only chunk forward nothing
    assert final.finish_reason == pb.FINISH_REASON_STOP
    assert final.usage == pb.Usage(input_tokens=19, output_tokens=10, total_tokens=29)


async def test_stream_without_usage_or_done_is_estimated(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    """llama.cpp style: `data:` without a space, keep-alive comments, no usage, no [DONE]."""
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(fixture_bytes("chat_stream_no_usage_no_done.wire.sse")))
    request = user_request()
    deltas, final = await collect(provider.stream(request, "llama-3.2-3b-instruct", timeout=10))
    text = "".join(d.text for d in deltas)
    assert text == "The sky is blue because of Rayleigh scattering."
    assert final.finish_reason == pb.FINISH_REASON_STOP
    assert final.usage.estimated
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0
    assert final.usage == estimate_usage(request, text)


async def test_streamed_and_unstreamed_estimates_agree(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(fixture_bytes("chat_stream_no_usage_no_done.wire.sse")))
    request = user_request()
    _, final = await collect(provider.stream(request, "m", timeout=10))

    unary = {
        "id": "chatcmpl-3nRkYpVb2cT7uQ1wEoL9sJ0mZx4Ha",
        "object": "chat.completion",
        "created": 1731600200,
        "model": "llama-3.2-3b-instruct",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "The sky is blue because of Rayleigh scattering.",
                },
                "finish_reason": "stop",
            }
        ],
    }
    fake.on("POST /chat/completions", Reply(orjson.dumps(unary), content_type="application/json"))
    response = await provider.generate(request, "m", timeout=10)
    assert response.usage.estimated
    assert response.usage == final.usage


async def test_stream_reasoning_content(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(fixture_bytes("chat_stream_reasoning.wire.sse")))
    deltas, final = await collect(provider.stream(user_request("2+2?"), "r1", timeout=10))
    assert "".join(d.reasoning for d in deltas) == "The user asks 2+2."
    assert "".join(d.text for d in deltas) == "2 + 2 = 4"
    # vLLM put the usage on the finishing chunk itself.
    assert final.usage == pb.Usage(input_tokens=12, output_tokens=18, total_tokens=30)


async def test_in_band_error_from_openrouter(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(fixture_bytes("chat_stream_error_openrouter.wire.sse")))
    texts: list[str] = []
    with pytest.raises(GatewayError) as caught:
        async for chunk in provider.stream(user_request(), "openai/gpt-4o", timeout=10):
            texts.append(chunk.delta.text)
    assert texts == ["Once", " upon"]  # what came before the error was forwarded
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert caught.value.reason == Reason.UPSTREAM_ERROR
    assert "Provider disconnected unexpectedly" in caught.value.message


async def test_in_band_error_with_status_code_from_vllm(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(fixture_bytes("chat_stream_error_vllm.wire.sse")))
    with pytest.raises(GatewayError) as caught:
        await collect(provider.stream(user_request(), "llama", timeout=10))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.reason == Reason.CONTEXT_TOO_LONG
    assert "maximum context length is 8192 tokens" in caught.value.message


async def test_error_event_name_is_an_error(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(b"event: error\ndata: upstream overloaded\n\n"))
    with pytest.raises(GatewayError) as caught:
        await collect(provider.stream(user_request(), "m", timeout=10))
    assert caught.value.reason == Reason.UPSTREAM_ERROR
    assert "upstream overloaded" in caught.value.message


@pytest.mark.parametrize("abort", [False, True], ids=["body-ends", "connection-drops"])
async def test_stream_cut_before_finish_is_interrupted(
    upstream: tuple[Upstream, OpenAIProvider], abort: bool
) -> None:
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(fixture_bytes("chat_stream_cut.wire.sse"), abort=abort))
    texts: list[str] = []
    with pytest.raises(GatewayError) as caught:
        async for chunk in provider.stream(user_request(), "m", timeout=10):
            texts.append(chunk.delta.text)
    assert caught.value.reason == Reason.STREAM_INTERRUPTED
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert "".join(texts) == "Let me think about"


async def test_stream_cut_in_the_middle_of_an_event_is_interrupted(
    upstream: tuple[Upstream, OpenAIProvider],
) -> None:
    fake, provider = upstream
    body = fixture_bytes("chat_stream_text_usage.wire.sse")
    fake.on("POST /chat/completions", Reply(body[: body.index(b'"content":" How"') + 5]))
    with pytest.raises(GatewayError) as caught:
        await collect(provider.stream(user_request(), "m", timeout=10))
    assert caught.value.reason == Reason.STREAM_INTERRUPTED


async def test_non_json_event_is_a_protocol_error(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(b"data: <html>bad gateway</html>\n\n"))
    with pytest.raises(GatewayError) as caught:
        await collect(provider.stream(user_request(), "m", timeout=10))
    assert caught.value.reason == Reason.UPSTREAM_ERROR
    assert "not JSON" in caught.value.message


async def test_closing_the_stream_early_closes_the_upstream_request(
    upstream: tuple[Upstream, OpenAIProvider],
) -> None:
    fake, provider = upstream
    fake.on(
        "POST /chat/completions",
        Reply(fixture_bytes("chat_stream_text_usage.wire.sse") * 50, pieces=(200,), piece_delay=0.01),
    )
    stream = provider.stream(user_request(), "m", timeout=10)
    first = await anext(stream)
    assert first.delta.text == "Hello"
    await stream.aclose()  # type: ignore[attr-defined]
    await asyncio.wait_for(fake.client_went_away.wait(), timeout=5)


async def test_legacy_completion_stream_for_a_prompt(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on("POST /completions", Reply(fixture_bytes("completion_stream.wire.sse")))
    request = pb.GenerateRequest(model="m", prompt="Say this is a test", system="Be terse.")
    deltas, final = await collect(provider.stream(request, "gpt-3.5-turbo-instruct", timeout=10))
    assert "".join(d.text for d in deltas) == "This is indeed a test"
    assert final.finish_reason == pb.FINISH_REASON_LENGTH
    assert final.usage == pb.Usage(input_tokens=5, output_tokens=5, total_tokens=10)
    [seen] = fake.seen
    assert seen.path == "/completions"
    assert seen.body["prompt"] == "Be terse.\n\nSay this is a test"
