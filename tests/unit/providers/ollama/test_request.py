"""Canonical requests → Ollama bodies (providers/ollama/request.py), against the golden fixtures.

The request cases cover: history + tools + images + options + keep_alive/think
(chat_tools_images), response_format json_schema → `format: <schema>`
(chat_structured), a raw prompt with provider_options `raw: true`
(generate_raw), json_object → `format: "json"` (generate_json_mode) and every
option, sampling + provider_options.options (generate_options).
"""

from __future__ import annotations

from typing import Any

import grpc
import orjson
import pytest

from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.ollama.request import CHAT_PATH, GENERATE_PATH, chat_body, request_body
from model_gateway_common.structs import plain_json
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases
from tests.unit.providers.ollama.support import DIALECT, canonical_request, load, user_request

PATHS = {"chat": CHAT_PATH, "generate": GENERATE_PATH}


@pytest.mark.parametrize("case", [c for c in cases.cases(DIALECT, "request") if not c.startswith("embed_")])
def test_request_matches_published_body(case: str) -> None:
    request = canonical_request(case)
    expected = load(f"{case}.wire.json")

    got_path, body = request_body(request, expected["model"], stream=expected.get("stream", False))

    assert got_path == PATHS[case.split("_")[0]]
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
