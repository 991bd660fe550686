"""The Ollama surface: Ollama bodies ⇄ canonical messages, judged by the `ollama` client's own types.

The pure translators are checked table by table; the routes are driven
in-process by the real `ollama.AsyncClient` (over httpx's ASGI transport)
against a scripted gRPC ModelGateway servicer on loopback.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import ollama
import orjson
import pytest
from fastapi import FastAPI
from google.protobuf import json_format
from grpc import aio
from starlette.requests import Request
from starlette.responses import Response

from model_gateway_bridge.client import GatewayClient
from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.state import BridgeState
from model_gateway_bridge.surfaces import ollama as surface
from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
PNG_B64 = base64.b64encode(PNG).decode()


def as_dict(message: Any) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(message)
    return result


def user(text: str) -> pb.Message:
    return pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])


# --- Ollama request → canonical ---------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

CHAT_CASES: list[tuple[str, dict[str, Any], pb.GenerateRequest]] = [
    (
        "plain",
        {"model": "llama3.2", "messages": [{"role": "user", "content": "why is the sky blue?"}]},
        pb.GenerateRequest(model="llama3.2", messages=[user("why is the sky blue?")]),
    ),
    (
        "roles, thinking and images",
        {
            "model": "llava",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "what is this?", "images": [PNG_B64]},
                {"role": "assistant", "content": "a pixel", "thinking": "tiny png"},
            ],
        },
        pb.GenerateRequest(
            model="llava",
            messages=[
                pb.Message(role=pb.ROLE_SYSTEM, content=[pb.ContentPart(text="be brief")]),
                pb.Message(
                    role=pb.ROLE_USER,
                    content=[
                        pb.ContentPart(text="what is this?"),
                        pb.ContentPart(image=pb.ImagePart(data=PNG)),
                    ],
                ),
                pb.Message(
                    role=pb.ROLE_ASSISTANT, content=[pb.ContentPart(text="a pixel")], reasoning="tiny png"
                ),
            ],
        ),
    ),
    (
        "tool round trip: ids made up and results paired by tool_name",
        {
            "model": "llama3.2",
            "messages": [
                {"role": "user", "content": "weather in Paris and Rome?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                        {"function": {"name": "get_time", "arguments": {}}},
                    ],
                },
                {"role": "tool", "content": "noon", "tool_name": "get_time"},
                {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
            ],
            "tools": [WEATHER_TOOL],
        },
        pb.GenerateRequest(
            model="llama3.2",
            messages=[
                user("weather in Paris and Rome?"),
                pb.Message(
                    role=pb.ROLE_ASSISTANT,
                    tool_calls=[
                        pb.ToolCall(id="call_1_0", name="get_weather", arguments='{"city":"Paris"}'),
                        pb.ToolCall(id="call_1_1", name="get_time", arguments="{}"),
                    ],
                ),
                pb.Message(
                    role=pb.ROLE_TOOL,
                    content=[pb.ContentPart(text="noon")],
                    name="get_time",
                    tool_call_id="call_1_1",
                ),
                pb.Message(
                    role=pb.ROLE_TOOL,
                    content=[pb.ContentPart(text="sunny")],
                    name="get_weather",
                    tool_call_id="call_1_0",
                ),
            ],
            tools=[
                pb.Tool(
                    name="get_weather",
                    description="Weather for a city",
                    parameters=json_format.ParseDict(
                        WEATHER_TOOL["function"]["parameters"],  # type: ignore[index]
                        pb.Tool().parameters,
                    ),
                )
            ],
        ),
    ),
    (
        "given ids win; a bare tool result answers the next call",
        {
            "model": "m",
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "call_x", "function": {"name": "f", "arguments": '{"a":1}'}}],
                },
                {"role": "tool", "content": "1"},
            ],
        },
        pb.GenerateRequest(
            model="m",
            messages=[
                pb.Message(
                    role=pb.ROLE_ASSISTANT,
                    tool_calls=[pb.ToolCall(id="call_x", name="f", arguments='{"a":1}')],
                ),
                pb.Message(
                    role=pb.ROLE_TOOL, content=[pb.ContentPart(text="1")], name="f", tool_call_id="call_x"
                ),
            ],
        ),
    ),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CHAT_CASES], ids=[c[0] for c in CHAT_CASES])
def test_chat_request(body: dict[str, Any], expected: pb.GenerateRequest) -> None:
    parsed = surface.chat_request(body)
    assert parsed.stream is True  # Ollama streams unless told not to
    assert parsed.load is None
    assert as_dict(parsed.request) == as_dict(expected)


def test_options_fill_sampling_and_pass_through_whole() -> None:
    options = {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "num_predict": 128,
        "stop": ["\n", "user:"],
        "seed": 42,
        "presence_penalty": 1.5,
        "frequency_penalty": 1.0,
        "num_ctx": 4096,
        "mirostat": 1,
    }
    body = {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "hi"}],
        "options": options,
        "keep_alive": "10m",
        "think": True,
        "stream": False,
        "format": "json",
    }
    parsed = surface.chat_request(body)
    request = parsed.request
    assert parsed.stream is False
    assert as_dict(request.sampling) == {
        "temperature": 0.2,
        "topP": 0.9,
        "topK": 40,
        "maxTokens": 128,
        "stop": ["\n", "user:"],
        "seed": "42",
        "presencePenalty": 1.5,
        "frequencyPenalty": 1.0,
    }
    assert json_format.MessageToDict(request.provider_options) == {
        "options": {**options, "top_k": 40.0, "num_predict": 128.0, "seed": 42.0, "num_ctx": 4096.0},
        "keep_alive": "10m",
        "think": True,
    }
    assert request.response_format.type == pb.ResponseFormat.TYPE_JSON_OBJECT


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"num_predict": -1}, {}),  # unlimited
        ({"num_predict": -2}, {}),  # fill the context
        ({"num_predict": 64.0}, {"maxTokens": 64}),  # Go reads every option number as a float
        ({"seed": -1}, {}),  # a random seed
        ({"top_k": 0}, {}),  # top-k off
        ({"stop": "END"}, {"stop": ["END"]}),
        ({"temperature": 0}, {"temperature": 0.0}),
    ],
)
def test_sampling_edges(options: dict[str, Any], expected: dict[str, Any]) -> None:
    sampling = surface.sampling(options)
    assert json_format.MessageToDict(sampling) == expected
    if not expected:
        assert not sampling.HasField("max_tokens") and not sampling.HasField("seed")


def test_format_schema_and_no_extras_when_none_given() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    request = surface.chat_request(
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "format": schema}
    ).request
    assert request.response_format.type == pb.ResponseFormat.TYPE_JSON_SCHEMA
    assert json_format.MessageToDict(request.response_format.schema) == schema
    # No options, no keep_alive: nothing for OpenAI-style upstreams to trip on.
    assert not request.HasField("provider_options")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"model": "llama3.2", "prompt": "Why is the sky blue?", "system": "be brief"},
            pb.GenerateRequest(model="llama3.2", prompt="Why is the sky blue?", system="be brief"),
        ),
        (
            {"model": "llava", "prompt": "What is in this picture?", "images": [PNG_B64], "system": "s"},
            pb.GenerateRequest(
                model="llava",
                messages=[
                    pb.Message(role=pb.ROLE_SYSTEM, content=[pb.ContentPart(text="s")]),
                    pb.Message(
                        role=pb.ROLE_USER,
                        content=[
                            pb.ContentPart(text="What is in this picture?"),
                            pb.ContentPart(image=pb.ImagePart(data=PNG)),
                        ],
                    ),
                ],
            ),
        ),
    ],
    ids=["prompt", "images become messages"],
)
def test_generate_request(body: dict[str, Any], expected: pb.GenerateRequest) -> None:
    parsed = surface.generate_request(body)
    assert parsed.load is None
    assert as_dict(parsed.request) == as_dict(expected)


def test_generate_passes_raw_suffix_template_through() -> None:
    body = {
        "model": "codellama:code",
        "prompt": "def gcd(a, b):",
        "suffix": "    return result",
        "raw": True,
        "template": "{{ .Prompt }}",
        "keep_alive": 0,
        "options": {"temperature": 0},
    }
    request = surface.generate_request(body).request
    assert json_format.MessageToDict(request.provider_options) == {
        "suffix": "    return result",
        "raw": True,
        "template": "{{ .Prompt }}",
        "keep_alive": 0.0,
        "options": {"temperature": 0.0},
    }


@pytest.mark.parametrize(
    ("parse", "body", "load"),
    [
        (surface.generate_request, {"model": "llama3.2"}, "load"),
        (surface.generate_request, {"model": "llama3.2", "prompt": "", "keep_alive": 0}, "unload"),
        (surface.generate_request, {"model": "llama3.2", "keep_alive": "0s"}, "unload"),
        (surface.generate_request, {"model": "llama3.2", "keep_alive": "5m"}, "load"),
        (surface.generate_request, {"model": "llama3.2", "keep_alive": -1}, "load"),  # forever
        (surface.generate_request, {"model": "llama3.2", "keep_alive": "0.0m"}, "unload"),
        (surface.chat_request, {"model": "llama3.2", "messages": []}, "load"),
        (surface.chat_request, {"model": "llama3.2"}, "load"),
        (surface.chat_request, {"model": "llama3.2", "messages": [], "keep_alive": 0}, "unload"),
    ],
)
def test_empty_requests_only_load(parse: Any, body: dict[str, Any], load: str) -> None:
    assert parse(body).load == load


BAD_BODIES: list[tuple[Any, dict[str, Any], str]] = [
    (surface.chat_request, {"messages": []}, "model is required"),
    (surface.chat_request, {"model": ""}, "model is required"),
    (surface.chat_request, {"model": 3}, "invalid model: expected a string, got 3"),
    (
        surface.chat_request,
        {"model": "m", "options": {"temperature": "hot"}},
        'invalid options.temperature: expected a number, got "hot"',
    ),
    (
        surface.chat_request,
        {"model": "m", "options": {"num_predict": 1.5}},
        "invalid options.num_predict: expected an integer, got 1.5",
    ),
    (
        surface.chat_request,
        {"model": "m", "options": {"top_k": True}},
        "invalid options.top_k: expected an integer, got true",
    ),
    (
        surface.chat_request,
        {"model": "m", "options": {"stop": ["a", 1]}},
        "invalid options.stop[1]: expected a string, got 1",
    ),
    (surface.chat_request, {"model": "m", "options": [1]}, "invalid options: expected an object, got [1]"),
    (
        surface.chat_request,
        {"model": "m", "stream": "yes"},
        'invalid stream: expected true or false, got "yes"',
    ),
    (
        surface.chat_request,
        {"model": "m", "format": "xml"},
        'invalid format: expected "json" or a JSON schema',
    ),
    (surface.chat_request, {"model": "m", "keep_alive": [1]}, "invalid keep_alive: expected a duration"),
    (surface.chat_request, {"model": "m", "messages": {"a": 1}}, "invalid messages: expected a list"),
    (
        surface.chat_request,
        {"model": "m", "messages": [{"role": "robot", "content": "x"}]},
        'invalid messages[0].role: unknown role "robot"',
    ),
    (
        surface.chat_request,
        {"model": "m", "messages": [{"role": "user", "content": ["x"]}]},
        'invalid messages[0].content: expected a string, got ["x"]',
    ),
    (
        surface.chat_request,
        {"model": "m", "messages": [{"role": "user", "content": "x", "images": [PNG_B64, "not base64!"]}]},
        "invalid messages[0].images[1]: not valid base64 image data",
    ),
    (
        surface.chat_request,
        {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": 1}}]}]},
        "invalid messages[0].tool_calls[0].function.arguments: expected an object, got 1",
    ),
    (surface.chat_request, {"model": "m", "tools": [{"function": "f"}]}, "invalid tools[0].function"),
    (surface.generate_request, {"model": "m", "prompt": 42}, "invalid prompt: expected a string, got 42"),
    (
        surface.generate_request,
        {"model": "m", "prompt": "x", "raw": "1"},
        "invalid raw: expected true or false",
    ),
    (surface.generate_request, {"model": "m", "images": ["%%%"]}, "invalid images[0]: not valid base64"),
    (surface.embed_request, {"model": "m", "input": 5}, "invalid input: expected a list, got 5"),
    (surface.embed_request, {"model": "m", "input": ["a", 5]}, "invalid input[1]: expected a string, got 5"),
    (surface.embed_request, {"model": "m", "input": "a", "dimensions": "big"}, "invalid dimensions"),
    (surface.embed_request, {"input": "a"}, "model is required"),
]


@pytest.mark.parametrize(("parse", "body", "message"), BAD_BODIES)
def test_bad_bodies_are_400_naming_field_and_value(parse: Any, body: dict[str, Any], message: str) -> None:
    with pytest.raises(BridgeError) as caught:
        parse(body)
    assert caught.value.status == 400
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("body", "inputs", "extra"),
    [
        ({"model": "e", "input": "Why is the sky blue?"}, ["Why is the sky blue?"], {}),
        ({"model": "e", "input": ["a", "b"], "truncate": False, "dimensions": 8}, ["a", "b"], {}),
        (
            {"model": "e", "input": [], "keep_alive": "1m", "options": {"num_ctx": 8}},
            [],
            {"keep_alive": "1m"},
        ),
    ],
)
def test_embed_request(body: dict[str, Any], inputs: list[str], extra: dict[str, Any]) -> None:
    request = surface.embed_request(body)
    assert list(request.input) == inputs
    if "truncate" in body:
        assert request.HasField("truncate") and request.truncate is False
        assert request.dimensions == 8
    for key, value in extra.items():
        assert json_format.MessageToDict(request.provider_options)[key] == value


def test_legacy_embeddings_request() -> None:
    request = surface.embeddings_request({"model": "e", "prompt": "Here is an article about llamas..."})
    assert list(request.input) == ["Here is an article about llamas..."]


# --- canonical → Ollama reply -----------------------------------------------


def test_created_at_is_go_rfc3339_nano() -> None:
    assert surface.created_at(1_691_176_965_499_127_000) == "2023-08-04T19:22:45.499127Z"
    assert surface.created_at(1_691_176_965_000_000_000) == "2023-08-04T19:22:45Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", surface.created_at())


def final_response(**fields: Any) -> pb.GenerateResponse:
    base: dict[str, Any] = {
        "model": "llama3.2",
        "message": pb.Message(role=pb.ROLE_ASSISTANT, content=[pb.ContentPart(text="Hello!")]),
        "finish_reason": pb.FINISH_REASON_STOP,
        "usage": pb.Usage(input_tokens=26, output_tokens=298, total_tokens=324),
    }
    base.update(fields)
    return pb.GenerateResponse(**base)


def test_non_streamed_chat_reply_parses_as_chat_response() -> None:
    timings = pb.Timings(
        total_ns=5_191_566_416, load_ns=2_154_458, prompt_eval_ns=383_809_000, eval_ns=4_799_921_000
    )
    body = surface.response_json(final_response(timings=timings), "llama3.2", chat=True, wall_ns=1)
    reply = ollama.ChatResponse.model_validate(body)
    assert reply.message.role == "assistant" and reply.message.content == "Hello!"
    assert reply.done is True and reply.done_reason == "stop"
    assert (reply.prompt_eval_count, reply.eval_count) == (26, 298)
    assert (reply.total_duration, reply.load_duration) == (5_191_566_416, 2_154_458)
    assert (reply.prompt_eval_duration, reply.eval_duration) == (383_809_000, 4_799_921_000)


def test_untimed_upstream_gets_the_bridge_wall_clock() -> None:
    body = surface.response_json(final_response(), "m", chat=False, wall_ns=9_000)
    reply = ollama.GenerateResponse.model_validate(body)
    assert reply.response == "Hello!"
    assert reply.total_duration == 9_000 and reply.eval_duration == 9_000 and reply.load_duration == 0
    assert "context" not in body  # token context means nothing across providers


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        (pb.FINISH_REASON_STOP, "stop"),
        (pb.FINISH_REASON_LENGTH, "length"),
        (pb.FINISH_REASON_TOOL_CALLS, "stop"),  # as Ollama says it
        (pb.FINISH_REASON_UNSPECIFIED, "stop"),
    ],
)
def test_done_reason(finish: pb.FinishReason.ValueType, reason: str) -> None:
    assert surface.done_reason(finish) == reason


def test_non_streamed_tool_calls_and_thinking() -> None:
    message = pb.Message(
        role=pb.ROLE_ASSISTANT,
        reasoning="need the weather",
        tool_calls=[pb.ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')],
    )
    body = surface.response_json(
        final_response(message=message, finish_reason=pb.FINISH_REASON_TOOL_CALLS), "m", chat=True, wall_ns=5
    )
    assert body["message"]["tool_calls"] == [
        {"id": "call_1", "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}}
    ]
    reply = ollama.ChatResponse.model_validate(body)
    assert reply.message.thinking == "need the weather"
    assert reply.message.tool_calls is not None
    assert reply.message.tool_calls[0].function.arguments == {"city": "Paris"}
    assert reply.done_reason == "stop"


def test_tool_arguments_that_are_not_an_object_are_an_error() -> None:
    with pytest.raises(BridgeError, match="tool 'f' with arguments that are not a JSON object"):
        surface.tool_arguments('{"a": ', "f")


def delta(text: str = "", reasoning: str = "", *calls: pb.ToolCallDelta) -> pb.StreamChunk:
    return pb.StreamChunk(delta=pb.Delta(text=text, reasoning=reasoning, tool_calls=calls))


def final(**fields: Any) -> pb.StreamChunk:
    base: dict[str, Any] = {
        "finish_reason": pb.FINISH_REASON_STOP,
        "usage": pb.Usage(input_tokens=26, output_tokens=3),
    }
    base.update(fields)
    return pb.StreamChunk(final=pb.FinalChunk(**base))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        self.now += 1_000
        return self.now


def frame(chunks: list[pb.StreamChunk], chat: bool = True) -> list[dict[str, Any]]:
    framer = surface.StreamFramer("llama3.2", chat, started_ns=1_000, clock=Clock())
    objects = [obj for chunk in chunks for obj in framer.feed(chunk)]
    assert framer.done
    return objects


def test_stream_text_then_final() -> None:
    objects = frame([delta("The"), delta(" sky"), delta(reasoning="hmm"), final()])
    replies = [ollama.ChatResponse.model_validate(obj) for obj in objects]
    assert [r.message.content for r in replies] == ["The", " sky", "", ""]
    assert replies[2].message.thinking == "hmm"
    assert [r.done for r in replies] == [False, False, False, True]
    last = replies[-1]
    assert last.done_reason == "stop" and last.prompt_eval_count == 26 and last.eval_count == 3
    # No timings upstream: wall clock, split at the first chunk.
    assert last.total_duration == 2_000 and last.prompt_eval_duration == 1_000 and last.eval_duration == 1_000


def test_stream_generate_objects() -> None:
    objects = frame([delta("Hi", "think"), final(finish_reason=pb.FINISH_REASON_LENGTH)], chat=False)
    replies = [ollama.GenerateResponse.model_validate(obj) for obj in objects]
    assert (replies[0].response, replies[0].thinking, replies[0].done) == ("Hi", "think", False)
    assert (replies[1].response, replies[1].done, replies[1].done_reason) == ("", True, "length")


def test_stream_tool_call_fragments_go_out_whole_when_complete() -> None:
    chunks = [
        delta("", "", pb.ToolCallDelta(index=0, id="call_a", name="get_weather", arguments='{"city":')),
        delta("", "", pb.ToolCallDelta(index=0, arguments=' "Paris"}')),
        delta("", "", pb.ToolCallDelta(index=1, id="call_b", name="get_time", arguments="")),
        final(finish_reason=pb.FINISH_REASON_TOOL_CALLS),
    ]
    objects = frame(chunks)
    replies = [ollama.ChatResponse.model_validate(obj) for obj in objects]
    assert len(replies) == 2  # the fragment that completes call 0, then the final with call 1
    first_calls = replies[0].message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in first_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert objects[0]["message"]["tool_calls"][0]["id"] == "call_a"
    last_calls = replies[1].message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in last_calls] == [("get_time", {})]
    assert replies[1].done is True and replies[1].done_reason == "stop"


def test_stream_whole_tool_calls_from_ollama_go_out_at_once() -> None:
    call = pb.ToolCallDelta(index=0, id="call_1", name="f", arguments='{"x": 1}')
    objects = frame([delta("", "", call), final()])
    assert objects[0]["message"]["tool_calls"][0]["function"]["arguments"] == {"x": 1}
    assert "tool_calls" not in objects[1]["message"]


def test_stream_timings_from_upstream_win() -> None:
    timings = pb.Timings(total_ns=10, load_ns=1, prompt_eval_ns=2, eval_ns=7)
    last = frame([delta("x"), final(timings=timings)])[-1]
    assert (last["total_duration"], last["load_duration"]) == (10, 1)
    assert (last["prompt_eval_duration"], last["eval_duration"]) == (2, 7)


# --- models ------------------------------------------------------------------

LLAMA = pb.Model(
    name="llama3.2",
    aliases=["tiny"],
    deployments=[pb.Deployment(provider="local", model="llama3.2")],
    context_window=131072,
    capabilities=["chat", "tools"],
    created=1_700_000_000,
)
TAGGED = pb.Model(name="qwen3:8b", deployments=[pb.Deployment(provider="local", model="qwen3:8b")])


def test_tags_parse_as_list_response() -> None:
    body = surface.tags_json([LLAMA, TAGGED])
    listing = ollama.ListResponse.model_validate(body)
    assert [m.model for m in listing.models] == ["llama3.2:latest", "tiny:latest", "qwen3:8b"]
    assert [m["name"] for m in body["models"]] == ["llama3.2:latest", "tiny:latest", "qwen3:8b"]
    first = listing.models[0]
    assert first.details is not None and first.details.family == "llama" and first.details.format == "gguf"
    assert first.modified_at is not None and first.modified_at.year == 2023
    # An alias is the same model: the same digest, stable across calls.
    assert body["models"][0]["digest"] == body["models"][1]["digest"] == surface.digest("llama3.2")
    assert re.fullmatch(r"[0-9a-f]{64}", body["models"][2]["digest"])


def test_show_parses_as_show_response() -> None:
    reply = ollama.ShowResponse.model_validate(surface.show_json(LLAMA))
    assert reply.capabilities == ["completion", "tools"]
    assert reply.modelinfo is not None and reply.modelinfo["llama.context_length"] == 131072
    assert reply.details is not None and reply.details.family == "llama"
    assert reply.parameters is not None and "num_ctx" in reply.parameters


# --- the routes, in-process --------------------------------------------------


class ScriptedGateway(pb_grpc.ModelGatewayServicer):
    """Answers by model name: "missing" is NOT_FOUND, "broken" fails after one chunk."""

    def __init__(self) -> None:
        self.requests: list[pb.GenerateRequest] = []
        self.embeds: list[pb.EmbedRequest] = []

    async def _route(self, request: pb.GenerateRequest, context: Any) -> None:
        self.requests.append(request)
        if request.model == "missing":
            await context.abort(grpc.StatusCode.NOT_FOUND, "model 'missing' not found")
        await context.send_initial_metadata(
            (("x-gateway-provider", "local"), ("x-gateway-model", request.model))
        )

    @staticmethod
    def _answer(request: pb.GenerateRequest) -> tuple[str, list[pb.ToolCall]]:
        if request.tools:
            return "", [pb.ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')]
        return "Hello there", []

    async def Generate(self, request: pb.GenerateRequest, context: Any) -> pb.GenerateResponse:
        await self._route(request, context)
        text, calls = self._answer(request)
        message = pb.Message(role=pb.ROLE_ASSISTANT, tool_calls=calls)
        if text:
            message.content.append(pb.ContentPart(text=text))
        return pb.GenerateResponse(
            model=request.model,
            message=message,
            finish_reason=pb.FINISH_REASON_TOOL_CALLS if calls else pb.FINISH_REASON_STOP,
            usage=pb.Usage(input_tokens=5, output_tokens=2, total_tokens=7),
            # Unary calls carry their route in the reply, as the gateway sends it.
            route=pb.Route(served_model=request.model, provider="local", attempts=1),
        )

    async def StreamGenerate(
        self, request: pb.GenerateRequest, context: Any
    ) -> AsyncIterator[pb.StreamChunk]:
        await self._route(request, context)
        text, calls = self._answer(request)
        for word in text.split(" "):
            yield pb.StreamChunk(delta=pb.Delta(text=word + " "))
            if request.model == "broken":
                await context.abort(grpc.StatusCode.UNAVAILABLE, "upstream cut the stream")
        for i, call in enumerate(calls):
            half = len(call.arguments) // 2
            yield delta(
                "", "", pb.ToolCallDelta(index=i, id=call.id, name=call.name, arguments=call.arguments[:half])
            )
            yield delta("", "", pb.ToolCallDelta(index=i, arguments=call.arguments[half:]))
        finish = pb.FINISH_REASON_TOOL_CALLS if calls else pb.FINISH_REASON_STOP
        yield final(finish_reason=finish, usage=pb.Usage(input_tokens=5, output_tokens=2, total_tokens=7))

    async def ListModels(self, request: pb.ListModelsRequest, context: Any) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=[LLAMA, TAGGED])

    async def GetModel(self, request: pb.GetModelRequest, context: Any) -> pb.Model:
        if request.name.removesuffix(":latest") not in ("llama3.2", "tiny"):
            await context.abort(grpc.StatusCode.NOT_FOUND, f"model '{request.name}' not found")
        return LLAMA

    async def Health(self, request: pb.HealthRequest, context: Any) -> pb.HealthResponse:
        return pb.HealthResponse(status=pb.HealthResponse.STATUS_SERVING)

    async def Embed(self, request: pb.EmbedRequest, context: Any) -> pb.EmbedResponse:
        self.embeds.append(request)
        return pb.EmbedResponse(
            model=request.model,
            embeddings=[pb.Embedding(values=[0.5, -0.25]) for _ in request.input],
            usage=pb.Usage(input_tokens=3 * len(request.input)),
        )


@pytest.fixture(scope="module")
async def scripted() -> AsyncIterator[tuple[ScriptedGateway, str]]:
    servicer = ScriptedGateway()
    server = aio.server()
    pb_grpc.add_ModelGatewayServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, f"127.0.0.1:{port}"
    await server.stop(None)


@pytest.fixture(scope="module")
async def app(scripted: tuple[ScriptedGateway, str]) -> AsyncIterator[FastAPI]:
    # Only this surface: the same wiring as app.create_app, without the other surfaces.
    client = GatewayClient(scripted[1], 4 * 1024 * 1024)
    application = FastAPI()
    application.state.bridge = BridgeState(client, 65536, 10.0)
    application.include_router(surface.router)

    @application.exception_handler(BridgeError)
    async def _render(_request: Request, exc: BridgeError) -> Response:
        return surface.error_response(exc)

    yield application
    await client.close()


@pytest.fixture
def servicer(scripted: tuple[ScriptedGateway, str]) -> Iterator[ScriptedGateway]:
    scripted[0].requests.clear()
    scripted[0].embeds.clear()
    yield scripted[0]


@pytest.fixture
def client(app: FastAPI) -> ollama.AsyncClient:
    return ollama.AsyncClient(host="http://bridge.test", transport=httpx.ASGITransport(app=app))


@pytest.fixture
def raw(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url="http://bridge.test", transport=httpx.ASGITransport(app=app))


async def test_client_chat_streams_by_default(client: ollama.AsyncClient, servicer: ScriptedGateway) -> None:
    parts = [
        part async for part in await client.chat("llama3.2", [{"role": "user", "content": "hi"}], stream=True)
    ]
    assert "".join(p.message.content or "" for p in parts) == "Hello there "
    assert parts[-1].done and parts[-1].eval_count == 2 and parts[-1].prompt_eval_count == 5
    assert servicer.requests[-1].messages[0].content[0].text == "hi"


async def test_client_chat_not_streamed(client: ollama.AsyncClient) -> None:
    reply = await client.chat("llama3.2", [{"role": "user", "content": "hi"}], options={"temperature": 0.1})
    assert reply.message.content == "Hello there" and reply.done_reason == "stop"
    assert reply.eval_count == 2


async def test_client_tool_calls_both_ways(client: ollama.AsyncClient) -> None:
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    for stream in (False, True):
        if stream:
            parts = [
                p async for p in await client.chat("llama3.2", messages, tools=[WEATHER_TOOL], stream=True)
            ]
            calls = [c for p in parts for c in (p.message.tool_calls or [])]
        else:
            reply = await client.chat("llama3.2", messages, tools=[WEATHER_TOOL])
            calls = list(reply.message.tool_calls or [])
        assert [(c.function.name, c.function.arguments) for c in calls] == [
            ("get_weather", {"city": "Paris"})
        ]


async def test_client_generate(client: ollama.AsyncClient, servicer: ScriptedGateway) -> None:
    reply = await client.generate("llama3.2", "Why is the sky blue?", system="short")
    assert reply.response == "Hello there" and reply.done
    assert (servicer.requests[-1].prompt, servicer.requests[-1].system) == ("Why is the sky blue?", "short")
    parts = [p async for p in await client.generate("llama3.2", "Why?", stream=True)]
    assert "".join(p.response or "" for p in parts) == "Hello there "


async def test_load_and_unload_answer_without_generating(
    client: ollama.AsyncClient, servicer: ScriptedGateway
) -> None:
    loaded = await client.generate("llama3.2")
    assert (loaded.done, loaded.done_reason, loaded.response) == (True, "load", "")
    unloaded = await client.chat("llama3.2", [], keep_alive=0)
    assert (unloaded.done_reason, unloaded.message.content) == ("unload", "")
    assert servicer.requests == []
    with pytest.raises(ollama.ResponseError) as caught:
        await client.generate("nope")
    assert caught.value.status_code == 404 and "model 'nope' not found" in caught.value.error


async def test_errors_have_status_and_ollama_body(client: ollama.AsyncClient, raw: httpx.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat("missing", [{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404 and caught.value.error == "model 'missing' not found"
    reply = await raw.post("/api/chat", json={"model": "m", "options": {"temperature": "hot"}})
    assert reply.status_code == 400
    assert reply.json() == {"error": 'invalid options.temperature: expected a number, got "hot"'}
    reply = await raw.post(
        "/api/generate", content=b'{"prompt": "x"}', headers={"content-type": "text/plain"}
    )
    assert (reply.status_code, reply.json()) == (400, {"error": "model is required"})


async def test_error_after_first_line_is_an_error_line(
    client: ollama.AsyncClient, raw: httpx.AsyncClient
) -> None:
    reply = await raw.post(
        "/api/chat", json={"model": "broken", "messages": [{"role": "user", "content": "x"}]}
    )
    assert reply.status_code == 200
    lines = [orjson.loads(line) for line in reply.text.splitlines()]
    assert lines[0]["message"]["content"] == "Hello "
    assert lines[-1] == {"error": "upstream cut the stream"}
    with pytest.raises(ollama.ResponseError, match="upstream cut the stream"):
        async for _ in await client.generate("broken", "x", stream=True):
            pass


async def test_stream_headers_and_content_type(raw: httpx.AsyncClient) -> None:
    reply = await raw.post("/api/generate", json={"model": "llama3.2", "prompt": "x"})
    assert reply.headers["content-type"] == "application/x-ndjson"
    assert reply.headers["x-gateway-provider"] == "local" and reply.headers["x-request-id"]
    reply = await raw.post("/api/generate", json={"model": "llama3.2", "prompt": "x", "stream": False})
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["x-gateway-model"] == "llama3.2"


async def test_models_endpoints(client: ollama.AsyncClient, raw: httpx.AsyncClient) -> None:
    listing = await client.list()
    assert [m.model for m in listing.models] == ["llama3.2:latest", "tiny:latest", "qwen3:8b"]
    shown = await client.show("tiny")
    assert shown.capabilities == ["completion", "tools"]
    with pytest.raises(ollama.ResponseError) as caught:
        await client.show("nope")
    assert caught.value.status_code == 404
    assert (await client.ps()).models == []
    assert (await raw.get("/api/version")).json() == {"version": surface.OLLAMA_COMPAT_VERSION}
    root = await raw.get("/")
    assert (root.status_code, root.text) == (200, surface.ROOT_TEXT)
    assert root.headers["content-type"].startswith("text/plain")
    assert (await raw.head("/")).status_code == 200
    pull = await raw.post("/api/pull", json={"model": "x"})
    assert pull.status_code == 501 and "not supported" in pull.json()["error"]


async def test_embed_and_legacy_embeddings(client: ollama.AsyncClient, servicer: ScriptedGateway) -> None:
    reply = await client.embed("llama3.2", ["a", "b"], dimensions=2, truncate=True)
    assert reply.embeddings == [[0.5, -0.25], [0.5, -0.25]] and reply.prompt_eval_count == 6
    request = servicer.embeds[-1]
    assert list(request.input) == ["a", "b"] and request.dimensions == 2 and request.truncate is True
    legacy = await client.embeddings("llama3.2", "one")
    assert legacy.embedding == [0.5, -0.25]
    empty = await client.embed("llama3.2", [])
    assert empty.embeddings == []
