"""The Ollama provider: canonical ⇄ Ollama's native API, both ways, against golden wire fixtures.

Fixtures in fixtures/ollama/ are the published examples of ollama/ollama
(docs/api.md, docs/api/streaming.mdx, docs/api/errors.mdx,
docs/capabilities/*.mdx), copied verbatim where the docs give a full body and
otherwise modelled on them with the field names of api/types.go. Each
`<case>.ollama.*` file is the wire side, `<case>.canonical.json` the proto
JSON of the canonical side. HTTP-level tests run the provider against a real
aiohttp server on 127.0.0.1 that serves those bytes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
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
from model_gateway.providers.ollama import (
    CHAT_PATH,
    GENERATE_PATH,
    OllamaProvider,
    StreamTranslator,
    chat_body,
    embed_body,
    embed_response,
    finish_reason,
    model_names,
    plain_json,
    request_body,
    response_from_chat,
    response_from_generate,
)
from model_gateway.tokens import count_request, count_text
from modelgateway.v1 import gateway_pb2 as pb

FIXTURES = Path(__file__).parent / "fixtures" / "ollama"
GENERATED_ID = re.compile(r"call_[0-9a-f]{24}")


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().splitlines()


def canonical_request(case: str) -> pb.GenerateRequest:
    return json_format.ParseDict(load(f"{case}.canonical.json"), pb.GenerateRequest())


def masked(calls: Iterable[pb.ToolCall | pb.ToolCallDelta]) -> None:
    """Ids the provider made up are random: check their shape, then compare them as '<generated>'."""
    for call in calls:
        if GENERATED_ID.fullmatch(call.id):
            call.id = "<generated>"


def expected_chunks(case: str) -> list[pb.StreamChunk]:
    return [json_format.ParseDict(chunk, pb.StreamChunk()) for chunk in load(f"{case}.canonical.json")]


def translate_stream(request: pb.GenerateRequest, raw_lines: list[bytes], chat: bool) -> list[pb.StreamChunk]:
    translator = StreamTranslator(request, chat=chat)
    chunks = [chunk for line in raw_lines for chunk in translator.feed(orjson.loads(line))]
    for chunk in chunks:
        masked(chunk.delta.tool_calls)
    return chunks


def user_request(text: str = "What is the weather in Tokyo?") -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model="tiny", messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])]
    )


# --- canonical → Ollama --------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "path"),
    [
        ("chat_tools_images", CHAT_PATH),  # history + tools + images + options + keep_alive/think
        ("chat_structured", CHAT_PATH),  # response_format json_schema → format: <schema>
        ("generate_raw", GENERATE_PATH),  # raw prompt, provider_options raw: true
        ("generate_json_mode", GENERATE_PATH),  # json_object → format: "json"
        ("generate_options", GENERATE_PATH),  # every option: sampling + provider_options.options
    ],
)
def test_request_matches_published_body(case: str, path: str) -> None:
    request = canonical_request(case)
    expected = load(f"{case}.ollama.json")

    got_path, body = request_body(request, expected["model"], stream=False)

    assert got_path == path
    assert body == expected
    assert orjson.loads(orjson.dumps(body)) == expected  # serialisable as sent


def test_struct_numbers_go_out_as_ints() -> None:
    body = request_body(canonical_request("generate_options"), "llama3.2", stream=False)[1]
    wire = orjson.dumps(body)

    for key in ("num_ctx", "num_keep", "num_batch", "num_thread", "repeat_last_n", "mirostat"):
        assert type(body["options"][key]) is int, key
    assert b'"num_ctx":1024' in wire
    assert b'"typical_p":0.7' in wire
    # Sampling fields keep their proto types: seed/top_k/num_predict are ints already.
    assert (body["options"]["seed"], body["options"]["top_k"], body["options"]["num_predict"]) == (
        42,
        20,
        100,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (4096.0, 4096),
        (-2.0, -2),
        (0.5, 0.5),
        (1e300, 1e300),  # too big to be an exact int: stays a float orjson can write
        ({"a": [1.0, 2.5, {"b": 3.0}]}, {"a": [1, 2.5, {"b": 3}]}),
        (True, True),
        ("5m", "5m"),
    ],
)
def test_plain_json(value: Any, expected: Any) -> None:
    result = plain_json(value)
    assert result == expected
    assert type(result) is type(expected)
    orjson.dumps(result)


def test_stream_flag_is_always_explicit() -> None:
    # Ollama streams by default, so stream=false must be sent, and true as well for clarity.
    assert request_body(user_request(), "m", stream=True)[1]["stream"] is True
    assert request_body(user_request(), "m", stream=False)[1]["stream"] is False


def test_canonical_fields_win_over_provider_options() -> None:
    request = user_request()
    request.sampling.temperature = 0.2
    request.provider_options.update(
        {
            "model": "other",
            "stream": True,
            "format": "json",
            "keep_alive": -1,
            "options": {"temperature": 0.9, "num_ctx": 8192},
        }
    )

    body = chat_body(request, "llama3.2", stream=False)

    assert body["model"] == "llama3.2"
    assert body["stream"] is False
    assert body["options"] == {"temperature": 0.2, "num_ctx": 8192}
    assert body["format"] == "json"  # the gateway set no format, so the pass-through one applies
    assert body["keep_alive"] == -1

    request.response_format.type = pb.ResponseFormat.TYPE_JSON_SCHEMA
    request.response_format.schema.update({"type": "object"})
    assert chat_body(request, "llama3.2", stream=False)["format"] == {"type": "object"}


def test_provider_options_options_must_be_an_object() -> None:
    request = user_request()
    request.provider_options.update({"options": "fast"})
    with pytest.raises(GatewayError) as caught:
        chat_body(request, "m", stream=False)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.metadata["field"] == "provider_options.options"


def _two_tools(mode: pb.ToolChoice.Mode.ValueType, function_name: str = "") -> pb.GenerateRequest:
    request = user_request()
    request.tools.add(name="get_weather", description="Weather")
    request.tools.add(name="get_time", description="Time")
    request.tool_choice.mode = mode
    request.tool_choice.function_name = function_name
    return request


def test_tool_choice() -> None:
    auto = chat_body(_two_tools(pb.ToolChoice.MODE_AUTO), "m", stream=False)
    assert [t["function"]["name"] for t in auto["tools"]] == ["get_weather", "get_time"]
    # No parameters given: an empty object schema, which Ollama's Tool type expects.
    assert auto["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert "tools" not in chat_body(_two_tools(pb.ToolChoice.MODE_NONE), "m", stream=False)
    only = chat_body(_two_tools(pb.ToolChoice.MODE_FUNCTION, "get_time"), "m", stream=False)
    assert [t["function"]["name"] for t in only["tools"]] == ["get_time"]


def test_tool_result_uses_its_own_name_first() -> None:
    request = user_request()
    request.messages.add(role=pb.ROLE_TOOL, name="get_time", content=[pb.ContentPart(text="noon")])
    message = chat_body(request, "m", stream=False)["messages"][1]
    assert message == {"role": "tool", "content": "noon", "tool_name": "get_time"}


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [("{city: Tokyo}", "is not valid JSON"), ('["Tokyo"]', "must be a JSON object")],
)
def test_tool_call_arguments_must_be_a_json_object(arguments: str, problem: str) -> None:
    request = user_request()
    request.messages.add(
        role=pb.ROLE_ASSISTANT, tool_calls=[pb.ToolCall(id="c1", name="get_weather", arguments=arguments)]
    )
    with pytest.raises(GatewayError) as caught:
        chat_body(request, "m", stream=False)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.reason == Reason.INVALID_REQUEST
    assert caught.value.metadata["field"] == "messages[1].tool_calls[0].arguments"
    assert caught.value.message.startswith("messages[1].tool_calls[0].arguments: " + problem)


@pytest.mark.parametrize(
    ("image", "field", "problem"),
    [
        (
            pb.ImagePart(url="https://example.com/cat.png"),
            "messages[0].content[1].image.url",
            "not https URLs",
        ),
        (
            pb.ImagePart(url="data:image/png;base64,%%%"),
            "messages[0].content[1].image.url",
            "not valid base64",
        ),
        (pb.ImagePart(url="data:image/png;base64"), "messages[0].content[1].image.url", "without a ','"),
        (pb.ImagePart(mime_type="image/png"), "messages[0].content[1].image", "neither url nor data"),
    ],
)
def test_images_ollama_cannot_take(image: pb.ImagePart, field: str, problem: str) -> None:
    request = user_request("what is this?")
    request.messages[0].content.add(image=image)
    with pytest.raises(GatewayError) as caught:
        chat_body(request, "llava", stream=False)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.metadata["field"] == field
    assert problem in caught.value.message


def test_percent_encoded_data_url_is_sent_as_base64() -> None:
    request = user_request("what is this?")
    request.messages[0].content.add(image=pb.ImagePart(url="data:image/svg+xml,%3Csvg%2F%3E"))
    assert chat_body(request, "llava", stream=False)["messages"][0]["images"] == ["PHN2Zy8+"]  # "<svg/>"


def test_raw_prompt_cannot_use_tools() -> None:
    request = pb.GenerateRequest(model="m", prompt="hi", tools=[pb.Tool(name="get_weather")])
    with pytest.raises(GatewayError) as caught:
        request_body(request, "m", stream=False)
    assert caught.value.metadata["field"] == "tools"


def test_raw_prompt_with_system() -> None:
    request = pb.GenerateRequest(model="m", prompt="Why is the sky blue?", system="Be brief.")
    assert request_body(request, "llama3.2", stream=True) == (
        GENERATE_PATH,
        {"model": "llama3.2", "prompt": "Why is the sky blue?", "stream": True, "system": "Be brief."},
    )


def test_embed_body() -> None:
    request = json_format.ParseDict(load("embed_request.canonical.json"), pb.EmbedRequest())
    assert embed_body(request, "all-minilm") == load("embed_request.ollama.json")
    plain = pb.EmbedRequest(model="x", input=["a"])
    assert embed_body(plain, "all-minilm") == {"model": "all-minilm", "input": ["a"]}


# --- Ollama → canonical --------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "chat"),
    [
        ("chat_response_tools", True),  # tool call with no id: one is made up
        ("chat_response_structured", True),
        ("chat_response_thinking", True),  # thinking → reasoning, done_reason length
        ("chat_response_tool_ids", True),  # newer servers' ids are kept
        ("generate_response", False),  # no done_reason at all → stop
    ],
)
def test_reply_matches_canonical(case: str, chat: bool) -> None:
    translate = response_from_chat if chat else response_from_generate
    response = translate(load(f"{case}.ollama.json"), user_request())
    masked(response.message.tool_calls)
    assert response == json_format.ParseDict(load(f"{case}.canonical.json"), pb.GenerateResponse())


def test_generated_tool_call_ids_are_unique() -> None:
    reply = load("chat_response_tools.ollama.json")
    first = response_from_chat(reply, user_request()).message.tool_calls[0].id
    second = response_from_chat(reply, user_request()).message.tool_calls[0].id
    assert GENERATED_ID.fullmatch(first) and GENERATED_ID.fullmatch(second)
    assert first != second


def test_missing_counter_is_estimated_alone() -> None:
    # A prompt served from Ollama's cache omits prompt_eval_count (omitempty).
    reply = load("chat_response_structured.ollama.json")
    del reply["prompt_eval_count"]
    request = canonical_request("chat_structured")

    usage = response_from_chat(reply, request).usage

    assert usage.estimated
    assert usage.input_tokens == count_request(request) > 0
    assert usage.output_tokens == 12  # the reported half is kept
    assert usage.total_tokens == usage.input_tokens + 12


def test_load_reply_without_counters() -> None:
    reply = {
        "model": "llama3.2",
        "created_at": "2024-09-12T21:17:29.110811Z",
        "message": {"role": "assistant", "content": ""},
        "done_reason": "load",
        "done": True,
    }
    response = response_from_chat(reply, user_request())
    assert response.finish_reason == pb.FINISH_REASON_STOP
    assert list(response.message.content) == []
    assert response.usage.estimated
    assert response.usage.output_tokens == 0
    assert response.timings == pb.Timings()


@pytest.mark.parametrize(
    ("done_reason", "tool_calls", "expected"),
    [
        ("stop", False, pb.FINISH_REASON_STOP),
        ("length", False, pb.FINISH_REASON_LENGTH),
        ("load", False, pb.FINISH_REASON_STOP),
        ("unload", False, pb.FINISH_REASON_STOP),
        ("something-new", False, pb.FINISH_REASON_STOP),
        (None, False, pb.FINISH_REASON_STOP),
        ("stop", True, pb.FINISH_REASON_TOOL_CALLS),
    ],
)
def test_finish_reason(done_reason: str | None, tool_calls: bool, expected: int) -> None:
    assert finish_reason(done_reason, tool_calls) == expected


@pytest.mark.parametrize("case", ["chat_stream", "chat_stream_tools", "chat_stream_thinking_tools"])
def test_chat_stream_matches_canonical(case: str) -> None:
    chunks = translate_stream(user_request(), lines(f"{case}.ollama.ndjson"), chat=True)
    assert chunks == expected_chunks(case)


def test_generate_stream_equals_the_unstreamed_reply() -> None:
    # docs/api/streaming.mdx: the done line still carries text ("!") and no counters.
    request = pb.GenerateRequest(model="gemma4", prompt="Is this a good question?")
    chunks = translate_stream(request, lines("generate_stream.ollama.ndjson"), chat=False)
    unstreamed = response_from_generate(load("generate_unstreamed.ollama.json"), request)

    texts = [chunk.delta.text for chunk in chunks if chunk.HasField("delta")]
    assert texts == ["That", "'", "s", " a", " fantastic", " question", "!"]
    assert [chunk.WhichOneof("kind") for chunk in chunks][-1] == "final"
    final = chunks[-1].final
    assert final.finish_reason == unstreamed.finish_reason == pb.FINISH_REASON_STOP
    assert final.usage == unstreamed.usage
    assert final.usage.estimated
    assert final.usage.output_tokens == count_text("That's a fantastic question!")


def test_repeated_or_missing_tool_call_index_gets_the_next_one() -> None:
    # Parsers that never set function.index send 0 for every call; clients merge deltas by index.
    def call(name: str, index: int | None) -> dict[str, Any]:
        function: dict[str, Any] = {"name": name, "arguments": {"city": "Paris"}}
        if index is not None:
            function["index"] = index
        return {"message": {"role": "assistant", "content": "", "tool_calls": [{"function": function}]}}

    translator = StreamTranslator(user_request(), chat=True)
    indices = [
        delta.index
        for obj in (call("a", 0), call("b", 0), call("c", None), call("d", 7))
        for chunk in translator.feed({**obj, "done": False})
        for delta in chunk.delta.tool_calls
    ]
    assert indices == [0, 1, 2, 7]


def test_nothing_is_accepted_after_the_done_line() -> None:
    translator = StreamTranslator(user_request(), chat=True)
    translator.feed({"message": {"role": "assistant", "content": ""}, "done": True})
    with pytest.raises(ValueError):
        translator.feed({"message": {"role": "assistant", "content": "late"}, "done": False})


def test_embed_reply() -> None:
    request = pb.EmbedRequest(model="all-minilm", input=["Why is the sky blue?"])
    response = embed_response(load("embed_response.ollama.json"), request)
    assert list(response.embeddings[0].values) == pytest.approx(
        load("embed_response.ollama.json")["embeddings"][0], rel=1e-6
    )
    assert response.usage == pb.Usage(input_tokens=8, total_tokens=8)

    multi = pb.EmbedRequest(model="all-minilm", input=["Why is the sky blue?", "Why is the grass green?"])
    response = embed_response(load("embed_response_multi.ollama.json"), multi)
    assert len(response.embeddings) == 2
    assert response.embeddings[1].values[0] == pytest.approx(-0.0098027075)
    expected_tokens = count_text("Why is the sky blue?") + count_text("Why is the grass green?")
    assert response.usage == pb.Usage(
        input_tokens=expected_tokens, total_tokens=expected_tokens, estimated=True
    )

    with pytest.raises(ValueError, match="2 embeddings for 1 inputs"):
        embed_response(load("embed_response_multi.ollama.json"), request)


def test_model_names() -> None:
    assert model_names(load("tags.ollama.json")) == ["deepseek-r1:latest", "llama3.2:latest"]
    assert model_names({"models": [{"model": "only-model-key:latest"}]}) == ["only-model-key:latest"]


# --- over HTTP: a real aiohttp server on loopback -------------------------------


@dataclass
class Reply:
    body: bytes
    status: int = 200
    ndjson: bool = False


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeOllama:
    """Serves canned bytes per path and records what the provider sent."""

    replies: dict[str, Reply] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.seen.append(
            Seen(request.method, request.path, dict(request.headers), orjson.loads(raw) if raw else None)
        )
        reply = self.replies[request.path]
        if not reply.ndjson:
            return web.Response(status=reply.status, body=reply.body, content_type="application/json")
        response = web.StreamResponse(status=reply.status, headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        # Every line in two writes, so the provider has to reassemble lines across reads.
        for line in reply.body.splitlines(keepends=True):
            await response.write(line[: len(line) // 2])
            await response.write(line[len(line) // 2 :])
        await response.write_eof()
        return response


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOllama]:
    fake = FakeOllama()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    fake.url = str(server.make_url("/")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


@pytest.fixture
async def provider(upstream: FakeOllama) -> AsyncIterator[OllamaProvider]:
    config = ProviderConfig(kind="ollama", base_url=upstream.url, api_key=SecretStr("sk-test"), timeout_s=10)
    ollama = OllamaProvider("local", config)
    try:
        yield ollama
    finally:
        await ollama.close()


def serve(upstream: FakeOllama, path: str, fixture: str, status: int = 200) -> None:
    raw = (FIXTURES / fixture).read_bytes()
    upstream.replies[path] = Reply(raw, status, ndjson=fixture.endswith(".ndjson"))


async def collect(
    provider: OllamaProvider, request: pb.GenerateRequest, model: str = "llama3.2"
) -> tuple[list[pb.StreamChunk], GatewayError | None]:
    chunks: list[pb.StreamChunk] = []
    try:
        async for chunk in provider.stream(request, model, timeout=5):
            masked(chunk.delta.tool_calls)
            chunks.append(chunk)
    except GatewayError as exc:
        return chunks, exc
    return chunks, None


async def test_generate_over_http(upstream: FakeOllama, provider: OllamaProvider) -> None:
    serve(upstream, CHAT_PATH, "chat_response_tools.ollama.json")
    request = user_request()

    response = await provider.generate(request, "llama3.2", timeout=5)

    masked(response.message.tool_calls)
    assert response == json_format.ParseDict(
        load("chat_response_tools.canonical.json"), pb.GenerateResponse()
    )
    (seen,) = upstream.seen
    assert (seen.method, seen.path) == ("POST", CHAT_PATH)
    assert seen.body == chat_body(request, "llama3.2", stream=False)
    assert seen.headers["Authorization"] == "Bearer sk-test"
    assert provider.address == upstream.url


async def test_raw_prompt_over_http_without_a_key(upstream: FakeOllama) -> None:
    serve(upstream, GENERATE_PATH, "generate_response.ollama.json")
    ollama = OllamaProvider("local", ProviderConfig(kind="ollama", base_url=upstream.url))
    try:
        response = await ollama.generate(canonical_request("generate_raw"), "mistral", timeout=5)
    finally:
        await ollama.close()

    assert response.message.content[0].text == "The sky is blue because it is the color of the sky."
    (seen,) = upstream.seen
    assert seen.path == GENERATE_PATH
    assert seen.body == load("generate_raw.ollama.json")
    assert "Authorization" not in seen.headers


@pytest.mark.parametrize("case", ["chat_stream", "chat_stream_tools", "chat_stream_thinking_tools"])
async def test_stream_over_http(upstream: FakeOllama, provider: OllamaProvider, case: str) -> None:
    serve(upstream, CHAT_PATH, f"{case}.ollama.ndjson")
    request = user_request()

    chunks, error = await collect(provider, request)

    assert error is None
    assert chunks == expected_chunks(case)
    assert upstream.seen[0].body == chat_body(request, "llama3.2", stream=True)


async def test_generate_stream_over_http(upstream: FakeOllama, provider: OllamaProvider) -> None:
    serve(upstream, GENERATE_PATH, "generate_stream.ollama.ndjson")
    chunks, error = await collect(provider, pb.GenerateRequest(model="gemma4", prompt="Hi"), "gemma4")
    assert error is None
    assert "".join(c.delta.text for c in chunks) == "That's a fantastic question!"
    assert chunks[-1].final.finish_reason == pb.FINISH_REASON_STOP
    assert upstream.seen[0].body == {"model": "gemma4", "prompt": "Hi", "stream": True}


async def test_in_band_stream_error(upstream: FakeOllama, provider: OllamaProvider) -> None:
    # docs/api/errors.mdx: text lines, then {"error": ...} with the status still 200.
    serve(upstream, GENERATE_PATH, "generate_stream_error.ollama.ndjson")

    chunks, error = await collect(provider, pb.GenerateRequest(model="gemma4", prompt="Hi"), "gemma4")

    assert [c.delta.text for c in chunks] == [" Yes", ".", "I", "can"]
    assert error is not None
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert error.reason == Reason.UPSTREAM_ERROR
    assert "an error was encountered while running the model" in error.message


async def test_stream_without_done_line_is_interrupted(
    upstream: FakeOllama, provider: OllamaProvider
) -> None:
    upstream.replies[CHAT_PATH] = Reply(
        b"\n".join(lines("chat_stream.ollama.ndjson")[:-1]) + b"\n", ndjson=True
    )

    chunks, error = await collect(provider, user_request())

    assert [c.delta.text for c in chunks] == ["The", " sky", " is blue because of Rayleigh scattering."]
    assert error is not None
    assert error.reason == Reason.STREAM_INTERRUPTED
    assert "done" in error.message


async def test_stream_line_that_is_not_json(upstream: FakeOllama, provider: OllamaProvider) -> None:
    first = lines("chat_stream.ollama.ndjson")[0]
    upstream.replies[CHAT_PATH] = Reply(first + b"\n<html>502 Bad Gateway</html>\n", ndjson=True)

    chunks, error = await collect(provider, user_request())

    assert [c.delta.text for c in chunks] == ["The"]
    assert error is not None
    assert error.reason == Reason.UPSTREAM_ERROR
    assert "not JSON" in error.message


async def test_error_body_in_a_200_reply(upstream: FakeOllama, provider: OllamaProvider) -> None:
    upstream.replies[CHAT_PATH] = Reply(b'{"error":"the model failed to generate a response"}')
    with pytest.raises(GatewayError) as caught:
        await provider.generate(user_request(), "llama3.2", timeout=5)
    assert caught.value.reason == Reason.UPSTREAM_ERROR
    assert "the model failed to generate a response" in caught.value.message


@pytest.mark.parametrize("streamed", [False, True])
async def test_unknown_model_maps_through_the_shared_table(
    upstream: FakeOllama, provider: OllamaProvider, streamed: bool
) -> None:
    upstream.replies[CHAT_PATH] = Reply(b'{"error":"model \\"nope\\" not found, try pulling it first"}', 404)
    if streamed:
        _, error = await collect(provider, user_request(), "nope")
    else:
        with pytest.raises(GatewayError) as caught:
            await provider.generate(user_request(), "nope", timeout=5)
        error = caught.value
    assert error is not None
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert error.reason == Reason.UPSTREAM_MODEL_NOT_FOUND
    assert 'model "nope" not found' in error.message


async def test_bad_request_never_reaches_upstream(upstream: FakeOllama, provider: OllamaProvider) -> None:
    request = user_request()
    request.messages.add(role=pb.ROLE_ASSISTANT, tool_calls=[pb.ToolCall(name="f", arguments="not json")])

    with pytest.raises(GatewayError) as caught:
        await provider.generate(request, "llama3.2", timeout=5)
    assert caught.value.metadata["field"] == "messages[1].tool_calls[0].arguments"
    _, error = await collect(provider, request)
    assert error is not None and error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert upstream.seen == []


async def test_embed_over_http(upstream: FakeOllama, provider: OllamaProvider) -> None:
    serve(upstream, "/api/embed", "embed_response_multi.ollama.json")
    request = json_format.ParseDict(load("embed_request.canonical.json"), pb.EmbedRequest())

    response = await provider.embed(request, "all-minilm", timeout=5)

    assert upstream.seen[0].body == load("embed_request.ollama.json")
    assert [len(e.values) for e in response.embeddings] == [10, 10]
    assert response.usage.estimated


async def test_list_models_and_show_over_http(upstream: FakeOllama, provider: OllamaProvider) -> None:
    serve(upstream, "/api/tags", "tags.ollama.json")
    serve(upstream, "/api/show", "show.ollama.json")

    assert await provider.list_models(timeout=5) == ["deepseek-r1:latest", "llama3.2:latest"]
    shown = await provider.show("llama3.2", timeout=5)

    assert shown == load("show.ollama.json")
    assert shown["capabilities"] == ["completion", "vision"]
    assert [(s.method, s.path, s.body) for s in upstream.seen] == [
        ("GET", "/api/tags", None),
        ("POST", "/api/show", {"model": "llama3.2"}),
    ]


async def test_reply_of_the_wrong_shape_is_a_protocol_error(
    upstream: FakeOllama, provider: OllamaProvider
) -> None:
    upstream.replies[CHAT_PATH] = Reply(b'{"message": "not an object", "done": true}')
    with pytest.raises(GatewayError) as caught:
        await provider.generate(user_request(), "llama3.2", timeout=5)
    assert caught.value.reason == Reason.UPSTREAM_ERROR
    assert "message is not a JSON object" in caught.value.message
