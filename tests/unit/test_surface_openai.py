"""The OpenAI surface: OpenAI bodies ⇄ canonical messages, judged by the `openai` SDK's own types.

Requests are checked table by table against the canonical proto; replies and
stream events are parsed with the SDK's pydantic models (ChatCompletion,
ChatCompletionChunk, Completion, CreateEmbeddingResponse, Model), streams are
also accumulated by the SDK's own ChatCompletionStreamState, and error bodies
are fed to a real `openai.OpenAI` client over httpx2.MockTransport to check
the exception class it raises.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import openai
import orjson
import pytest
from google.protobuf import struct_pb2
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types import Completion, CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from model_gateway_bridge.client import OpenStream
from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces import openai as surface
from modelgateway.v1 import gateway_pb2 as pb


def text(role: pb.Role.ValueType, content: str) -> pb.Message:
    return pb.Message(role=role, content=[pb.ContentPart(text=content)])


def as_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def chat_request(**fields: Any) -> pb.GenerateRequest:
    fields.setdefault("model", "gpt-4o-mini")
    fields.setdefault("messages", [text(pb.ROLE_USER, "hi")])
    return pb.GenerateRequest(**fields)


HI = [{"role": "user", "content": "hi"}]
WEATHER_PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER_PARAMS},
}
PNG_URL = "data:image/png;base64,iVBORw0KGgo="


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
    parsed = surface.parse_chat(body)
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
    parsed = surface.parse_chat({"model": "m", "messages": HI, **extra})
    assert (parsed.stream, parsed.include_usage) == (stream, include_usage)
    assert not parsed.request.HasField("provider_options")


def test_legacy_functions_flag() -> None:
    assert surface.parse_chat({"model": "m", "messages": HI, "functions": [{"name": "f"}]}).legacy_functions
    with_tools = {"model": "m", "messages": HI, "tools": [WEATHER_TOOL], "functions": [{"name": "f"}]}
    assert not surface.parse_chat(with_tools).legacy_functions


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
        surface.parse_chat(body)
    error = surface.error_body(caught.value)["error"]
    assert caught.value.status == 400
    assert error["param"] == param
    assert fragment in error["message"]
    assert param in error["message"]
    assert (error["type"], error["code"]) == ("invalid_request_error", code)


# --- legacy completions and embeddings requests ---------------------------------


@pytest.mark.parametrize("prompt", ["Say this is a test", ["Say this is a test"]])
def test_parse_completion(prompt: Any) -> None:
    body = {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": prompt,
        "max_tokens": 7,
        "echo": True,
        "stream": True,
    }
    parsed = surface.parse_completion(body)
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
        surface.parse_completion({"model": "m", "prompt": prompt})
    assert (caught.value.status, caught.value.param) == (400, "prompt")


def test_parse_embedding() -> None:
    request, encoding = surface.parse_embedding(
        {
            "model": "embed-cloud",
            "input": ["a", "b"],
            "dimensions": 256,
            "encoding_format": "base64",
            "user": "u",
        }
    )
    assert request == pb.EmbedRequest(
        model="embed-cloud", input=["a", "b"], dimensions=256, provider_options=as_struct({"user": "u"})
    )
    assert encoding == "base64"
    single, encoding = surface.parse_embedding({"model": "embed-cloud", "input": "a"})
    assert (list(single.input), encoding) == (["a"], "float")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "e", "input": [1, 2, 3]}, "input"),
        ({"model": "e", "input": [[1, 2]]}, "input"),
        ({"model": "e", "input": []}, "input"),
        ({"model": "e"}, "input"),
        ({"model": "e", "input": "a", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "e", "input": "a", "dimensions": "big"}, "dimensions"),
    ],
)
def test_parse_embedding_rejects(body: dict[str, Any], param: str) -> None:
    with pytest.raises(BridgeError) as caught:
        surface.parse_embedding(body)
    assert (caught.value.status, caught.value.param) == (400, param)


# --- canonical replies → OpenAI objects --------------------------------------------

USAGE = pb.Usage(
    input_tokens=19, output_tokens=10, total_tokens=29, cached_input_tokens=4, reasoning_tokens=3
)


def response(
    message: pb.Message, reason: pb.FinishReason.ValueType = pb.FINISH_REASON_STOP
) -> pb.GenerateResponse:
    return pb.GenerateResponse(
        id="chatcmpl-abc",
        model="mini",
        created=1_700_000_000,
        message=message,
        finish_reason=reason,
        usage=USAGE,
        route=pb.Route(served_model="gpt-4o-mini", provider="cloud"),
        cost=pb.Cost(total_usd=0.5),
    )


def test_chat_completion_text() -> None:
    body = surface.chat_completion(response(text(pb.ROLE_ASSISTANT, "Hello!")))
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
        surface.chat_completion(response(message, pb.FINISH_REASON_TOOL_CALLS))
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
        surface.chat_completion(response(message, pb.FINISH_REASON_TOOL_CALLS), legacy_functions=True)
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
    chat = ChatCompletion.model_validate(
        surface.chat_completion(response(text(pb.ROLE_ASSISTANT, "x"), reason))
    )
    legacy = Completion.model_validate(
        surface.text_completion(response(text(pb.ROLE_ASSISTANT, "x"), reason))
    )
    assert chat.choices[0].finish_reason == legacy.choices[0].finish_reason == wire


def test_an_error_finish_is_an_error() -> None:
    with pytest.raises(BridgeError) as caught:
        surface.chat_completion(response(text(pb.ROLE_ASSISTANT, "x"), pb.FINISH_REASON_ERROR))
    assert caught.value.status == 502


def test_reasoning_is_exposed_as_reasoning_content() -> None:
    message = pb.Message(role=pb.ROLE_ASSISTANT, content=[pb.ContentPart(text="4")], reasoning="2+2")
    body = surface.chat_completion(response(message))
    assert body["choices"][0]["message"]["reasoning_content"] == "2+2"
    ChatCompletion.model_validate(body)


def test_text_completion() -> None:
    completion = Completion.model_validate(
        surface.text_completion(response(text(pb.ROLE_ASSISTANT, "a test")))
    )
    assert completion.id == "cmpl-abc" and completion.object == "text_completion"
    assert completion.choices[0].text == "a test"
    assert completion.usage is not None and completion.usage.total_tokens == 29


def test_embedding_response_float_and_base64() -> None:
    values = [0.5, -0.25, 0.0023064255]
    reply = pb.EmbedResponse(
        model="embed-cloud",
        embeddings=[pb.Embedding(values=values), pb.Embedding(values=[1.0, 2.0, 3.0])],
        usage=pb.Usage(input_tokens=8),
    )
    floats = CreateEmbeddingResponse.model_validate(surface.embedding_response(reply, "float"))
    assert [d.index for d in floats.data] == [0, 1]
    assert floats.data[0].embedding == pytest.approx(values, rel=1e-6)
    assert (floats.usage.prompt_tokens, floats.usage.total_tokens) == (8, 8)

    encoded = surface.embedding_response(reply, "base64")["data"][0]["embedding"]
    decoded = struct.unpack("<3f", base64.b64decode(encoded))
    assert list(decoded) == floats.data[0].embedding  # the same float32 values, little-endian


def test_models() -> None:
    reply = pb.ListModelsResponse(
        models=[
            pb.Model(name="gpt-4o-mini", aliases=["mini"], created=1_700_000_000),
            pb.Model(name="llama3.2:3b", created=1_700_000_000),
        ]
    )
    listed = surface.model_list(reply)
    assert listed["object"] == "list"
    models = [Model.model_validate(m) for m in listed["data"]]
    assert [m.id for m in models] == ["gpt-4o-mini", "mini", "llama3.2:3b"]
    assert {(m.object, m.owned_by, m.created) for m in models} == {("model", "model-gateway", 1_700_000_000)}


# --- streams ---------------------------------------------------------------------

STREAM_ID, CREATED = "chatcmpl-stream", 1_700_000_001


def delta(content: str = "", *calls: pb.ToolCallDelta, reasoning: str = "") -> pb.StreamChunk:
    return pb.StreamChunk(
        id=STREAM_ID, created=CREATED, delta=pb.Delta(text=content, tool_calls=calls, reasoning=reasoning)
    )


def final(reason: pb.FinishReason.ValueType = pb.FINISH_REASON_STOP) -> pb.StreamChunk:
    return pb.StreamChunk(
        id=STREAM_ID, created=CREATED, final=pb.FinalChunk(finish_reason=reason, usage=USAGE)
    )


def events(raw: bytes) -> list[Any]:
    """The `data:` payloads of an SSE body, [DONE] as the string."""
    assert raw.endswith(b"\n\n")
    out: list[Any] = []
    for event in raw.split(b"\n\n")[:-1]:
        assert event.startswith(b"data: "), event
        data = event.removeprefix(b"data: ")
        out.append("[DONE]" if data == b"[DONE]" else orjson.loads(data))
    return out


async def run_stream(
    chunks: list[pb.StreamChunk], framer: surface.ChatStream, fail: BridgeError | None = None
) -> bytes:
    async def rest() -> AsyncIterator[pb.StreamChunk]:
        for chunk in chunks[1:]:
            yield chunk
        if fail is not None:
            raise fail

    opened = OpenStream(chunks[0], rest(), {})
    return b"".join([piece async for piece in surface.stream_events(opened, framer)])


WEATHER_FRAGMENTS = [
    delta("", pb.ToolCallDelta(index=0, id="call_1", name="get_weather", arguments="")),
    delta("", pb.ToolCallDelta(index=0, arguments='{"ci')),
    delta("", pb.ToolCallDelta(index=0, arguments='ty": "Paris"}')),
]


async def test_chat_stream_text_with_usage() -> None:
    raw = await run_stream(
        [delta("Hel"), delta("lo", reasoning="hmm"), final()], surface.ChatStream("mini", include_usage=True)
    )
    bodies = events(raw)
    assert bodies[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate(b) for b in bodies[:-1]]
    assert {(c.id, c.created, c.model, c.object) for c in chunks} == {
        (STREAM_ID, CREATED, "mini", "chat.completion.chunk")
    }
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].delta.content == ""
    assert [c.choices[0].delta.content for c in chunks[1:3]] == ["Hel", "lo"]
    assert bodies[2]["choices"][0]["delta"]["reasoning_content"] == "hmm"
    assert chunks[3].choices[0].finish_reason == "stop" and bodies[3]["choices"][0]["delta"] == {}
    # include_usage: null on every chunk, then one more with no choices and the usage.
    assert all(b["usage"] is None for b in bodies[:4])
    assert chunks[4].choices == [] and chunks[4].usage is not None
    assert (chunks[4].usage.prompt_tokens, chunks[4].usage.completion_tokens) == (19, 10)

    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(chunk)
    assert state.get_final_completion().choices[0].message.content == "Hello"


async def test_chat_stream_without_usage_has_no_usage_key() -> None:
    bodies = events(await run_stream([delta("Hi"), final()], surface.ChatStream("mini", include_usage=False)))
    assert bodies[-1] == "[DONE]" and len(bodies) == 4
    assert all("usage" not in b for b in bodies[:-1])


async def test_chat_stream_tool_calls_are_accumulated_by_the_sdk() -> None:
    chunks = [*WEATHER_FRAGMENTS, final(pb.FINISH_REASON_TOOL_CALLS)]
    bodies = events(await run_stream(chunks, surface.ChatStream("mini", include_usage=False)))
    assert bodies[0]["choices"][0]["delta"] == {"role": "assistant", "content": None, "refusal": None}
    first, later = (
        bodies[1]["choices"][0]["delta"]["tool_calls"][0],
        bodies[2]["choices"][0]["delta"]["tool_calls"][0],
    )
    assert first == {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert later == {"index": 0, "function": {"arguments": '{"ci'}}

    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    for body in bodies[:-1]:
        state.handle_chunk(ChatCompletionChunk.model_validate(body))
    choice = state.get_final_completion().choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1",
        "get_weather",
        '{"city": "Paris"}',
    )


async def test_chat_stream_gives_an_id_to_a_call_without_one() -> None:
    chunks = [
        delta("", pb.ToolCallDelta(index=1, name="f", arguments="{}")),
        final(pb.FINISH_REASON_TOOL_CALLS),
    ]
    bodies = events(await run_stream(chunks, surface.ChatStream("mini", include_usage=False)))
    fragment = bodies[1]["choices"][0]["delta"]["tool_calls"][0]
    assert fragment["index"] == 1 and fragment["id"].startswith("call_")


async def test_chat_stream_legacy_function_call() -> None:
    chunks = [*WEATHER_FRAGMENTS, final(pb.FINISH_REASON_TOOL_CALLS)]
    bodies = events(await run_stream(chunks, surface.ChatStream("mini", False, legacy_functions=True)))
    parsed = [ChatCompletionChunk.model_validate(b) for b in bodies[:-1]]
    calls = [c.choices[0].delta.function_call for c in parsed if c.choices[0].delta.function_call]
    assert calls[0].name == "get_weather"
    assert "".join(c.arguments or "" for c in calls) == '{"city": "Paris"}'
    assert parsed[-1].choices[0].finish_reason == "function_call"


ERROR_ENDINGS: list[tuple[str, list[pb.StreamChunk], BridgeError | None, int]] = [
    (
        "failure after the first chunk",
        [delta("Hel")],
        BridgeError(503, "provider 'cloud' ended the stream early", reason="STREAM_INTERRUPTED"),
        503,
    ),
    ("no final chunk", [delta("Hel"), delta("lo")], None, 502),
    ("an error finish", [delta("Hel"), final(pb.FINISH_REASON_ERROR)], None, 502),
]


@pytest.mark.parametrize(
    ("chunks", "fail", "status"), [c[1:] for c in ERROR_ENDINGS], ids=[c[0] for c in ERROR_ENDINGS]
)
async def test_chat_stream_ends_with_an_error_event(
    chunks: list[pb.StreamChunk], fail: BridgeError | None, status: int
) -> None:
    bodies = events(await run_stream(chunks, surface.ChatStream("mini", include_usage=True), fail))
    assert bodies[-1] == "[DONE]"
    error = bodies[-2]["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "server_error"
    assert all("error" not in b for b in bodies[:-2])
    # The SDK raises on the event instead of ending the stream as if the answer were whole.
    with pytest.raises(openai.APIError, match=error["message"]):
        list(
            sdk_client(sse_handler(events_raw(bodies))).chat.completions.create(
                model="m", messages=[], stream=True
            )
        )
    assert status >= 500


async def test_text_stream() -> None:
    raw = await run_stream([delta("This"), delta(" is"), final()], surface.TextStream("instruct", True))
    bodies = events(raw)
    assert bodies[-1] == "[DONE]"
    assert {b["id"] for b in bodies[:-1]} == {"cmpl-stream"}
    assert [b["choices"][0]["text"] for b in bodies[:3]] == ["This", " is", ""]
    assert [b["choices"][0]["finish_reason"] for b in bodies[:3]] == [None, None, "stop"]
    assert all("usage" not in b for b in bodies[:3])
    # Completion.finish_reason is not optional in the SDK type: the last text chunk is the strict check.
    Completion.model_validate(bodies[2])
    usage_chunk = Completion.model_validate(bodies[3])
    assert usage_chunk.choices == [] and usage_chunk.usage is not None


# --- errors, as the SDK sees them ------------------------------------------------


def sdk_client(handler: Callable[[httpx2.Request], httpx2.Response]) -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://bridge.test/v1",
        api_key="anything",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def events_raw(bodies: list[Any]) -> bytes:
    return b"".join(b"data: " + (b"[DONE]" if b == "[DONE]" else orjson.dumps(b)) + b"\n\n" for b in bodies)


def sse_handler(raw: bytes) -> Callable[[httpx2.Request], httpx2.Response]:
    return lambda _request: httpx2.Response(200, content=raw, headers={"content-type": "text/event-stream"})


def error_handler(err: BridgeError) -> Callable[[httpx2.Request], httpx2.Response]:
    def handle(_request: httpx2.Request) -> httpx2.Response:
        rendered = surface.error_response(err)
        return httpx2.Response(
            rendered.status_code, headers=dict(rendered.headers), content=bytes(rendered.body)
        )

    return handle


SDK_ERRORS: list[tuple[BridgeError, type[openai.APIStatusError], str, str | None]] = [
    (
        BridgeError(400, "bad", reason="INVALID_REQUEST"),
        openai.BadRequestError,
        "invalid_request_error",
        "invalid_request",
    ),
    (
        BridgeError(401, "no key", reason="UPSTREAM_AUTH_FAILED"),
        openai.AuthenticationError,
        "invalid_request_error",
        "upstream_auth_failed",
    ),
    (BridgeError(403, "forbidden"), openai.PermissionDeniedError, "invalid_request_error", None),
    (
        BridgeError(404, "model 'x' not found", reason="MODEL_NOT_FOUND"),
        openai.NotFoundError,
        "invalid_request_error",
        "model_not_found",
    ),
    (BridgeError(413, "too large"), openai.APIStatusError, "invalid_request_error", None),
    (
        BridgeError(429, "slow down", reason="RATE_LIMITED", retry_after=7),
        openai.RateLimitError,
        "requests",
        "rate_limit_exceeded",
    ),
    (
        BridgeError(429, "budget", reason="BUDGET_EXCEEDED"),
        openai.RateLimitError,
        "insufficient_quota",
        "insufficient_quota",
    ),
    (BridgeError(500, "oops", reason="INTERNAL"), openai.InternalServerError, "server_error", "internal"),
    (
        BridgeError(503, "down", reason="ALL_ROUTES_FAILED"),
        openai.InternalServerError,
        "server_error",
        "all_routes_failed",
    ),
]


@pytest.mark.parametrize(
    ("err", "exception", "kind", "code"), SDK_ERRORS, ids=[str(e[0].status) + e[2] for e in SDK_ERRORS]
)
def test_errors_raise_the_sdk_exception(
    err: BridgeError, exception: type[openai.APIStatusError], kind: str, code: str | None
) -> None:
    with pytest.raises(exception) as caught:
        sdk_client(error_handler(err)).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == err.status
    assert caught.value.body == {"message": err.message, "type": kind, "param": None, "code": code}
    assert (caught.value.type, caught.value.code) == (kind, code)
    if err.retry_after is not None:
        assert caught.value.response.headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("field", "param"),
    [
        ("sampling.temperature", "temperature"),
        ("sampling.stop[1]", "stop"),
        ("messages[1].tool_calls[0].arguments", "messages[1].tool_calls[0].function.arguments"),
        ("tools[0].name", "tools[0].function.name"),
        ("tool_choice.function_name", "tool_choice"),
        ("messages[2].role", "messages[2].role"),
    ],
)
def test_gateway_field_paths_become_openai_params(field: str, param: str) -> None:
    err = BridgeError(400, f"{field}: 7 is out of range [0, 2]", param=field, reason="INVALID_REQUEST")
    body = surface.error_body(err)["error"]
    assert body["param"] == param
    assert body["message"] == f"{param}: 7 is out of range [0, 2]"
