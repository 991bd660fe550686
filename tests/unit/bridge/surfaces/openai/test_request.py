"""Chat and legacy completion bodies → canonical requests, table by table; bad ones are OpenAI's 400s."""

from __future__ import annotations

from typing import Any

import pytest

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.openai.errors import error_body
from model_gateway_bridge.surfaces.openai.request import parse_chat, parse_completion
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.surfaces.openai.helpers import (
    HI,
    PNG_URL,
    WEATHER_PARAMS,
    WEATHER_TOOL,
    as_struct,
    chat_request,
    text,
)

# --- chat request → canonical ---------------------------------------------------

CHAT_CASES: list[tuple[str, dict[str, Any], pb.GenerateRequest]] = [
    ("plain", {"model": "gpt-4o-mini", "messages": HI}, chat_request()),
    (
        "every role, names and content parts",
        {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "developer", "content": [{"type": "text", "text": "no emoji"}]},
                {
                    "role": "user",
                    "name": "ann",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": PNG_URL, "detail": "low"}},
                        {"type": "image_url", "image_url": "https://example.com/a.jpg"},
                    ],
                },
                {"role": "assistant", "content": "a pixel", "reasoning_content": "tiny png"},
            ],
        },
        chat_request(
            messages=[
                text(pb.ROLE_SYSTEM, "be brief"),
                text(pb.ROLE_DEVELOPER, "no emoji"),
                pb.Message(
                    role=pb.ROLE_USER,
                    name="ann",
                    content=[
                        pb.ContentPart(text="what is this?"),
                        pb.ContentPart(image=pb.ImagePart(url=PNG_URL, detail="low")),
                        pb.ContentPart(image=pb.ImagePart(url="https://example.com/a.jpg")),
                    ],
                ),
                pb.Message(
                    role=pb.ROLE_ASSISTANT, content=[pb.ContentPart(text="a pixel")], reasoning="tiny png"
                ),
            ]
        ),
    ),
    (
        "tool round trip",
        {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "user", "content": "weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
            "tools": [WEATHER_TOOL],
            "tool_choice": "required",
        },
        chat_request(
            messages=[
                text(pb.ROLE_USER, "weather in Paris?"),
                pb.Message(
                    role=pb.ROLE_ASSISTANT,
                    tool_calls=[pb.ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')],
                ),
                pb.Message(role=pb.ROLE_TOOL, tool_call_id="call_1", content=[pb.ContentPart(text="sunny")]),
            ],
            tools=[
                pb.Tool(
                    name="get_weather", description="Weather for a city", parameters=as_struct(WEATHER_PARAMS)
                )
            ],
            tool_choice=pb.ToolChoice(mode=pb.ToolChoice.MODE_REQUIRED),
        ),
    ),
    (
        "a named tool choice and a strict tool",
        {
            "model": "gpt-4o-mini",
            "messages": HI,
            "tools": [{"type": "function", "function": {"name": "noop", "strict": True}}],
            "tool_choice": {"type": "function", "function": {"name": "noop"}},
        },
        chat_request(
            tools=[pb.Tool(name="noop", strict=True)],
            tool_choice=pb.ToolChoice(mode=pb.ToolChoice.MODE_FUNCTION, function_name="noop"),
        ),
    ),
    (
        "legacy functions",
        {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "function_call": {"name": "get_weather", "arguments": "{}"},
                },
                {"role": "function", "name": "get_weather", "content": "rain"},
            ],
            "functions": [WEATHER_TOOL["function"]],
            "function_call": {"name": "get_weather"},
        },
        chat_request(
            messages=[
                text(pb.ROLE_USER, "weather?"),
                pb.Message(
                    role=pb.ROLE_ASSISTANT,
                    tool_calls=[pb.ToolCall(id="call_1", name="get_weather", arguments="{}")],
                ),
                pb.Message(
                    role=pb.ROLE_TOOL,
                    name="get_weather",
                    tool_call_id="call_1",
                    content=[pb.ContentPart(text="rain")],
                ),
            ],
            tools=[
                pb.Tool(
                    name="get_weather", description="Weather for a city", parameters=as_struct(WEATHER_PARAMS)
                )
            ],
            tool_choice=pb.ToolChoice(mode=pb.ToolChoice.MODE_FUNCTION, function_name="get_weather"),
        ),
    ),
    (
        "sampling, stop string, user and metadata",
        {
            "model": "gpt-4o-mini",
            "messages": HI,
            "temperature": 0.2,
            "top_p": 1,
            "presence_penalty": -0.5,
            "frequency_penalty": 0.5,
            "max_tokens": 99,
            "max_completion_tokens": 64,
            "seed": 42,
            "stop": "\n\n",
            "n": 1,
            "user": "u-1",
            "metadata": {"team": "search"},
        },
        chat_request(
            sampling=pb.Sampling(
                temperature=0.2,
                top_p=1.0,
                presence_penalty=-0.5,
                frequency_penalty=0.5,
                max_tokens=64,
                seed=42,
                stop=["\n\n"],
            ),
            user="u-1",
            metadata={"team": "search"},
        ),
    ),
    (
        "max_tokens alone, stop list",
        {"model": "gpt-4o-mini", "messages": HI, "max_tokens": 16.0, "stop": ["a", "b"]},
        chat_request(sampling=pb.Sampling(max_tokens=16, stop=["a", "b"])),
    ),
    (
        "unknown keys pass through untouched, nulls and known keys do not",
        {
            "model": "gpt-4o-mini",
            "messages": HI,
            "top_k": 40,
            "min_p": 0.05,
            "repetition_penalty": 1.1,
            "logit_bias": {"50256": -100},
            "parallel_tool_calls": False,
            "logprobs": None,
            "stream": False,
            "stream_options": None,
            "temperature": None,
        },
        chat_request(
            sampling=pb.Sampling(top_k=40),
            provider_options=as_struct(
                {
                    "min_p": 0.05,
                    "repetition_penalty": 1.1,
                    "logit_bias": {"50256": -100},
                    "parallel_tool_calls": False,
                }
            ),
        ),
    ),
    (
        "json mode",
        {"model": "gpt-4o-mini", "messages": HI, "response_format": {"type": "json_object"}},
        chat_request(response_format=pb.ResponseFormat(type=pb.ResponseFormat.TYPE_JSON_OBJECT)),
    ),
    (
        "json schema",
        {
            "model": "gpt-4o-mini",
            "messages": HI,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "city", "schema": WEATHER_PARAMS, "strict": True},
            },
        },
        chat_request(
            response_format=pb.ResponseFormat(
                type=pb.ResponseFormat.TYPE_JSON_SCHEMA,
                schema_name="city",
                schema=as_struct(WEATHER_PARAMS),
                strict=True,
            )
        ),
    ),
    (
        "text format",
        {"model": "gpt-4o-mini", "messages": HI, "response_format": {"type": "text"}},
        chat_request(response_format=pb.ResponseFormat(type=pb.ResponseFormat.TYPE_TEXT)),
    ),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CHAT_CASES], ids=[c[0] for c in CHAT_CASES])
