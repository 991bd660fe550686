"""Request translation rules beyond the golden cases: settings, options, schemas and bad input."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from model_gateway.errors import GatewayError
from model_gateway.providers.base import ModelSettings
from model_gateway.providers.gemini.request import SKIP_SIGNATURE, generate_body
from model_gateway.providers.gemini.schema import SchemaContext, to_gemini_schema
from model_gateway.providers.gemini.wire import api_root, method_path
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers.gemini.support import SETTINGS, parse, user_request


def request(**fields: Any) -> pb.GenerateRequest:
    data = {"model": "m", "messages": [{"role": "ROLE_USER", "content": [{"text": "hi"}]}], **fields}
    return parse(data, pb.GenerateRequest)


def rejected(call: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call()
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return caught.value


# --- settings and options -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "model_limit", "sent"),
    [(None, 2048, 2048), (100, 2048, 100), (4096, 2048, 2048), (300, None, 300), (None, None, None)],
)
def test_max_output_tokens_defaults_to_and_is_capped_by_the_model(
    asked: int | None, model_limit: int | None, sent: int | None
) -> None:
    sampling = {} if asked is None else {"maxTokens": asked}
    body = generate_body(request(sampling=sampling), ModelSettings(name="g", max_output_tokens=model_limit))
    assert body.get("generationConfig", {}).get("maxOutputTokens") == sent


def test_thinking_options_of_the_model_and_the_request() -> None:
    settings = ModelSettings(
        name="g", options={"include_thoughts": True, "thinking_budget": 512, "thinking_level": "low"}
    )
    body = generate_body(request(), settings)
    assert body["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingBudget": 512,
        "thinkingLevel": "low",
    }
    own = request(providerOptions={"thinkingConfig": {"thinkingBudget": 0}})
    assert generate_body(own, settings)["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 0


def test_safety_settings_option() -> None:
    safety = [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
    body = generate_body(request(), ModelSettings(name="g", options={"safety_settings": safety}))
    assert body["safetySettings"] == safety


def test_native_json_schema_sends_the_schema_unconverted() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"not": {"type": "string"}}},
        "additionalProperties": False,
    }
    settings = ModelSettings(name="g", options={"native_json_schema": True})
    body = generate_body(
        request(
            responseFormat={"type": "TYPE_JSON_SCHEMA", "schema": schema},
            tools=[{"name": "f", "parameters": schema}],
        ),
        settings,
    )
    assert body["generationConfig"]["responseJsonSchema"] == schema
    assert "responseSchema" not in body["generationConfig"]
    assert body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == schema


def test_the_signature_fallback_can_be_turned_off() -> None:
    history = request(
        messages=[
            {"role": "ROLE_USER", "content": [{"text": "time?"}]},
            {"role": "ROLE_ASSISTANT", "toolCalls": [{"id": "a", "name": "now", "arguments": "{}"}]},
            {"role": "ROLE_TOOL", "toolCallId": "a", "content": [{"text": "noon"}]},
        ]
    )
    on = generate_body(history, SETTINGS)["contents"][1]["parts"][0]
    off = generate_body(history, ModelSettings(name="g", options={"thought_signature_fallback": False}))
    assert on["thoughtSignature"] == SKIP_SIGNATURE
    assert "thoughtSignature" not in off["contents"][1]["parts"][0]


# --- conversation shapes ----------------------------------------------------------------------


def test_system_only_request_becomes_the_user_turn() -> None:
    only = parse(
        {"model": "m", "messages": [{"role": "ROLE_SYSTEM", "content": [{"text": "Say hi."}]}]},
        pb.GenerateRequest,
    )
    body = generate_body(only, SETTINGS)
    assert body == {"contents": [{"role": "user", "parts": [{"text": "Say hi."}]}]}


def test_empty_assistant_turns_are_dropped() -> None:
    body = generate_body(
        request(
            messages=[
                {"role": "ROLE_USER", "content": [{"text": "a"}]},
                {"role": "ROLE_ASSISTANT", "content": [{"text": ""}]},
                {"role": "ROLE_USER", "content": [{"text": "b"}]},
            ]
        ),
        SETTINGS,
    )
    assert body["contents"] == [{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}]


# --- bad input names the field ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field_path"),
    [
        ({"messages": []}, "messages"),
        (
            {
                "messages": [
                    {"role": "ROLE_USER", "content": [{"text": "q"}]},
                    {"role": "ROLE_TOOL", "toolCallId": "nope", "content": [{"text": "r"}]},
                ]
            },
            "messages[1].tool_call_id",
        ),
        (
            {
                "messages": [
                    {"role": "ROLE_ASSISTANT", "toolCalls": [{"id": "a", "name": "f", "arguments": "[1]"}]},
                ]
            },
            "messages[0].tool_calls[0].arguments",
        ),
        (
            {
                "messages": [
                    {
                        "role": "ROLE_ASSISTANT",
                        "toolCalls": [{"id": "a", "name": "f", "arguments": '{"x": '}],
                    },
                ]
            },
            "messages[0].tool_calls[0].arguments",
        ),
        ({"toolChoice": {"mode": "MODE_REQUIRED"}}, "tool_choice"),
        (
            {"tools": [{"name": "f"}], "toolChoice": {"mode": "MODE_FUNCTION", "functionName": "g"}},
            "tool_choice.function_name",
        ),
        (
            {"messages": [{"role": "ROLE_USER", "content": [{"image": {"url": "ftp://x/y.png"}}]}]},
            "messages[0].content[0].image.url",
        ),
        (
            {"messages": [{"role": "ROLE_USER", "content": [{"image": {"data": "AAAA"}}]}]},
            "messages[0].content[0].image.mime_type",
        ),
        (
            {"messages": [{"role": "ROLE_SYSTEM", "content": [{"image": {"url": "https://x/y.png"}}]}]},
            "messages[0].content[0]",
        ),
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field(fields: dict[str, Any], field_path: str) -> None:
    error = rejected(lambda: generate_body(request(**fields), SETTINGS))
    assert error.metadata["field"] == field_path


# --- JSON schema conversion -------------------------------------------------------------------

CONTEXT = SchemaContext("my-gemini", "JSON-schema output")


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        pytest.param(
            {"type": ["integer", "null"]}, {"type": "INTEGER", "nullable": True}, id="type-list-null"
        ),
        pytest.param(
            {"type": ["string", "number"]},
            {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]},
            id="type-list",
        ),
        pytest.param(
            {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
            id="oneOf",
        ),
        pytest.param(
            {"enum": ["a", None]}, {"type": "STRING", "enum": ["a"], "nullable": True}, id="enum-null"
        ),
        pytest.param(
            {"type": "boolean", "enum": [True]}, {"type": "BOOLEAN", "enum": ["true"], "format": "enum"}
        ),
        pytest.param(
            {"type": "string", "format": "uri", "x-extra": 1}, {"type": "STRING"}, id="dropped-keys"
        ),
        pytest.param({"type": "object", "properties": {}}, {"type": "OBJECT"}, id="empty-object"),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "ghost"]},
            {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["a"]},
            id="required-unknown",
        ),
        pytest.param(
            {
                "allOf": [
                    {"properties": {"a": {"type": "string"}}},
                    {"properties": {"b": {"type": "integer"}}},
                ]
            },
            {"type": "OBJECT", "properties": {"a": {"type": "STRING"}, "b": {"type": "INTEGER"}}},
            id="allOf-objects",
        ),
        pytest.param(True, {}, id="any"),
    ],
)
def test_schema_conversion(schema: Any, expected: dict[str, Any]) -> None:
    assert to_gemini_schema(schema if isinstance(schema, dict) else {}, "s", CONTEXT) == expected


@pytest.mark.parametrize(
    ("schema", "where", "why"),
    [
        ({"type": "object", "properties": {"a": {"not": {"type": "string"}}}}, "s.properties.a.not", "'not'"),
        ({"if": {"type": "string"}, "then": {"minLength": 1}}, "s.if", "'if'"),
        ({"type": "object", "patternProperties": {"^x": {}}}, "s.patternProperties", "patternProperties"),
        ({"type": "array", "items": [{"type": "string"}]}, "s.items", "tuple"),
        ({"const": 3}, "s.const", "string constants"),
        (
            {
                "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
                "$ref": "#/$defs/N",
            },
            "s.properties.next.$ref",
            "recursive",
        ),
        ({"$ref": "https://example.com/schema.json"}, "s.$ref", "local"),
        ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "s.allOf[1].type", "disagree"),
        ({"type": "date"}, "s.type", "unknown type"),
    ],
)
def test_schemas_gemini_cannot_express_name_model_feature_and_field(
    schema: Any, where: str, why: str
) -> None:
    error = rejected(lambda: to_gemini_schema(schema, "s", CONTEXT))
    assert error.metadata["field"] == where
    assert why in error.message
    assert "'my-gemini'" in error.message and "JSON-schema output" in error.message


def test_a_rejected_tool_schema_names_the_tool_field() -> None:
    bad = request(tools=[{"name": "f", "parameters": {"type": "object", "properties": {"x": {"not": {}}}}}])
    error = rejected(lambda: generate_body(bad, ModelSettings(name="flash")))
    assert error.metadata["field"] == "tools[0].parameters.properties.x.not"
    assert "'flash'" in error.message and "tool parameters" in error.message


# --- paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "root"),
    [
        ("https://generativelanguage.googleapis.com", "https://generativelanguage.googleapis.com/v1beta"),
        ("https://generativelanguage.googleapis.com/", "https://generativelanguage.googleapis.com/v1beta"),
        (
            "https://generativelanguage.googleapis.com/v1beta",
            "https://generativelanguage.googleapis.com/v1beta",
        ),
        ("https://proxy.internal/gemini/v1", "https://proxy.internal/gemini/v1"),
        ("http://127.0.0.1:9000/v1alpha", "http://127.0.0.1:9000/v1alpha"),
    ],
)
def test_api_root(base: str, root: str) -> None:
    assert api_root(base) == root


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("gemini-2.5-flash", "/models/gemini-2.5-flash:generateContent"),
        ("models/gemini-2.5-flash", "/models/gemini-2.5-flash:generateContent"),
        ("tunedModels/my-model-42", "/tunedModels/my-model-42:generateContent"),
    ],
)
def test_method_path(model: str, path: str) -> None:
    assert method_path(model, "generateContent") == path


def test_user_request_helper_is_minimal() -> None:
    assert generate_body(user_request("x"), SETTINGS) == {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}]
    }


def test_other_dialects_options_are_named_as_dropped() -> None:
    from google.protobuf import struct_pb2

    from model_gateway.providers.base import NO_SETTINGS
    from model_gateway.providers.gemini.request import dropped, generate_body

    options = struct_pb2.Struct()
    options.update({"safetySettings": [], "keep_alive": "5m", "logprobs": True, "thinkingConfig": {}})
    request = pb.GenerateRequest(
        model="m",
        messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hi")])],
        provider_options=options,
    )
    body = generate_body(request, NO_SETTINGS)
    assert dropped(request) == ["keep_alive", "logprobs"]
    assert not {"keep_alive", "logprobs"} & body.keys()
