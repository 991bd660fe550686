"""The OpenAI-compatible provider against golden wire fixtures and a real loopback server.

Fixtures under fixtures/openai/ follow the published format: the
openai-openapi spec's CreateChatCompletionRequest/Response,
CreateChatCompletionStreamResponse, CreateCompletionRequest/Response and
CreateEmbeddingRequest/Response, the SSE bodies the openai-python SDK's
streaming tests record, and the in-band error shapes of OpenAI, vLLM and
OpenRouter. Streams are served by a tiny aiohttp server that writes the body
in odd-sized pieces, so lines and events arrive split at awkward places.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from google.protobuf import json_format
from pydantic import SecretStr

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.openai import (
    OpenAIProvider,
    StreamState,
    chat_body,
    completion_body,
    error_in_body,
    response_from_chat,
    response_from_completion,
)
from model_gateway.tokens import estimate_usage
from modelgateway.v1 import gateway_pb2 as pb

FIXTURES = Path(__file__).parent / "fixtures" / "openai"
KEY = "sk-test-9f8e7d6c5b4a"
ODD_PIECES = (1, 5, 17, 3, 64, 11, 2, 129, 7)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return orjson.loads(fixture_bytes(name))


def canonical_request(data: dict[str, Any]) -> pb.GenerateRequest:
    return json_format.ParseDict(data, pb.GenerateRequest())


def user_request(text: str = "Why is the sky blue?") -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model="m", messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])]
    )


# --- a real upstream on loopback -------------------------------------------------


@dataclass
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "text/event-stream"
    headers: dict[str, str] = field(default_factory=dict)
    pieces: Sequence[int] = ODD_PIECES  # sizes of the successive writes, cycled
    first_byte_delay: float = 0.0
    piece_delay: float = 0.0
    abort: bool = False  # drop the connection after the body instead of ending it


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class Upstream:
    """Serves scripted replies by "METHOD /path" (without /v1) and records what it was sent."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.seen: list[Seen] = []
        self.client_went_away = asyncio.Event()

    def on(self, route: str, reply: Reply) -> None:
        self.replies[route] = reply

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        path = request.path.removeprefix("/v1")
        self.seen.append(
            Seen(request.method, path, dict(request.headers), orjson.loads(raw) if raw else None)
        )
        reply = self.replies[f"{request.method} {path}"]
        if reply.first_byte_delay:
            await asyncio.sleep(reply.first_byte_delay)
        response = web.StreamResponse(
            status=reply.status, headers={"Content-Type": reply.content_type, **reply.headers}
        )
        await response.prepare(request)
        offset, sizes = 0, itertools.cycle(reply.pieces)
        try:
            while offset < len(reply.body):
                size = next(sizes)
                await response.write(reply.body[offset : offset + size])
                offset += size
                await asyncio.sleep(reply.piece_delay)
        except (ConnectionResetError, asyncio.CancelledError):
            self.client_went_away.set()
            raise
        if reply.abort:
            assert request.transport is not None
            request.transport.abort()
            return response
        await response.write_eof()
        return response


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, OpenAIProvider]]:
    fake = Upstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    base_url = f"http://127.0.0.1:{server.port}/v1"
    config = ProviderConfig(kind="openai", base_url=base_url, api_key=SecretStr(KEY))
    provider = OpenAIProvider("fake", config)
    try:
        yield fake, provider
    finally:
        await provider.close()
        await server.close()


async def collect(stream: AsyncIterator[pb.StreamChunk]) -> tuple[list[pb.Delta], pb.FinalChunk]:
    deltas: list[pb.Delta] = []
    finals: list[pb.FinalChunk] = []
    async for chunk in stream:
        assert not finals, "nothing may follow the final chunk"
        if chunk.HasField("final"):
            finals.append(chunk.final)
        else:
            deltas.append(chunk.delta)
    assert len(finals) == 1
    return deltas, finals[0]


