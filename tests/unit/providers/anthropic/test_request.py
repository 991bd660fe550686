"""Canonical requests → Messages bodies (providers/anthropic/request.py), against the golden fixtures.

The fixtures follow the Messages API reference and the docs' examples (tool
use, vision, extended thinking, prompt caching); see tests/fixtures/anthropic/README.md.
"""

from __future__ import annotations

from typing import Any

import grpc
import orjson
import pytest

from model_gateway.errors import GatewayError
from model_gateway.providers.anthropic.request import (
    ANSWER_TOOL,
    count_tokens_body,
    max_tokens,
    translate,
)
from model_gateway.providers.base import NO_SETTINGS, ModelSettings
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases
from tests.unit.providers.anthropic.support import (
    DIALECT,
    canonical_request,
    fixture_json,
    settings_for,
    user_request,
)

WEATHER = {
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
}


@pytest.mark.parametrize("case", cases.cases(DIALECT, "request"))
def test_request_translates_to_the_wire_body(case: str) -> None:
    request = canonical_request(fixture_json(f"{case}.canonical.json"))
    wire = fixture_json(f"{case}.wire.json")
    translation = translate(request, wire["model"], settings_for(case), stream=wire.get("stream", False))
    assert translation.body == wire
    # The body must survive the trip through the JSON encoder the HTTP layer uses.
    assert orjson.loads(orjson.dumps(translation.body)) == wire
    json_mode = request.response_format.type != pb.ResponseFormat.TYPE_UNSPECIFIED
    assert translation.answer_tool == (ANSWER_TOOL if json_mode else None)


def body_of(data: dict[str, Any], settings: ModelSettings = NO_SETTINGS) -> dict[str, Any]:
    request = canonical_request(
        {"model": "m", "messages": [{"role": "ROLE_USER", "content": [{"text": "hi"}]}]} | data
    )
    return translate(request, "claude-x", settings, stream=False).body


@pytest.mark.parametrize(
    ("choice", "json_mode", "options", "expected"),
    [
        ({}, False, {}, None),
        ({"mode": "MODE_AUTO"}, False, {}, {"type": "auto"}),
        ({"mode": "MODE_REQUIRED"}, False, {}, {"type": "any"}),
        ({"mode": "MODE_NONE"}, False, {}, {"type": "none"}),
        (
            {"mode": "MODE_FUNCTION", "functionName": "get_weather"},
            False,
            {},
            {"type": "tool", "name": "get_weather"},
        ),
        # JSON mode: the caller's tools stay callable, else the answer tool is forced.
        ({}, True, {}, {"type": "any"}),
        ({"mode": "MODE_NONE"}, True, {}, {"type": "tool", "name": ANSWER_TOOL}),
        (
            {"mode": "MODE_FUNCTION", "functionName": "get_weather"},
            True,
            {},
            {"type": "tool", "name": "get_weather"},
        ),
        # Extended thinking refuses a forced tool.
        ({}, True, {"thinking": {"type": "enabled", "budget_tokens": 2048}}, {"type": "auto"}),
        ({}, True, {"thinking": {"type": "adaptive"}}, {"type": "auto"}),
    ],
)
def test_tool_choice(choice: dict[str, Any], json_mode: bool, options: dict[str, Any], expected: Any) -> None:
    data: dict[str, Any] = {"tools": [WEATHER], "toolChoice": choice, "providerOptions": options}
    if json_mode:
        data["responseFormat"] = {"type": "TYPE_JSON_OBJECT"}
    body = body_of(data)
    assert body.get("tool_choice") == expected
    assert [tool["name"] for tool in body["tools"]] == ["get_weather"] + ([ANSWER_TOOL] if json_mode else [])


@pytest.mark.parametrize("mode", ["MODE_UNSPECIFIED", "MODE_AUTO", "MODE_NONE"])
def test_no_tools_means_no_tools_key_and_no_tool_choice(mode: str) -> None:
    body = body_of({"toolChoice": {"mode": mode}})
    assert "tools" not in body and "tool_choice" not in body


