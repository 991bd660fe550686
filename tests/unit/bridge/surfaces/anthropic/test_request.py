"""Messages bodies → canonical requests.

Golden: the published request bodies of tests/fixtures/anthropic (the API
docs' and the SDKs' examples; sources in its README), read by this front
door and written again by the anthropic provider, come out as they went in:
an Anthropic upstream sees what the client sent.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf import json_format

from model_gateway.providers.anthropic.request import translate
from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.anthropic.request import beta_flags, parse_messages
from model_gateway_common.structs import struct_to_dict
from model_gateway_common.vocab.anthropic import MESSAGES_EXTRAS
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers.anthropic.support import settings_for

FIXTURES = Path(__file__).resolve().parents[5] / "tests" / "fixtures" / "anthropic"
HERE = Path(__file__).resolve().parent
REQUEST_CASES = sorted(
    p.name.split(".")[0]
    for p in FIXTURES.glob("messages_*.wire.json")
    if "response" not in p.name and "stream" not in p.name
)
# Where the provider writes a published body differently, and why.
NOT_VERBATIM: dict[str, set[str]] = {
    # System blocks are one canonical string: the provider sends them back as one block, and the
    # caller's cache_control breakpoint rides as the top-level cache_control.
    "messages_prompt_caching": {"system", "cache_control"},
}

WEATHER = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], **fields}


def call_and_result(result: Any, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": result, **extra}],
        },
    ]


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_published_bodies_reach_an_anthropic_upstream_as_sent(case: str) -> None:
    wire = orjson.loads((FIXTURES / f"{case}.wire.json").read_bytes())
    parsed = parse_messages(wire)
    sent = translate(parsed.request, wire["model"], settings_for(case), stream=parsed.stream).body
    differ = {key for key in wire.keys() | sent.keys() if wire.get(key) != sent.get(key)}
    assert differ == NOT_VERBATIM.get(case, set()), (differ, sent)


def test_claude_code_request_is_read_whole() -> None:
    """A request shaped like Claude Code 2.1.197's first call (claude_code_request.json: its shape as
    captured from the real client, with shortened texts and our own tool schemas)."""
    wire = orjson.loads((HERE / "claude_code_request.json").read_bytes())
    flags = (
        "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,unknown-beta-2099"
    )
    parsed = parse_messages(wire, beta_flags(flags))
    request = parsed.request
    assert parsed.stream and request.sampling.max_tokens == 32000
    assert len(request.tools) == 25 and not parsed.dropped_tools
    assert request.system.startswith("x-anthropic-billing-header") and "You are Claude Code" in request.system
    assert request.messages[-1].role == pb.ROLE_SYSTEM  # the mid-conversation system message
    assert request.user == wire["metadata"]["user_id"]
    assert request.metadata["session_id"] == "8f0c2d1e-5b7a-4c3d-9e2f-1a6b4c8d0e7f"
    options = struct_to_dict(request.provider_options)
    assert options["thinking"] == {"type": "adaptive"}
    assert options["output_config"] == {"effort": "high"}
    assert options["context_management"] == wire["context_management"]
    assert (
        options["anthropic-beta"][-1] == "unknown-beta-2099"
    )  # passed on; only an Anthropic upstream reads it
    assert options["cache_control"] == {"type": "ephemeral"}  # the caller's last breakpoint
    assert set(options) <= MESSAGES_EXTRAS
    # An Anthropic upstream gets the Messages-only keys back.
    sent = translate(request, "claude-sonnet-4-5", settings_for(""), stream=True).body
    assert {"thinking", "output_config", "context_management", "cache_control"} <= sent.keys()


def test_content_blocks() -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": "The grass is green."},
                    "title": "Facts",
                },
                {
                    "type": "document",
                    "source": {"type": "content", "content": [{"type": "text", "text": "Part two."}]},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Hmm.", "signature": "sig=="},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Calling."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"query": "x"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "sunny"}],
                    "is_error": True,
                },
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]
    parsed = parse_messages(
        body(messages=messages, system=[{"type": "text", "text": "A"}, {"type": "text", "text": "B"}])
    )
    request = parsed.request
    assert request.system == "A\n\nB"
    user, assistant, tool, after = request.messages
    assert [p.WhichOneof("part") for p in user.content] == ["text", "image", "image", "text", "text"]
    assert (user.content[1].image.mime_type, user.content[1].image.data) == (
        "image/png",
        b"\x89PNG\r\n\x1a\n",
    )
    assert user.content[2].image.url == "https://example.com/a.jpg"
    assert user.content[3].text == "Facts\n\nThe grass is green." and user.content[4].text == "Part two."
    assert assistant.reasoning == "Hmm."
    assert assistant.content[0].reasoning == pb.ReasoningPart(text="Hmm.", signature="sig==")
    assert assistant.content[1].reasoning == pb.ReasoningPart(redacted=True, data="opaque")
    assert assistant.content[2].text == "Calling."
    assert [(c.id, c.name, orjson.loads(c.arguments)) for c in assistant.tool_calls] == [
        ("toolu_1", "get_weather", {"city": "Paris"})
    ]
    assert (tool.role, tool.tool_call_id, tool.name, tool.is_error, tool.content[0].text) == (
        pb.ROLE_TOOL,
        "toolu_1",
        "get_weather",
        True,
        "sunny",
    )
    assert (after.role, after.content[0].text) == (pb.ROLE_USER, "Thanks")
    assert parsed.dropped_params == ["messages.1.content.4 (server_tool_use)"]


def test_tools_choice_and_sampling() -> None:
    server = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
    parsed = parse_messages(
        body(
            tools=[
                WEATHER,
                server,
                {
                    **WEATHER,
                    "name": "b",
                    "type": "custom",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                },
            ],
            tool_choice={"type": "any", "disable_parallel_tool_use": True},
            temperature=0.5,
            top_p=0.9,
            top_k=40,
            stop_sequences=["END"],
            metadata={"user_id": "user-1"},
            service_tier="auto",
            output_config={"effort": "low", "format": {"type": "json_schema", "schema": {"type": "object"}}},
        )
    )
    request = parsed.request
    assert [t.name for t in request.tools] == ["get_weather", "b"]
    assert struct_to_dict(request.tools[0].parameters) == WEATHER["input_schema"]
    assert request.tool_choice == pb.ToolChoice(mode=pb.ToolChoice.MODE_REQUIRED)
    assert parsed.dropped_tools == ["web_search"]
    assert parsed.dropped_params == ["tool_choice.disable_parallel_tool_use"]
    assert parsed.headers() == {
        "x-gateway-dropped-params": "tool_choice.disable_parallel_tool_use",
        "x-gateway-dropped-tools": "web_search",
    }
    s = request.sampling
    assert (s.temperature, s.top_p, s.top_k, list(s.stop), s.max_tokens) == (0.5, 0.9, 40, ["END"], 64)
    assert request.user == "user-1" and not request.metadata
    assert request.response_format.type == pb.ResponseFormat.TYPE_JSON_SCHEMA
    assert struct_to_dict(request.provider_options) == {
        "service_tier": "auto",
        "output_config": {"effort": "low"},
        "cache_control": {"type": "ephemeral", "ttl": "1h"},
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, pb.ToolChoice(mode=pb.ToolChoice.MODE_AUTO)),
        ({"type": "none"}, pb.ToolChoice(mode=pb.ToolChoice.MODE_NONE)),
        (
            {"type": "tool", "name": "get_weather"},
            pb.ToolChoice(mode=pb.ToolChoice.MODE_FUNCTION, function_name="get_weather"),
        ),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: pb.ToolChoice) -> None:
    assert parse_messages(body(tools=[WEATHER], tool_choice=choice)).request.tool_choice == expected


def test_a_choice_that_forces_a_dropped_server_tool_is_dropped_too() -> None:
    parsed = parse_messages(
        body(
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
            tool_choice={"type": "tool", "name": "web_search"},
        )
    )
    assert not parsed.request.tools and not parsed.request.HasField("tool_choice")
    assert parsed.dropped_params == ["tool_choice"]


@pytest.mark.parametrize(
    "thinking",
    [
        {"type": "enabled", "budget_tokens": 2048},
        {"type": "adaptive"},
        {"type": "disabled"},
        {"type": "between_tools"},
    ],
)
def test_thinking_configs_pass_as_provider_options(thinking: dict[str, Any]) -> None:
    assert struct_to_dict(parse_messages(body(thinking=thinking)).request.provider_options) == {
        "thinking": thinking
    }


def test_count_tokens_needs_no_max_tokens_and_never_streams() -> None:
    parsed = parse_messages(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}, counting=True
    )
    assert not parsed.stream and not parsed.request.sampling.HasField("max_tokens")


def test_string_tool_result_and_canonical_json() -> None:
    request = parse_messages(body(messages=call_and_result("22 C"), tools=[WEATHER])).request
    assert json_format.MessageToDict(request.messages[2]) == {
        "role": "ROLE_TOOL",
        "content": [{"text": "22 C"}],
        "toolCallId": "toolu_1",
        "name": "get_weather",
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"max_tokens": 0}, "max_tokens: 0 is out of range [1, 2147483647]"),
        ({"max_tokens": "many"}, 'max_tokens: Input should be a valid integer, got "many"'),
        ({"model": None}, "model: Field required"),
        ({"messages": []}, "messages: at least one message is required"),
        ({"temperature": 1.5}, "temperature: Input should be between 0 and 1, got 1.5"),
        (
            {"messages": [{"role": "tool", "content": "x"}]},
            "messages.0.role: Input should be 'user' or 'assistant', got \"tool\"",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "a"}, {"type": "video", "url": "x"}],
                    }
                ]
            },
            'messages.0.content.1.type: unknown content block type "video" at index 1; '
            "expected one of text, image, document, search_result, tool_result",
        ),
        (
            {
                "messages": [
                    *call_and_result("x")[:1],
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}],
                    },
                ]
            },
            'messages.1.content.0.tool_use_id: "toolu_9" matches no tool_use block of an earlier assistant '
            "turn; each tool_result must answer a tool_use",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": {}}]}]},
            "messages.0.content.0.type: unknown content block type {} at index 0; "
            "expected one of text, image, document, search_result, tool_result",
        ),
        ({"output_config": False}, "output_config: Input should be a valid dictionary, got false"),
        ({"tools": [{"name": "t"}]}, "tools.0.input_schema: Field required"),
        (
            {"tool_choice": {"type": "sometimes"}},
            "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none', got \"sometimes\"",
        ),
        ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens: Field required"),
        ({"system": [{"type": "image"}]}, 'system.0.type: system blocks are text blocks, got "image"'),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {"type": "base64", "media_type": "image/png", "data": "***"},
                            }
                        ],
                    }
                ]
            },
            "messages.0.content.0.source.data: is not valid base64",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "document",
                                "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                            }
                        ],
                    }
                ]
            },
            "messages.0.content.0.source.type: the gateway carries documents as text "
            "(source type 'text' or 'content'), got \"base64\"",
        ),
    ],
)
def test_bad_input_names_the_field(fields: dict[str, Any], message: str) -> None:
    raw = {key: value for key, value in body(**fields).items() if value is not None}
    with pytest.raises(BridgeError) as caught:
        parse_messages(raw)
    assert (caught.value.status, caught.value.message) == (400, message)


def test_dropped_names_join_the_providers() -> None:
    parsed = parse_messages(
        body(tools=[WEATHER], tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    )
    route = {
        "x-gateway-model": "m",
        "x-gateway-dropped-params": "thinking, tool_choice.disable_parallel_tool_use",
    }
    assert parsed.headers(route) == {
        "x-gateway-model": "m",
        "x-gateway-dropped-params": "tool_choice.disable_parallel_tool_use, thinking",
    }


def test_beta_flags() -> None:
    assert beta_flags(" a, b,,a ") == ["a", "b"] and beta_flags(None) == []