def tool_calls_from(deltas: list[pb.Delta]) -> dict[int, pb.ToolCall]:
    calls: dict[int, pb.ToolCall] = {}
    for delta in deltas:
        for fragment in delta.tool_calls:
            call = calls.setdefault(fragment.index, pb.ToolCall())
            call.id = call.id or fragment.id
            call.name = call.name or fragment.name
            call.arguments += fragment.arguments
    return calls


# --- canonical -> OpenAI -------------------------------------------------------------

REQUEST_CASES = fixture_json("requests.json")


@pytest.mark.parametrize("case", REQUEST_CASES, ids=[c["name"] for c in REQUEST_CASES])
def test_request_translates_to_the_wire_body(case: dict[str, Any]) -> None:
    request = canonical_request(case["canonical"])
    model = case["wire"]["model"]
    build = chat_body if case["endpoint"] == "chat" else completion_body
    body = build(request, model, case["stream"])
    assert body == case["wire"]
    # The body must survive the trip through the JSON encoder the HTTP layer uses.
    assert orjson.loads(orjson.dumps(body)) == case["wire"]


def test_provider_options_never_replace_the_translated_fields() -> None:
    request = canonical_request(
        {
            "model": "m",
            "messages": [{"role": "ROLE_USER", "content": [{"text": "hi"}]}],
            "sampling": {"temperature": 0.5},
            "providerOptions": {"model": "x", "messages": [], "stream": False, "temperature": 1.0},
        }
    )
    body = chat_body(request, "upstream-model", stream=True)
    assert body["model"] == "upstream-model"
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    # Other keys are the operator's to set, as vLLM extras are.
    assert body["temperature"] == 1


def test_ollama_native_options_stay_out_of_openai_bodies() -> None:
    request = canonical_request(
        {
            "model": "m",
            "messages": [{"role": "ROLE_USER", "content": [{"text": "hi"}]}],
            "providerOptions": {
                "options": {"num_ctx": 4096},
                "keep_alive": "5m",
                "think": False,
                "min_p": 0.1,
            },
        }
    )
    body = chat_body(request, "m", stream=False)
    assert body["min_p"] == 0.1
    assert not {"options", "keep_alive", "think"} & body.keys()


def test_invalid_tool_call_arguments_name_the_field() -> None:
    request = canonical_request(
        {
            "model": "m",
            "messages": [
                {"role": "ROLE_USER", "content": [{"text": "hi"}]},
                {"role": "ROLE_ASSISTANT", "toolCalls": [{"id": "c1", "name": "f", "arguments": "{}"}]},
                {"role": "ROLE_TOOL", "toolCallId": "c1", "content": [{"text": "ok"}]},
                {
                    "role": "ROLE_ASSISTANT",
                    "toolCalls": [
                        {"id": "c2", "name": "f", "arguments": "{}"},
                        {"id": "c3", "name": "f", "arguments": '{"city": '},
                    ],
                },
            ],
        }
    )
    with pytest.raises(GatewayError) as caught:
        chat_body(request, "m", stream=False)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.metadata["field"] == "messages[3].tool_calls[1].arguments"
    assert "not valid JSON" in caught.value.message


def test_tool_result_without_any_call_id_is_rejected() -> None:
    request = canonical_request(
        {"model": "m", "messages": [{"role": "ROLE_TOOL", "name": "now", "content": [{"text": "12:00"}]}]}
    )
    with pytest.raises(GatewayError) as caught:
        chat_body(request, "m", stream=False)
    assert caught.value.metadata["field"] == "messages[0].tool_call_id"


def test_image_bytes_without_mime_type_are_sniffed() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 8
    request = pb.GenerateRequest(
        messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(image=pb.ImagePart(data=jpeg))])]
    )
    body = chat_body(request, "m", stream=False)
    url = body["messages"][0]["content"][0]["image_url"]["url"]
    assert url == "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    assert url.startswith("data:image/jpeg;base64,/9j/4")


def test_raw_prompt_cannot_carry_tools() -> None:
    request = pb.GenerateRequest(prompt="hi", tools=[pb.Tool(name="f")])
    with pytest.raises(GatewayError) as caught:
        completion_body(request, "m", stream=False)
    assert caught.value.metadata["field"] == "tools"