def test_parse_chat(body: dict[str, Any], expected: pb.GenerateRequest) -> None:
    parsed = parse_chat(body)
    assert parsed.request == expected
    assert (parsed.stream, parsed.include_usage) == (False, False)


@pytest.mark.parametrize(
    ("extra", "stream", "include_usage"),
    [
        ({"stream": True}, True, False),
        ({"stream": True, "stream_options": {"include_usage": True}}, True, True),
        ({"stream": False, "stream_options": {"include_usage": True}}, False, False),
    ],
)
def test_parse_chat_stream_flags(extra: dict[str, Any], stream: bool, include_usage: bool) -> None:
    parsed = parse_chat({"model": "m", "messages": HI, **extra})
    assert (parsed.stream, parsed.include_usage) == (stream, include_usage)
    assert not parsed.request.HasField("provider_options")


def test_legacy_functions_flag() -> None:
    assert parse_chat({"model": "m", "messages": HI, "functions": [{"name": "f"}]}).legacy_functions
    with_tools = {"model": "m", "messages": HI, "tools": [WEATHER_TOOL], "functions": [{"name": "f"}]}
    assert not parse_chat(with_tools).legacy_functions


BAD_CHAT: list[tuple[str, dict[str, Any], str, str, str]] = [
    # (id, body, param, a fragment of the message, code)
    (
        "no model",
        {"messages": HI},
        "model",
        "Missing required parameter: 'model'",
        "missing_required_parameter",
    ),
    ("model not a string", {"model": 7, "messages": HI}, "model", "got 7", "invalid_type"),
    ("no messages", {"model": "m"}, "messages", "'messages'", "missing_required_parameter"),
    ("empty messages", {"model": "m", "messages": []}, "messages", "at least one", "invalid_value"),
    ("messages not a list", {"model": "m", "messages": "hi"}, "messages", 'got "hi"', "invalid_type"),
    (
        "hot temperature",
        {"model": "m", "messages": HI, "temperature": "hot"},
        "temperature",
        '"hot"',
        "invalid_type",
    ),
    ("bool top_p", {"model": "m", "messages": HI, "top_p": True}, "top_p", "got true", "invalid_type"),
    (
        "unknown role",
        {"model": "m", "messages": [*HI, *HI, {"role": "robot", "content": "beep"}]},
        "messages[2].role",
        '"robot"',
        "invalid_value",
    ),
    ("n of two", {"model": "m", "messages": HI, "n": 2}, "n", "got 2", "invalid_value"),
    (
        "tool arguments not JSON",
        {
            "model": "m",
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
                    ],
                }
            ],
        },
        "messages[0].tool_calls[0].function.arguments",
        "{oops",
        "invalid_value",
    ),
    (
        "tool result without its call id",
        {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
        "messages[0].tool_call_id",
        "Missing",
        "missing_required_parameter",
    ),
    (
        "user without content",
        {"model": "m", "messages": [{"role": "user"}]},
        "messages[0].content",
        "Missing",
        "missing_required_parameter",
    ),
    (
        "audio part",
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
        "messages[0].content[0].type",
        '"input_audio"',
        "invalid_value",
    ),
    (
        "max_tokens fraction",
        {"model": "m", "messages": HI, "max_tokens": 1.5},
        "max_tokens",
        "1.5",
        "invalid_type",
    ),
    (
        "seed too large",
        {"model": "m", "messages": HI, "seed": 2**63},
        "seed",
        "out of range",
        "invalid_value",
    ),
    ("stop of numbers", {"model": "m", "messages": HI, "stop": [1]}, "stop[0]", "got 1", "invalid_type"),
    (
        "tool choice word",
        {"model": "m", "messages": HI, "tool_choice": "any"},
        "tool_choice",
        '"any"',
        "invalid_value",
    ),
    (
        "response format",
        {"model": "m", "messages": HI, "response_format": {"type": "yaml"}},
        "response_format.type",
        '"yaml"',
        "invalid_value",
    ),
    (
        "json schema without a name",
        {
            "model": "m",
            "messages": HI,
            "response_format": {"type": "json_schema", "json_schema": {"schema": {}}},
        },
        "response_format.json_schema.name",
        "Missing",
        "missing_required_parameter",
    ),
    (
        "stream not a boolean",
        {"model": "m", "messages": HI, "stream": "yes"},
        "stream",
        '"yes"',
        "invalid_type",
    ),
    (
        "custom tool",
        {"model": "m", "messages": HI, "tools": [{"type": "custom", "custom": {"name": "x"}}]},
        "tools[0].type",
        '"custom"',
        "invalid_value",
    ),
]


