"""Canonical requests → OpenAI bodies (providers/openai/request.py), against the golden fixtures.

The fixtures follow the openai-openapi spec's CreateChatCompletionRequest and
CreateCompletionRequest.
"""

from __future__ import annotations

import base64

import grpc
import orjson
import pytest

from model_gateway.errors import GatewayError
from model_gateway.providers.openai.request import (
    CHAT_PATH,
    COMPLETIONS_PATH,
    chat_body,
    completion_body,
    request_body,
)
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases
from tests.unit.providers.openai.support import DIALECT, canonical_request, fixture_json

PATHS = {"chat": CHAT_PATH, "completion": COMPLETIONS_PATH}


@pytest.mark.parametrize("case", cases.cases(DIALECT, "request"))
def test_request_translates_to_the_wire_body(case: str) -> None:
    request = canonical_request(fixture_json(f"{case}.canonical.json"))
    wire = fixture_json(f"{case}.wire.json")
    path, body = request_body(request, wire["model"], stream=wire.get("stream", False))
    assert path == PATHS[case.split("_")[0]]
    assert body == wire
    # The body must survive the trip through the JSON encoder the HTTP layer uses.
    assert orjson.loads(orjson.dumps(body)) == wire


def test_provider_options_never_replace_the_translated_fields() -> None:
    request = canonical_request(
        {
            "model": "m",
            "messages": [{"role": "ROLE_USER", "content": [{"text": "hi"}]}],
            "sampling": {"temperature": 0.5},
            "providerOptions": {"model": "x", "messages": [], "stream": False, "temperature": 1.0},
        }
    )
    body = chat_body(request, "upstream-model", stream=True)
    assert body["model"] == "upstream-model"
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    # Other keys are the operator's to set, as vLLM extras are.
    assert body["temperature"] == 1


def test_ollama_native_options_stay_out_of_openai_bodies() -> None:
    request = canonical_request(
        {
            "model": "m",
            "messages": [{"role": "ROLE_USER", "content": [{"text": "hi"}]}],
            "providerOptions": {
                "options": {"num_ctx": 4096},
                "keep_alive": "5m",
                "think": False,
                "min_p": 0.1,
            },
        }
    )
    body = chat_body(request, "m", stream=False)
    assert body["min_p"] == 0.1
    assert not {"options", "keep_alive", "think"} & body.keys()


def test_invalid_tool_call_arguments_name_the_field() -> None:
    request = canonical_request(
        {
            "model": "m",
            "messages": [
                {"role": "ROLE_USER", "content": [{"text": "hi"}]},
                {"role": "ROLE_ASSISTANT", "toolCalls": [{"id": "c1", "name": "f", "arguments": "{}"}]},
                {"role": "ROLE_TOOL", "toolCallId": "c1", "content": [{"text": "ok"}]},
                {
                    "role": "ROLE_ASSISTANT",
                    "toolCalls": [
                        {"id": "c2", "name": "f", "arguments": "{}"},
                        {"id": "c3", "name": "f", "arguments": '{"city": '},
                    ],
                },
            ],
        }
    )
    with pytest.raises(GatewayError) as caught:
        chat_body(request, "m", stream=False)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.metadata["field"] == "messages[3].tool_calls[1].arguments"
    assert "not valid JSON" in caught.value.message


def test_tool_result_without_any_call_id_is_rejected() -> None:
    request = canonical_request(
        {"model": "m", "messages": [{"role": "ROLE_TOOL", "name": "now", "content": [{"text": "12:00"}]}]}
    )
    with pytest.raises(GatewayError) as caught:
        chat_body(request, "m", stream=False)
    assert caught.value.metadata["field"] == "messages[0].tool_call_id"


def test_image_bytes_without_mime_type_are_sniffed() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 8
    request = pb.GenerateRequest(
        messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(image=pb.ImagePart(data=jpeg))])]
    )
    body = chat_body(request, "m", stream=False)
    url = body["messages"][0]["content"][0]["image_url"]["url"]
    assert url == "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    assert url.startswith("data:image/jpeg;base64,/9j/4")


def test_raw_prompt_cannot_carry_tools() -> None:
    request = pb.GenerateRequest(prompt="hi", tools=[pb.Tool(name="f")])
    with pytest.raises(GatewayError) as caught:
        completion_body(request, "m", stream=False)
    assert caught.value.metadata["field"] == "tools"


def test_reasoning_parts_from_other_providers_are_left_out() -> None:
    from model_gateway.providers.openai.request import chat_body
    from modelgateway.v1 import gateway_pb2 as pb

    signed = pb.ContentPart(
        reasoning=pb.ReasoningPart(text="think", signature="sig", provider_kind="anthropic")
    )
    request = pb.GenerateRequest(
        messages=[
            pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hi")]),
            pb.Message(
                role=pb.ROLE_ASSISTANT,
                content=[signed],
                tool_calls=[pb.ToolCall(id="c1", name="ls", arguments="{}")],
            ),
            pb.Message(role=pb.ROLE_ASSISTANT, content=[signed, pb.ContentPart(text="done")]),
        ]
    )
    messages = chat_body(request, "gpt", stream=False)["messages"]
    assert messages[1]["content"] is None and messages[1]["tool_calls"][0]["id"] == "c1"
    assert messages[2]["content"] == "done"
