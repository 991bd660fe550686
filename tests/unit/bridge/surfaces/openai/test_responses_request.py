"""POST /v1/responses bodies → the canonical request: input items, tools, the refused and the dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.openai.errors import error_body
from model_gateway_bridge.surfaces.openai.responses import reasoning
from model_gateway_bridge.surfaces.openai.responses.request import parse_responses
from model_gateway_bridge.surfaces.openai.responses.tools import MAX_NAME
from model_gateway_common.structs import struct_to_dict
from modelgateway.v1 import gateway_pb2 as pb

FIXTURES = Path(__file__).parent / "fixtures"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "llama3.2", "input": "hi", **fields}


def fails(fields: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(BridgeError) as caught:
        parse_responses(fields)
    assert caught.value.status == 400
    error: dict[str, Any] = error_body(caught.value)["error"]
    return error


def codex(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())["body"]
    return loaded


# --- input ----------------------------------------------------------------------------------


def test_a_string_input_is_one_user_message_and_instructions_are_the_system_text() -> None:
    call = parse_responses(body(instructions="Be brief.", max_output_tokens=64, temperature=0.2, top_p=0.9))
    request = call.request
    assert request.system == "Be brief."
    assert [(m.role, m.content[0].text) for m in request.messages] == [(pb.ROLE_USER, "hi")]
    assert request.sampling.max_tokens == 64
    assert (request.sampling.temperature, request.sampling.top_p) == (0.2, 0.9)
    assert not call.stream and call.headers() == {}
    assert call.echo["instructions"] == "Be brief." and call.echo["max_output_tokens"] == 64


def test_message_items_with_every_role_and_part() -> None:
    items = [
        {"role": "system", "content": "sys"},
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
            ],
        },
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "a cat", "annotations": []}],
        },
    ]
    request = parse_responses(body(input=items)).request
    roles = [m.role for m in request.messages]
    assert roles == [pb.ROLE_SYSTEM, pb.ROLE_DEVELOPER, pb.ROLE_USER, pb.ROLE_ASSISTANT]
    user = request.messages[2]
    assert user.content[0].text == "look"
    assert user.content[1].image == pb.ImagePart(url="data:image/png;base64,iVBORw0KGgo=", detail="low")
    assert request.messages[3].content[0].text == "a cat"


def test_a_turn_of_reasoning_text_and_calls_is_one_assistant_message() -> None:
    items = [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "two cities"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {
            "type": "function_call",
            "call_id": "call_a",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {"type": "function_call", "call_id": "call_b", "name": "get_weather", "arguments": {"city": "Rome"}},
        {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
        {
            "type": "function_call_output",
            "call_id": "call_b",
            "output": [{"type": "input_text", "text": "rain"}],
        },
    ]
    messages = parse_responses(body(input=items, tools=[WEATHER])).request.messages
    assert [m.role for m in messages] == [pb.ROLE_USER, pb.ROLE_ASSISTANT, pb.ROLE_TOOL, pb.ROLE_TOOL]
    turn = messages[1]
    assert turn.reasoning == "two cities" and turn.content[0].text == "Checking."
    assert [(c.id, c.name, json.loads(c.arguments)) for c in turn.tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Rome"}),
    ]
    assert [(m.tool_call_id, m.name, m.content[0].text) for m in messages[2:]] == [
        ("call_a", "get_weather", "sunny"),
        ("call_b", "get_weather", "rain"),
    ]


def test_reasoning_opens_a_new_turn_after_an_earlier_answer() -> None:
    items = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "first"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    ]
    messages = parse_responses(body(input=items)).request.messages
    assert [m.role for m in messages] == [pb.ROLE_USER, pb.ROLE_ASSISTANT, pb.ROLE_ASSISTANT]
    assert messages[2].reasoning == "hmm" and messages[2].tool_calls[0].id == "c1"


def test_the_gateways_encrypted_content_brings_signed_reasoning_and_call_signatures_back() -> None:
    signed = pb.ReasoningPart(text="think", signature="sig-a", provider_kind="anthropic")
    token = reasoning.encode([signed], {"c1": "gem-sig"})
    assert token is not None and token.startswith("mg1.")
    items = [
        {"role": "user", "content": "a"},
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "think"}],
            "encrypted_content": token,
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ]
    turn = parse_responses(body(input=items)).request.messages[1]
    assert turn.content[0].reasoning == signed
    assert turn.tool_calls[0].signature == "gem-sig"


def test_encrypted_content_from_openai_is_kept_as_an_openai_reasoning_part() -> None:
    items = [
        {"role": "user", "content": "a"},
        {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAABo-opaque"},
        {"role": "assistant", "content": "b"},
    ]
    turn = parse_responses(body(input=items)).request.messages[1]
    assert turn.content[0].reasoning == pb.ReasoningPart(
        data="gAAAAABo-opaque", redacted=True, provider_kind="openai"
    )
    assert turn.content[1].text == "b"


def test_a_reasoning_item_with_nothing_in_it_adds_nothing() -> None:
    items = [
        {"role": "user", "content": "a"},
        {"type": "reasoning", "summary": [], "encrypted_content": None},
        {"role": "assistant", "content": "b"},
    ]
    turn = parse_responses(body(input=items)).request.messages[1]
    assert not turn.reasoning and [p.WhichOneof("part") for p in turn.content] == ["text"]


def test_a_custom_tool_call_is_kept_as_a_function_call_with_its_input() -> None:
    items = [
        {"role": "user", "content": "patch it"},
        {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch"},
        {"type": "custom_tool_call_output", "call_id": "c1", "output": "done"},
    ]
    messages = parse_responses(body(input=items)).request.messages
    assert json.loads(messages[1].tool_calls[0].arguments) == {"input": "*** Begin Patch"}
    assert messages[2].tool_call_id == "c1"


def test_hosted_tool_records_are_dropped_and_named() -> None:
    items = [
        {"role": "user", "content": "search"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}},
        {"role": "assistant", "content": "found"},
    ]
    call = parse_responses(body(input=items))
    assert [m.role for m in call.request.messages] == [pb.ROLE_USER, pb.ROLE_ASSISTANT]
    assert call.headers()["x-gateway-dropped-params"] == "input.web_search_call"


@pytest.mark.parametrize(
    ("input_", "param", "says"),
    [
        (
            [{"role": "user", "content": "a"}, {"type": "telepathy"}],
            "input[1].type",
            '"telepathy" at input index 1',
        ),
        ([{"type": "item_reference", "id": "msg_1"}], "input[0].type", "stored responses"),
        ([{"content": "no role, no type"}], "input[0].type", "Missing required parameter"),
        ([{"role": "robot", "content": "x"}], "input[0].role", "robot"),
        ([{"role": "user"}], "input[0].content", "Missing required parameter"),
        (
            [{"role": "user", "content": [{"type": "input_audio"}]}],
            "input[0].content[0].type",
            "input_audio",
        ),
        (
            [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}],
            "input[0].content[0].file_id",
            "Files API",
        ),
        ([{"type": "function_call_output", "call_id": "nope", "output": "x"}], "input[0].call_id", "nope"),
        (
            [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{not json"}],
            "input[0].arguments",
            "JSON",
        ),
        ([], "input", "at least one item"),
        ("", "input", "must not be empty"),
        (None, "input", "Missing required parameter"),
        ([{"type": "web_search_call", "id": "ws"}], "input", "every item was dropped"),
    ],
)
def test_bad_input_is_a_400_naming_the_item(input_: Any, param: str, says: str) -> None:
    error = fails(body(input=input_))
    assert error["param"] == param
    assert says in error["message"]
    assert error["type"] == "invalid_request_error"


# --- stored state: refused -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"previous_response_id": "resp_123"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"background": True}, "background"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
    ],
)
def test_what_needs_stored_responses_is_a_clear_400(fields: dict[str, Any], param: str) -> None:
    error = fails(body(**fields))
    assert error["param"] == param and error["code"] == "unsupported_parameter"
    assert "not" in error["message"]


def test_previous_response_id_says_stored_responses_are_not_enabled() -> None:
    error = fails(body(previous_response_id="resp_123"))
    assert "stored responses" in error["message"] and "not enabled" in error["message"]


# --- tools ---------------------------------------------------------------------------------


def test_function_tools_keep_strict_and_their_schema() -> None:
    call = parse_responses(body(tools=[WEATHER, {**WEATHER, "name": "loose", "strict": False}]))
    first, second = call.request.tools
    assert (first.name, first.description, first.strict) == ("get_weather", "Weather for a city", True)
    assert struct_to_dict(first.parameters) == WEATHER["parameters"]
    assert (second.name, second.strict) == ("loose", False)
    assert call.echo["tools"][0] == WEATHER


def test_namespace_tools_are_flattened_with_unique_safe_names() -> None:
    long_ns = "n" * 40
    tools = [
        {"type": "function", "name": "crm__lookup", "parameters": {"type": "object"}},  # takes the plain name
        {
            "type": "namespace",
            "name": "crm",
            "description": "Customer records",
            "tools": [
                {"type": "function", "name": "lookup", "parameters": {"type": "object"}},
                {"type": "function", "name": "add.note", "description": "Add a note"},
                {"type": "custom", "name": "freeform"},
            ],
        },
        {
            "type": "namespace",
            "name": long_ns,
            "description": "",
            "tools": [{"type": "function", "name": "x" * 40}],
        },
    ]
    call = parse_responses(body(tools=tools))
    names = [t.name for t in call.request.tools]
    assert names[0] == "crm__lookup" and names[1] == "crm__lookup_2" and names[2] == "crm__add_note"
    assert len(names[3]) == MAX_NAME and names[3].startswith(long_ns)
    assert len(set(names)) == len(names)
    assert call.request.tools[1].description == "Customer records"  # none of its own
    assert call.request.tools[2].description == "Add a note"
    assert call.tools.answer_name("crm__lookup_2") == ("lookup", "crm")
    assert call.tools.answer_name("crm__lookup") == ("crm__lookup", None)
    assert call.headers()["x-gateway-dropped-tools"] == "crm.custom:freeform"
    assert call.echo["tools"][1]["tools"][0]["name"] == "lookup"


def test_a_namespaced_call_in_the_input_is_sent_under_its_flat_name() -> None:
    tools = [
        {
            "type": "namespace",
            "name": "shell",
            "description": "d",
            "tools": [{"type": "function", "name": "run"}],
        }
    ]
    items = [
        {"role": "user", "content": "ls"},
        {"type": "function_call", "call_id": "c1", "name": "run", "namespace": "shell", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "a b"},
    ]
    messages = parse_responses(body(tools=tools, input=items)).request.messages
    assert messages[1].tool_calls[0].name == "shell__run" and messages[2].name == "shell__run"


def test_hosted_tools_are_dropped_and_named_in_a_header() -> None:
    tools = [
        WEATHER,
        {"type": "web_search", "external_web_access": False},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "local_shell"},
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
        {"type": "mcp", "server_label": "deepwiki", "server_url": "https://mcp.example"},
    ]
    call = parse_responses(body(tools=tools, tool_choice={"type": "web_search"}))
    assert [t.name for t in call.request.tools] == ["get_weather"]
    assert call.headers()["x-gateway-dropped-tools"] == (
        "web_search, file_search, local_shell, custom:apply_patch, mcp:deepwiki"
    )
    assert call.request.tool_choice.mode == pb.ToolChoice.MODE_AUTO
    assert "tool_choice" in call.headers()["x-gateway-dropped-params"]


@pytest.mark.parametrize(
    ("choice", "mode", "function"),
    [
        ("auto", pb.ToolChoice.MODE_AUTO, ""),
        ("none", pb.ToolChoice.MODE_NONE, ""),
        ("required", pb.ToolChoice.MODE_REQUIRED, ""),
        ({"type": "function", "name": "get_weather"}, pb.ToolChoice.MODE_FUNCTION, "get_weather"),
        ({"type": "function", "name": "run"}, pb.ToolChoice.MODE_FUNCTION, "shell__run"),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_weather"}],
            },
            pb.ToolChoice.MODE_REQUIRED,
            "",
        ),
    ],
)
def test_tool_choice(choice: Any, mode: int, function: str) -> None:
    tools = [
        WEATHER,
        {
            "type": "namespace",
            "name": "shell",
            "description": "",
            "tools": [{"type": "function", "name": "run"}],
        },
    ]
    call = parse_responses(body(tools=tools, tool_choice=choice))
    assert call.request.tool_choice == pb.ToolChoice(mode=mode, function_name=function)  # type: ignore[arg-type]
    assert call.echo["tool_choice"] == choice
    if isinstance(choice, dict) and choice["type"] == "allowed_tools":
        assert [t.name for t in call.request.tools] == ["get_weather"]


def test_parallel_tool_calls_false_goes_to_chat_upstreams_only_with_tools() -> None:
    with_tools = parse_responses(body(tools=[WEATHER], parallel_tool_calls=False))
    assert struct_to_dict(with_tools.request.provider_options) == {"parallel_tool_calls": False}
    assert with_tools.echo["parallel_tool_calls"] is False
    without = parse_responses(body(parallel_tool_calls=False))
    assert not without.request.provider_options.fields
    assert parse_responses(body(tools=[WEATHER])).request.provider_options.fields == {}


# --- text.format -----------------------------------------------------------------------------


def test_text_format_json_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    text = {
        "format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": True},
        "verbosity": "low",
    }
    call = parse_responses(body(text=text))
    fmt = call.request.response_format
    assert (fmt.type, fmt.schema_name, fmt.strict) == (pb.ResponseFormat.TYPE_JSON_SCHEMA, "thing", True)
    assert struct_to_dict(fmt.schema) == schema
    assert call.echo["text"] == {"format": text["format"]}
    assert call.headers()["x-gateway-dropped-params"] == "text.verbosity"


@pytest.mark.parametrize(
    ("fmt", "kind"),
    [
        ({"type": "text"}, pb.ResponseFormat.TYPE_TEXT),
        ({"type": "json_object"}, pb.ResponseFormat.TYPE_JSON_OBJECT),
    ],
)
def test_text_format_text_and_json_object(fmt: dict[str, Any], kind: int) -> None:
    assert parse_responses(body(text={"format": fmt})).request.response_format.type == kind


@pytest.mark.parametrize(
    ("text", "param"),
    [
        ({"format": {"type": "yaml"}}, "text.format.type"),
        ({"format": {"type": "json_schema", "name": "x"}}, "text.format.schema"),
        ({"format": {"type": "json_schema", "schema": {}}}, "text.format.name"),
        ("json", "text"),
    ],
)
def test_bad_text_format(text: Any, param: str) -> None:
    assert fails(body(text=text))["param"] == param


# --- what is dropped -------------------------------------------------------------------------


def test_responses_only_extras_are_dropped_and_named_never_forwarded() -> None:
    call = parse_responses(
        body(
            include=["reasoning.encrypted_content"],
            prompt_cache_key="k",
            client_metadata={"a": "b"},
            reasoning={"effort": "high", "summary": "auto"},
            store=True,
            service_tier="flex",
            truncation="auto",
            safety_identifier="u1",
            top_logprobs=2,
            some_future_field={"x": 1},
            metadata={"team": "a"},
            user="u",
            stream_options={"include_obfuscation": False},
        )
    )
    dropped = call.headers()["x-gateway-dropped-params"].split(", ")
    assert dropped == [
        "include",
        "prompt_cache_key",
        "client_metadata",
        "reasoning",
        "service_tier",
        "truncation",
        "safety_identifier",
        "top_logprobs",
        "some_future_field",
        "store",
    ]
    request = call.request
    assert not request.provider_options.fields  # nothing of them reaches any upstream
    assert dict(request.metadata) == {"team": "a"} and request.user == "u"
    assert call.carry_reasoning
    echo = call.echo
    assert echo["reasoning"] == {"effort": "high", "summary": "auto"}
    assert (echo["prompt_cache_key"], echo["safety_identifier"], echo["store"]) == ("k", "u1", False)


def test_the_front_doors_dropped_fields_come_before_the_providers() -> None:
    call = parse_responses(body(include=["x"], tools=[{"type": "web_search"}]))
    route = {"x-gateway-model": "llama3.2", "x-gateway-dropped-params": "parallel_tool_calls, include"}
    assert call.headers(route) == {
        "x-gateway-model": "llama3.2",
        "x-gateway-dropped-params": "include, parallel_tool_calls",
        "x-gateway-dropped-tools": "web_search",
    }
    assert parse_responses(body()).headers(route) == route  # nothing of its own: the provider's as they are


def test_store_false_is_the_default_behaviour_and_not_named() -> None:
    assert parse_responses(body(store=False)).headers() == {}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": None}, "model"),
        ({"temperature": "hot"}, "temperature"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"stream": "yes"}, "stream"),
        (
            {"tools": [{"type": "namespace", "name": "ns", "tools": [{"type": "function"}]}]},
            "tools[0].tools[0].name",
        ),
        ({"tools": [{"name": "no type"}]}, "tools[0].type"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"metadata": {"a": 1}}, "metadata.a"),
        ({"include": [1]}, "include[0]"),
    ],
)
def test_bad_fields_name_the_parameter(fields: dict[str, Any], param: str) -> None:
    assert fails(body(**fields))["param"] == param


# --- what Codex sends ------------------------------------------------------------------------


def test_the_codex_0171_first_request_is_accepted() -> None:
    raw = codex("codex_0171_request.json")
    call = parse_responses(orjson.loads(orjson.dumps(raw)))
    request = call.request
    assert call.stream and call.carry_reasoning
    assert [m.role for m in request.messages] == [
        pb.ROLE_DEVELOPER,
        pb.ROLE_DEVELOPER,
        pb.ROLE_USER,
        pb.ROLE_USER,
    ]
    assert request.messages[-1].content[0].text == "say hi"
    names = [t.name for t in request.tools]
    assert "exec_command" in names and "multi_agent_v1__spawn_agent" in names
    assert all(len(n) <= MAX_NAME for n in names)
    headers = call.headers()
    assert headers["x-gateway-dropped-tools"] == "web_search"
    assert set(headers["x-gateway-dropped-params"].split(", ")) == {
        "include",
        "prompt_cache_key",
        "client_metadata",
        "reasoning",
    }
    assert not request.provider_options.fields  # parallel_tool_calls is true


def test_the_codex_0171_tool_turn_is_accepted() -> None:
    call = parse_responses(codex("codex_0171_tool_turn.json"))
    messages = call.request.messages
    assert [m.role for m in messages[-3:]] == [pb.ROLE_USER, pb.ROLE_ASSISTANT, pb.ROLE_TOOL]
    call_message, result = messages[-2], messages[-1]
    assert call_message.tool_calls[0].name == "exec_command"
    assert result.tool_call_id == call_message.tool_calls[0].id
