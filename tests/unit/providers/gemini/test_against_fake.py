"""GeminiProvider against the protocol-faithful fake (tests/fakes/gemini_server.py) over loopback HTTP:
failures on cue, a tool round trip with thought signatures, embeddings, models and countTokens."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import orjson
import pytest
from pydantic import SecretStr

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.base import ModelSettings
from model_gateway.providers.gemini import GeminiProvider
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.common import FakeServer
from tests.fakes.gemini_server import DEFAULT_MODELS
from tests.unit.providers.gemini.support import KEY, collect, parse, user_request

Fake = tuple[FakeServer, GeminiProvider]
ROOT = Path(__file__).resolve().parents[4]


def weather_request() -> pb.GenerateRequest:
    return parse(
        {
            "model": "m",
            "messages": [{"role": "ROLE_USER", "content": [{"text": "What is the weather in Paris?"}]}],
            "tools": [
                {
                    "name": "get_weather",
                    "description": "Current weather of a city.",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                        "additionalProperties": False,
                    },
                }
            ],
        },
        pb.GenerateRequest,
    )


async def failure(provider: GeminiProvider, model: str, streamed: bool) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        if streamed:
            await collect(provider.stream(user_request(), model, timeout=5))
        else:
            await provider.generate(user_request(), model, timeout=5)
    return caught.value


@pytest.mark.parametrize("streamed", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize(
    ("model", "code", "reason", "retry_after", "quoted"),
    [
        (
            "fail-429",
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            Reason.RATE_LIMITED,
            7.0,
            "exceeded your current quota",
        ),
        ("fail-500", grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE, None, "internal error"),
        ("fail-503", grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE, None, "overloaded"),
        ("fail-400", grpc.StatusCode.INVALID_ARGUMENT, Reason.UPSTREAM_BAD_REQUEST, None, "invalid argument"),
        ("fail-404", grpc.StatusCode.NOT_FOUND, Reason.UPSTREAM_MODEL_NOT_FOUND, None, "is not found"),
        ("fail-html", grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE, None, "502 Bad Gateway"),
        (
            "malformed-call",
            grpc.StatusCode.UNAVAILABLE,
            Reason.UPSTREAM_ERROR,
            None,
            "MALFORMED_FUNCTION_CALL",
        ),
        ("inband-error", grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE, None, "upstream exploded"),
    ],
)
async def test_failures_on_cue(
    fake_gemini: Fake,
    model: str,
    code: grpc.StatusCode,
    reason: Reason,
    retry_after: float | None,
    quoted: str,
    streamed: bool,
) -> None:
    _, provider = fake_gemini
    error = await failure(provider, model, streamed)
    assert (error.code, error.reason, error.retry_after) == (code, reason, retry_after)
    assert quoted in error.message


async def test_a_cut_stream_is_interrupted(fake_gemini: Fake) -> None:
    _, provider = fake_gemini
    error = await failure(provider, "cut-stream", streamed=True)
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, Reason.STREAM_INTERRUPTED)


async def test_a_cut_unary_body_is_unavailable(fake_gemini: Fake) -> None:
    _, provider = fake_gemini
    error = await failure(provider, "cut-stream", streamed=False)
    assert error.code == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("streamed", [False, True], ids=["unary", "stream"])
async def test_a_rejected_key_is_about_the_provider_key_and_never_echoes_it(
    fake_gemini: Fake, streamed: bool
) -> None:
    """Gemini answers a bad key with 400 API_KEY_INVALID, and its DebugInfo quotes the key."""
    server, _ = fake_gemini
    wrong = "AIzaSyWRONG-planted-key-9999999999999999"
    provider = GeminiProvider(
        "gem", ProviderConfig(kind="gemini", base_url=server.url, api_key=SecretStr(wrong))
    )
    try:
        error = await failure(provider, "gemini-2.5-flash", streamed)
    finally:
        await provider.close()
    assert (error.code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, Reason.UPSTREAM_AUTH_FAILED)
    assert "api_key" in error.message
    assert wrong not in str(error.to_status()) and wrong not in repr(error)


async def test_a_missing_key_is_permission_denied(fake_gemini: Fake) -> None:
    server, _ = fake_gemini
    provider = GeminiProvider("gem", ProviderConfig(kind="gemini", base_url=server.url))
    try:
        error = await failure(provider, "gemini-2.5-flash", streamed=False)
    finally:
        await provider.close()
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, Reason.UPSTREAM_AUTH_FAILED)


async def test_a_slow_first_byte_past_the_deadline_is_a_timeout(fake_gemini: Fake) -> None:
    _, provider = fake_gemini
    with pytest.raises(GatewayError) as caught:
        await collect(provider.stream(user_request(), "slow-first-byte", timeout=0.3))
    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_TIMEOUT)


@pytest.mark.parametrize("model", ["safety", "blocked"])
@pytest.mark.parametrize("streamed", [False, True], ids=["unary", "stream"])
async def test_filtered_answers_finish_with_content_filter(
    fake_gemini: Fake, model: str, streamed: bool
) -> None:
    _, provider = fake_gemini
    if streamed:
        final = (await collect(provider.stream(user_request(), model, timeout=5)))[-1].final
        assert final.finish_reason == pb.FINISH_REASON_CONTENT_FILTER
    else:
        response = await provider.generate(user_request(), model, timeout=5)
        assert response.finish_reason == pb.FINISH_REASON_CONTENT_FILTER


@pytest.mark.parametrize(
    "model", ["gemini-2.0-flash", "gemini-2.5-flash", "gemini-3-pro-preview", "no-usage"]
)
@pytest.mark.parametrize("thoughts", [False, True])
async def test_streamed_and_unstreamed_agree(fake_gemini: Fake, model: str, thoughts: bool) -> None:
    _, provider = fake_gemini
    settings = ModelSettings(name="g", options={"include_thoughts": thoughts})
    for request in (user_request("Tell me about Paris"), weather_request()):
        unary = await provider.generate(request, model, timeout=5, settings=settings)
        chunks = await collect(provider.stream(request, model, timeout=5, settings=settings))
        final = chunks[-1].final
        assert final.usage == unary.usage
        assert final.finish_reason == unary.finish_reason
        text = "".join(c.delta.text for c in chunks[:-1])
        assert text == "".join(p.text for p in unary.message.content if p.HasField("text"))
        assert "".join(c.delta.reasoning for c in chunks[:-1]) == unary.message.reasoning
        assert bool(unary.message.reasoning) == (thoughts and model.startswith(("gemini-2.5", "gemini-3")))
        assert final.usage.estimated == (model == "no-usage")


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-3-pro-preview"])
async def test_tool_round_trip_carries_the_signature_back(fake_gemini: Fake, model: str) -> None:
    server, provider = fake_gemini
    request = weather_request()
    first = await provider.generate(request, model, timeout=5)
    assert first.finish_reason == pb.FINISH_REASON_TOOL_CALLS
    [call] = first.message.tool_calls
    assert (call.name, call.arguments) == ("get_weather", '{"city":"Paris"}')
    assert call.id.startswith("call_") and call.signature
    request.messages.append(first.message)
    request.messages.append(
        pb.Message(role=pb.ROLE_TOOL, tool_call_id=call.id, content=[pb.ContentPart(text='{"temp_c": 21}')])
    )
    second = await provider.generate(request, model, timeout=5)
    assert second.finish_reason == pb.FINISH_REASON_STOP
    assert second.message.content[0].text == 'fake-gemini: the tool said {"temp_c": 21}'
    sent = server.stats.last_request
    assert sent is not None
    model_turn = sent["body"]["contents"][1]
    assert model_turn == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": call.signature,
            }
        ],
    }
    assert sent["body"]["contents"][2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}
    ]


def foreign_history() -> pb.GenerateRequest:
    """A tool round trip begun on another model: the call has an OpenAI id and no signature."""
    request = weather_request()
    request.messages.append(
        pb.Message(
            role=pb.ROLE_ASSISTANT,
            tool_calls=[pb.ToolCall(id="call_abc123", name="get_weather", arguments='{"city": "Paris"}')],
        )
    )
    request.messages.append(
        pb.Message(role=pb.ROLE_TOOL, tool_call_id="call_abc123", content=[pb.ContentPart(text="21C")])
    )
    return request


async def test_a_foreign_tool_history_reaches_gemini_3(fake_gemini: Fake) -> None:
    _, provider = fake_gemini
    response = await provider.generate(foreign_history(), "gemini-3-pro-preview", timeout=5)
    assert response.message.content[0].text == 'fake-gemini: the tool said {"output": "21C"}'


async def test_without_the_fallback_gemini_3_refuses_an_unsigned_call(fake_gemini: Fake) -> None:
    _, provider = fake_gemini
    settings = ModelSettings(name="g", options={"thought_signature_fallback": False})
    with pytest.raises(GatewayError) as caught:
        await provider.generate(foreign_history(), "gemini-3-pro-preview", timeout=5, settings=settings)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "missing a thought_signature" in caught.value.message


async def test_json_schema_output(fake_gemini: Fake) -> None:
    _, provider = fake_gemini
    request = user_request("A user record please")
    request.response_format.type = pb.ResponseFormat.TYPE_JSON_SCHEMA
    request.response_format.schema.update(
        {"type": "object", "properties": {"age": {"type": "integer"}, "name": {"type": "string"}}}
    )
    response = await provider.generate(request, "gemini-2.5-flash", timeout=5)
    assert orjson.loads(response.message.content[0].text) == {"age": 42, "name": "Hello from fake-gemini"}


async def test_embeddings(fake_gemini: Fake) -> None:
    server, provider = fake_gemini
    request = pb.EmbedRequest(model="e", input=["first text", "second one here"], dimensions=8)
    response = await provider.embed(request, "gemini-embedding-001", timeout=5)
    assert [len(e.values) for e in response.embeddings] == [8, 8]
    assert response.embeddings[0].values != response.embeddings[1].values
    assert response.usage.estimated and response.usage.input_tokens == 5
    assert server.stats.by_path == {"/v1beta/models/gemini-embedding-001:batchEmbedContents": 1}


async def test_list_models(fake_gemini: Fake) -> None:
    _, provider = fake_gemini
    assert await provider.list_models(timeout=5) == sorted(DEFAULT_MODELS)


async def test_count_tokens_counts_the_system_instruction(fake_gemini: Fake) -> None:
    _, provider = fake_gemini
    bare = user_request("one two three")
    with_system = user_request("one two three")
    with_system.system = "Be terse please"
    assert await provider.count_tokens(bare, "gemini-2.5-flash", timeout=5) == 6
    assert await provider.count_tokens(with_system, "gemini-2.5-flash", timeout=5) == 12


async def test_requests_name_the_key_header_and_sse(fake_gemini: Fake) -> None:
    server, provider = fake_gemini
    await collect(provider.stream(user_request(), "gemini-2.5-flash", timeout=5))
    seen = server.stats.last_request
    assert seen is not None
    assert seen["path"] == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert seen["headers"]["x-goog-api-key"] == KEY


def test_the_fake_runs_as_a_process(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    command = [sys.executable, "-m", "tests.fakes.gemini_server", "--port", "0"]
    command += ["--port-file", str(port_file)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
    try:
        end = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text()):
            assert process.poll() is None and time.monotonic() < end
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port_file.read_text()}/v1beta/models"
        assert httpx.get(base).status_code == 403  # no key
        listed = httpx.get(base, headers={"x-goog-api-key": "any"}).json()
        assert "models/gemini-2.5-flash" in [m["name"] for m in listed["models"]]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