def test_json_mode_without_tools_forces_the_answer_tool() -> None:
    body = body_of({"responseFormat": {"type": "TYPE_JSON_OBJECT"}})
    assert body["tools"] == [
        {
            "name": ANSWER_TOOL,
            "description": "Give the final answer as this tool's input: a JSON object.",
            "input_schema": {"type": "object"},
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": ANSWER_TOOL}


@pytest.mark.parametrize(
    ("asked", "cap", "expected"),
    [(None, None, 4096), (None, 1000, 1000), (500, None, 500), (500, 1000, 500), (32000, 8192, 8192)],
)
def test_max_tokens_defaults_to_and_is_capped_by_the_model_setting(
    asked: int | None, cap: int | None, expected: int
) -> None:
    request = user_request()
    if asked is not None:
        request.sampling.max_tokens = asked
    assert max_tokens(request, ModelSettings(max_output_tokens=cap)) == expected


def test_betas_from_provider_options_are_split_and_deduplicated() -> None:
    request = user_request()
    request.provider_options.update(
        {"anthropic_beta": "a-2025-01-01, b-2025-02-02", "betas": ["b-2025-02-02", "c-2025-03-03"]}
    )
    translation = translate(request, "claude-x", NO_SETTINGS, stream=True)
    assert translation.betas == ["a-2025-01-01", "b-2025-02-02", "c-2025-03-03"]
    assert not {"anthropic_beta", "betas"} & translation.body.keys()
    assert translation.body["stream"] is True


def test_front_door_extras_pass_and_foreign_options_are_dropped() -> None:
    body = body_of(
        {
            "user": "u-1",
            "providerOptions": {
                "metadata": {"user_id": '{"device_id": "abc"}'},
                "output_config": {"effort": "high"},
                "service_tier": "auto",
                "options": {"top_k": 5},
                "keep_alive": "5m",
                "min_p": 0.1,
                "model": "other",
                "messages": [],
            },
        }
    )
    assert body["metadata"] == {"user_id": '{"device_id": "abc"}'}  # the front door's own wins
    assert body["output_config"] == {"effort": "high"} and body["service_tier"] == "auto"
    assert body["model"] == "claude-x" and body["messages"] == [{"role": "user", "content": "hi"}]
    assert not {"options", "keep_alive", "min_p"} & body.keys()


def test_cache_ttl_option_and_tools_without_system() -> None:
    body = body_of({"tools": [WEATHER]}, ModelSettings(options={"cache_system_prompt": "1h"}))
    assert "system" not in body
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}


def test_tool_results_come_first_in_a_merged_user_turn() -> None:
    request = canonical_request(
        {
            "model": "m",
            "messages": [
                {"role": "ROLE_USER", "content": [{"text": "weather?"}]},
                {
                    "role": "ROLE_ASSISTANT",
                    "toolCalls": [{"id": "toolu_1", "name": "get_weather", "arguments": "{}"}],
                },
                {"role": "ROLE_USER", "content": [{"text": "also, hurry"}]},
                {"role": "ROLE_TOOL", "toolCallId": "toolu_1", "content": [{"text": "sunny"}]},
            ],
        }
    )
    turns = translate(request, "claude-x", NO_SETTINGS, stream=False).body["messages"]
    assert turns[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
            {"type": "text", "text": "also, hurry"},
        ],
    }


def test_a_failed_tool_result_is_flagged_as_an_error() -> None:
    request = canonical_request(
        {
            "model": "m",
            "messages": [
                {"role": "ROLE_ASSISTANT", "toolCalls": [{"id": "toolu_1", "name": "ls", "arguments": "{}"}]},
                {
                    "role": "ROLE_TOOL",
                    "toolCallId": "toolu_1",
                    "isError": True,
                    "content": [{"text": "denied"}],
                },
            ],
        }
    )
    turns = translate(request, "claude-x", NO_SETTINGS, stream=False).body["messages"]
    assert turns[1]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "denied", "is_error": True}
    ]


