"""Canonical replies → chat.completion and text_completion objects, judged by the SDK's types."""

from __future__ import annotations

import orjson
import pytest
from openai.types import Completion
from openai.types.chat import ChatCompletion

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.openai.response import chat_completion, text_completion
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.surfaces.openai.helpers import response, text


def test_chat_completion_text() -> None:
    body = chat_completion(response(text(pb.ROLE_ASSISTANT, "Hello!")))
    completion = ChatCompletion.model_validate(body)
    assert (completion.id, completion.created, completion.model) == ("chatcmpl-abc", 1_700_000_000, "mini")
    choice = completion.choices[0]
    assert (choice.index, choice.finish_reason, choice.message.content) == (0, "stop", "Hello!")
    assert choice.message.role == "assistant" and choice.message.tool_calls is None
    assert body["choices"][0]["message"]["refusal"] is None and body["choices"][0]["logprobs"] is None
    assert completion.usage is not None
    assert completion.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 19,
        "completion_tokens": 10,
        "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    # The route and cost ride in headers, never in the OpenAI body.
    assert "route" not in orjson.dumps(body).decode() and "cost" not in body


def test_chat_completion_tool_calls() -> None:
    calls = [pb.ToolCall(id="call_1", name="get_weather", arguments='{"city":"Paris"}')]
    message = pb.Message(role=pb.ROLE_ASSISTANT, tool_calls=calls)
    completion = ChatCompletion.model_validate(
        chat_completion(response(message, pb.FINISH_REASON_TOOL_CALLS))
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1",
        "get_weather",
        '{"city":"Paris"}',
    )

    legacy = ChatCompletion.model_validate(
        chat_completion(response(message, pb.FINISH_REASON_TOOL_CALLS), legacy_functions=True)
    )
    assert legacy.choices[0].finish_reason == "function_call"
    assert legacy.choices[0].message.function_call is not None
    assert legacy.choices[0].message.function_call.name == "get_weather"
    assert legacy.choices[0].message.tool_calls is None


@pytest.mark.parametrize(
    ("reason", "wire"),
    [
        (pb.FINISH_REASON_STOP, "stop"),
        (pb.FINISH_REASON_LENGTH, "length"),
        (pb.FINISH_REASON_CONTENT_FILTER, "content_filter"),
        (pb.FINISH_REASON_UNSPECIFIED, "stop"),
    ],
)
def test_finish_reasons(reason: pb.FinishReason.ValueType, wire: str) -> None:
    chat = ChatCompletion.model_validate(chat_completion(response(text(pb.ROLE_ASSISTANT, "x"), reason)))
    legacy = Completion.model_validate(text_completion(response(text(pb.ROLE_ASSISTANT, "x"), reason)))
    assert chat.choices[0].finish_reason == legacy.choices[0].finish_reason == wire


def test_an_error_finish_is_an_error() -> None:
    with pytest.raises(BridgeError) as caught:
        chat_completion(response(text(pb.ROLE_ASSISTANT, "x"), pb.FINISH_REASON_ERROR))
    assert caught.value.status == 502


def test_reasoning_is_exposed_as_reasoning_content() -> None:
    message = pb.Message(role=pb.ROLE_ASSISTANT, content=[pb.ContentPart(text="4")], reasoning="2+2")
    body = chat_completion(response(message))
    assert body["choices"][0]["message"]["reasoning_content"] == "2+2"
    ChatCompletion.model_validate(body)


def test_text_completion() -> None:
    completion = Completion.model_validate(text_completion(response(text(pb.ROLE_ASSISTANT, "a test"))))
    assert completion.id == "cmpl-abc" and completion.object == "text_completion"
    assert completion.choices[0].text == "a test"
    assert completion.usage is not None and completion.usage.total_tokens == 29
