"""/api/chat and /api/generate bodies → canonical requests, table by table; bad ones are 400s."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.ollama.request import chat_request, generate_request, sampling
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.surfaces.ollama.helpers import PNG, PNG_B64, WEATHER_TOOL, as_dict, user

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
    parsed = chat_request(body)
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
    parsed = chat_request(body)
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
    result = sampling(options)
    assert json_format.MessageToDict(result) == expected
    if not expected:
        assert not result.HasField("max_tokens") and not result.HasField("seed")


def test_format_schema_and_no_extras_when_none_given() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    request = chat_request(
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
    parsed = generate_request(body)
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
    request = generate_request(body).request
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
        (generate_request, {"model": "llama3.2"}, "load"),
        (generate_request, {"model": "llama3.2", "prompt": "", "keep_alive": 0}, "unload"),
        (generate_request, {"model": "llama3.2", "keep_alive": "0s"}, "unload"),
        (generate_request, {"model": "llama3.2", "keep_alive": "5m"}, "load"),
        (generate_request, {"model": "llama3.2", "keep_alive": -1}, "load"),  # forever
        (generate_request, {"model": "llama3.2", "keep_alive": "0.0m"}, "unload"),
        (chat_request, {"model": "llama3.2", "messages": []}, "load"),
        (chat_request, {"model": "llama3.2"}, "load"),
        (chat_request, {"model": "llama3.2", "messages": [], "keep_alive": 0}, "unload"),
    ],
)
def test_empty_requests_only_load(parse: Any, body: dict[str, Any], load: str) -> None:
    assert parse(body).load == load


BAD_BODIES: list[tuple[Any, dict[str, Any], str]] = [
    (chat_request, {"messages": []}, "model is required"),
    (chat_request, {"model": ""}, "model is required"),
    (chat_request, {"model": 3}, "invalid model: expected a string, got 3"),
    (
        chat_request,
        {"model": "m", "options": {"temperature": "hot"}},
        'invalid options.temperature: expected a number, got "hot"',
    ),
    (
        chat_request,
        {"model": "m", "options": {"num_predict": 1.5}},
        "invalid options.num_predict: expected an integer, got 1.5",
    ),
    (
        chat_request,
        {"model": "m", "options": {"top_k": True}},
        "invalid options.top_k: expected an integer, got true",
    ),
    (
        chat_request,
        {"model": "m", "options": {"stop": ["a", 1]}},
        "invalid options.stop[1]: expected a string, got 1",
    ),
    (chat_request, {"model": "m", "options": [1]}, "invalid options: expected an object, got [1]"),
    (
        chat_request,
        {"model": "m", "stream": "yes"},
        'invalid stream: expected true or false, got "yes"',
    ),
    (
        chat_request,
        {"model": "m", "format": "xml"},
        'invalid format: expected "json" or a JSON schema',
    ),
    (chat_request, {"model": "m", "keep_alive": [1]}, "invalid keep_alive: expected a duration"),
    (chat_request, {"model": "m", "messages": {"a": 1}}, "invalid messages: expected a list"),
    (
        chat_request,
        {"model": "m", "messages": [{"role": "robot", "content": "x"}]},
        'invalid messages[0].role: unknown role "robot"',
    ),
    (
        chat_request,
        {"model": "m", "messages": [{"role": "user", "content": ["x"]}]},
        'invalid messages[0].content: expected a string, got ["x"]',
    ),
    (
        chat_request,
        {"model": "m", "messages": [{"role": "user", "content": "x", "images": [PNG_B64, "not base64!"]}]},
        "invalid messages[0].images[1]: not valid base64 image data",
    ),
    (
        chat_request,
        {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": 1}}]}]},
        "invalid messages[0].tool_calls[0].function.arguments: expected an object, got 1",
    ),
    (chat_request, {"model": "m", "tools": [{"function": "f"}]}, "invalid tools[0].function"),
    (generate_request, {"model": "m", "prompt": 42}, "invalid prompt: expected a string, got 42"),
    (
        generate_request,
        {"model": "m", "prompt": "x", "raw": "1"},
        "invalid raw: expected true or false",
    ),
    (generate_request, {"model": "m", "images": ["%%%"]}, "invalid images[0]: not valid base64"),
]


@pytest.mark.parametrize(("parse", "body", "message"), BAD_BODIES)
def test_bad_bodies_are_400_naming_field_and_value(parse: Any, body: dict[str, Any], message: str) -> None:
    with pytest.raises(BridgeError) as caught:
        parse(body)
    assert caught.value.status == 400
    assert message in caught.value.message