def test_count_tokens_body_keeps_what_the_endpoint_takes() -> None:
    request = user_request(system="Be brief.", sampling=pb.Sampling(temperature=0.5, stop=["x"]))
    request.tools.add(name="get_weather")
    request.provider_options.update(
        {"thinking": {"type": "enabled", "budget_tokens": 1024}, "service_tier": "auto"}
    )
    body = count_tokens_body(translate(request, "claude-x", NO_SETTINGS, stream=True).body)
    assert set(body) == {"model", "system", "messages", "tools", "thinking"}


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (
            {"messages": [{"role": "ROLE_ASSISTANT", "content": [{"image": {"url": "https://x/y.png"}}]}]},
            "messages[0].content[0]",
            "user turns only",
        ),
        (
            {
                "messages": [
                    {"role": "ROLE_USER", "content": [{"image": {"data": "Qk0=", "mimeType": "image/bmp"}}]}
                ]
            },
            "messages[0].content[0].image.mime_type",
            "image/bmp",
        ),
        (
            {"messages": [{"role": "ROLE_USER", "content": [{"image": {"url": "ftp://x/y.png"}}]}]},
            "messages[0].content[0].image.url",
            "ftp",
        ),
        (
            {"messages": [{"role": "ROLE_TOOL", "content": [{"text": "sunny"}]}]},
            "messages[0].tool_call_id",
            "required",
        ),
        (
            {
                "messages": [
                    {"role": "ROLE_ASSISTANT", "toolCalls": [{"id": "t", "name": "f", "arguments": "{oops"}]}
                ]
            },
            "messages[0].tool_calls[0].arguments",
            "not valid JSON",
        ),
        (
            {
                "messages": [
                    {"role": "ROLE_ASSISTANT", "toolCalls": [{"id": "t", "name": "f", "arguments": "[1]"}]}
                ]
            },
            "messages[0].tool_calls[0].arguments",
            "JSON object",
        ),
        (
            {"tools": [{"name": ANSWER_TOOL}], "responseFormat": {"type": "TYPE_JSON_OBJECT"}},
            "tools",
            "reserved",
        ),
        (
            {"responseFormat": {"type": "TYPE_JSON_SCHEMA", "schema": {"type": "array"}}},
            "response_format.schema.type",
            "must be an object",
        ),
        ({"toolChoice": {"mode": "MODE_REQUIRED"}}, "tool_choice", "no tools"),
        (
            {"tools": [WEATHER], "toolChoice": {"mode": "MODE_FUNCTION"}},
            "tool_choice.function_name",
            "required",
        ),
        (
            {"messages": [{"role": "ROLE_SYSTEM", "content": [{"image": {"url": "https://x/y.png"}}]}]},
            "messages[0].content[0]",
            "text only",
        ),
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field(data: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(GatewayError) as caught:
        body_of(data)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.metadata["field"] == field
    assert words in caught.value.message


def test_what_the_messages_api_cannot_take_is_named_as_dropped() -> None:
    from google.protobuf import struct_pb2

    from model_gateway.providers.anthropic.request import dropped

    options = struct_pb2.Struct()
    options.update(
        {"thinking": {"type": "adaptive"}, "options": {"num_ctx": 8}, "logprobs": True, "betas": ["x"]}
    )
    request = pb.GenerateRequest(
        model="m",
        sampling=pb.Sampling(temperature=0.2, seed=7, frequency_penalty=0.5),
        provider_options=options,
    )
    body = translate(request, "claude-x", NO_SETTINGS, stream=False).body
    assert dropped(request) == ["seed", "frequency_penalty", "logprobs", "options"]
    assert not {"seed", "frequency_penalty", "logprobs", "options"} & body.keys()
    assert body["thinking"] == {"type": "adaptive"} and body["temperature"] == 0.2