@pytest.mark.parametrize(
    ("body", "param", "fragment", "code"), [c[1:] for c in BAD_CHAT], ids=[c[0] for c in BAD_CHAT]
)
def test_parse_chat_rejects(body: dict[str, Any], param: str, fragment: str, code: str) -> None:
    with pytest.raises(BridgeError) as caught:
        parse_chat(body)
    error = error_body(caught.value)["error"]
    assert caught.value.status == 400
    assert error["param"] == param
    assert fragment in error["message"]
    assert param in error["message"]
    assert (error["type"], error["code"]) == ("invalid_request_error", code)


# --- legacy completions ------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["Say this is a test", ["Say this is a test"]])
def test_parse_completion(prompt: Any) -> None:
    body = {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": prompt,
        "max_tokens": 7,
        "echo": True,
        "stream": True,
    }
    parsed = parse_completion(body)
    assert parsed.request == pb.GenerateRequest(
        model="gpt-3.5-turbo-instruct",
        prompt="Say this is a test",
        sampling=pb.Sampling(max_tokens=7),
        provider_options=as_struct({"echo": True}),
    )
    assert parsed.stream


@pytest.mark.parametrize("prompt", [["a", "b"], [1, 2, 3], [[1, 2]], "", None])
def test_parse_completion_rejects(prompt: Any) -> None:
    with pytest.raises(BridgeError) as caught:
        parse_completion({"model": "m", "prompt": prompt})
    assert (caught.value.status, caught.value.param) == (400, "prompt")