# --- OpenAI -> canonical -------------------------------------------------------------

RESPONSE_CASES = fixture_json("responses.json")


@pytest.mark.parametrize("case", RESPONSE_CASES, ids=[c["name"] for c in RESPONSE_CASES])
def test_wire_response_translates_to_canonical(case: dict[str, Any]) -> None:
    parse = response_from_chat if case["endpoint"] == "chat" else response_from_completion
    expected = json_format.ParseDict(case["canonical"], pb.GenerateResponse())
    assert parse(case["wire"]) == expected


def test_stream_state_reassembles_the_tool_call_fixture() -> None:
    state = StreamState()
    deltas = []
    for line in fixture_bytes("stream_tool_calls.sse").decode().split("\n"):
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


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {
                "error": {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                }
            },
            ("The server had an error while processing your request.", None),
            id="openai",
        ),
        pytest.param(
            {"error": {"message": "bad input", "type": "BadRequestError", "param": None, "code": 400}},
            ("bad input", 400),
            id="vllm",
        ),
        pytest.param(
            {"object": "error", "message": "old vllm", "type": "BadRequestError", "param": None, "code": 400},
            ("old vllm", 400),
            id="vllm-legacy",
        ),
        pytest.param({"error": {"code": "502", "message": "down"}}, ("down", 502), id="string-status"),
        pytest.param({"id": "chatcmpl-1", "choices": [], "error": None}, None, id="null-error-is-no-error"),
        pytest.param([], None, id="not-an-object"),
    ],
)
def test_error_in_body_shapes(body: Any, expected: tuple[str, int | None] | None) -> None:
    assert error_in_body(body) == expected


# --- streams over a real socket ------------------------------------------------------


async def test_stream_with_tool_call_arguments_split_across_chunks(
    upstream: tuple[Upstream, OpenAIProvider],
) -> None:
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(fixture_bytes("stream_tool_calls.sse")))
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
    fake.on("POST /chat/completions", Reply(fixture_bytes("stream_text_usage.sse").replace(b"\n", newline)))
    deltas, final = await collect(provider.stream(user_request(), "gpt-4o-mini", timeout=10))
    assert "".join(d.text for d in deltas) == "Hello! How can I help you today?"
    assert len(deltas) == 9  # the empty first content and the finish-only chunk forward nothing
    assert final.finish_reason == pb.FINISH_REASON_STOP
    assert final.usage == pb.Usage(input_tokens=19, output_tokens=10, total_tokens=29)


async def test_stream_without_usage_or_done_is_estimated(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    """llama.cpp style: `data:` without a space, keep-alive comments, no usage, no [DONE]."""
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(fixture_bytes("stream_no_usage_no_done.sse")))
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
    fake.on("POST /chat/completions", Reply(fixture_bytes("stream_no_usage_no_done.sse")))
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
    fake.on("POST /chat/completions", Reply(fixture_bytes("stream_reasoning.sse")))
    deltas, final = await collect(provider.stream(user_request("2+2?"), "r1", timeout=10))
    assert "".join(d.reasoning for d in deltas) == "The user asks 2+2."
    assert "".join(d.text for d in deltas) == "2 + 2 = 4"
    # vLLM put the usage on the finishing chunk itself.
    assert final.usage == pb.Usage(input_tokens=12, output_tokens=18, total_tokens=30)


async def test_in_band_error_from_openrouter(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on("POST /chat/completions", Reply(fixture_bytes("stream_error_openrouter.sse")))
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
    fake.on("POST /chat/completions", Reply(fixture_bytes("stream_error_vllm.sse")))
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
    fake.on("POST /chat/completions", Reply(fixture_bytes("stream_cut.sse"), abort=abort))
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
    body = fixture_bytes("stream_text_usage.sse")
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
        Reply(fixture_bytes("stream_text_usage.sse") * 50, pieces=(200,), piece_delay=0.01),
    )
    stream = provider.stream(user_request(), "m", timeout=10)
    first = await anext(stream)
    assert first.delta.text == "Hello"
    await stream.aclose()  # type: ignore[attr-defined]
    await asyncio.wait_for(fake.client_went_away.wait(), timeout=5)


async def test_legacy_completion_stream_for_a_prompt(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on("POST /completions", Reply(fixture_bytes("completion_stream.sse")))
    request = pb.GenerateRequest(model="m", prompt="Say this is a test", system="Be terse.")
    deltas, final = await collect(provider.stream(request, "gpt-3.5-turbo-instruct", timeout=10))
    assert "".join(d.text for d in deltas) == "This is indeed a test"
    assert final.finish_reason == pb.FINISH_REASON_LENGTH
    assert final.usage == pb.Usage(input_tokens=5, output_tokens=5, total_tokens=10)
    [seen] = fake.seen
    assert seen.path == "/completions"
    assert seen.body["prompt"] == "Be terse.\n\nSay this is a test"


# --- unary calls --------------------------------------------------------------------


async def test_generate_with_tool_calls(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    case = next(c for c in RESPONSE_CASES if c["name"] == "tool_calls")
    fake.on("POST /chat/completions", Reply(orjson.dumps(case["wire"]), content_type="application/json"))
    response = await provider.generate(user_request(), "gpt-4o-mini", timeout=10)
    assert [c.id for c in response.message.tool_calls] == ["call_abc123", "call_def456"]
    assert response.finish_reason == pb.FINISH_REASON_TOOL_CALLS
    assert response.usage == pb.Usage(input_tokens=82, output_tokens=17, total_tokens=99)
    assert response.timings.total_ns > 0
    [seen] = fake.seen
    assert "stream" not in seen.body and "stream_options" not in seen.body


async def test_generate_legacy_completion(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    case = next(c for c in RESPONSE_CASES if c["name"] == "legacy_completion")
    fake.on("POST /completions", Reply(orjson.dumps(case["wire"]), content_type="application/json"))
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
            fixture_bytes("error_429.json"),
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
    body = fixture_bytes("error_401.json")
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
    case = next(c for c in RESPONSE_CASES if c["name"] == "tool_calls")
    fake.on(
        "POST /chat/completions",
        Reply(orjson.dumps(case["wire"]), content_type="application/json", first_byte_delay=2.0),
    )
    with pytest.raises(GatewayError) as caught:
        await provider.generate(user_request(), "m", timeout=0.2)
    assert caught.value.reason == Reason.UPSTREAM_TIMEOUT


async def test_embed(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on(
        "POST /embeddings", Reply(fixture_bytes("embeddings_response.json"), content_type="application/json")
    )
    request = pb.EmbedRequest(model="e", input=["The food was delicious", "and the waiter..."], dimensions=3)
    response = await provider.embed(request, "text-embedding-3-small", timeout=10)
    # Replies are ordered by `index`, whatever order the server listed them in.
    assert [list(e.values) for e in response.embeddings] == [
        pytest.approx([0.0023064255, -0.009327292, 0.25]),
        pytest.approx([-0.0028842222, 0.0112, 0.5]),
    ]
    assert response.usage == pb.Usage(input_tokens=8, total_tokens=8)
    assert fake.seen[0].body == {
        "model": "text-embedding-3-small",
        "input": ["The food was delicious", "and the waiter..."],
        "dimensions": 3,
        "encoding_format": "float",
    }


async def test_list_models(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on("GET /models", Reply(fixture_bytes("models.json"), content_type="application/json"))
    assert await provider.list_models(timeout=10) == ["model-id-0", "model-id-1", "model-id-2"]
    assert provider.address == f"http://127.0.0.1:{provider.http.address.rsplit(':', 1)[1]}"
    assert fake.seen[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_no_authorization_header_without_a_key() -> None:
    provider = OpenAIProvider("local", ProviderConfig(kind="openai", base_url="http://127.0.0.1:1/v1"))
    assert "Authorization" not in provider.http.session.headers
    assert provider.address == "http://127.0.0.1:1"
    await provider.close()
