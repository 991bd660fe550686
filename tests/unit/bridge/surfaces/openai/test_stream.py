"""Stream chunks → SSE events, parsed by the SDK's ChatCompletionChunk and accumulated by its
ChatCompletionStreamState; every way a stream can fail ends in an event the SDK raises on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types import Completion
from openai.types.chat import ChatCompletionChunk

from model_gateway_bridge.client import OpenStream
from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.streaming import stream_body
from model_gateway_bridge.surfaces.openai.stream import ChatStream, TextStream
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.surfaces.openai.helpers import USAGE, events, events_raw, sdk_client, sse_handler

STREAM_ID, CREATED = "chatcmpl-stream", 1_700_000_001


def delta(content: str = "", *calls: pb.ToolCallDelta, reasoning: str = "") -> pb.StreamChunk:
    return pb.StreamChunk(
        id=STREAM_ID, created=CREATED, delta=pb.Delta(text=content, tool_calls=calls, reasoning=reasoning)
    )


def final(reason: pb.FinishReason.ValueType = pb.FINISH_REASON_STOP) -> pb.StreamChunk:
    return pb.StreamChunk(
        id=STREAM_ID, created=CREATED, final=pb.FinalChunk(finish_reason=reason, usage=USAGE)
    )


async def run_stream(
    chunks: list[pb.StreamChunk], framer: ChatStream, fail: BridgeError | None = None
) -> bytes:
    async def rest() -> AsyncIterator[pb.StreamChunk]:
        for chunk in chunks[1:]:
            yield chunk
        if fail is not None:
            raise fail

    opened = OpenStream(chunks[0], rest(), {})
    return b"".join([piece async for piece in stream_body(opened, framer)])


WEATHER_FRAGMENTS = [
    delta("", pb.ToolCallDelta(index=0, id="call_1", name="get_weather", arguments="")),
    delta("", pb.ToolCallDelta(index=0, arguments='{"ci')),
    delta("", pb.ToolCallDelta(index=0, arguments='ty": "Paris"}')),
]


async def test_chat_stream_text_with_usage() -> None:
    raw = await run_stream(
        [delta("Hel"), delta("lo", reasoning="hmm"), final()], ChatStream("mini", include_usage=True)
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
    bodies = events(await run_stream([delta("Hi"), final()], ChatStream("mini", include_usage=False)))
    assert bodies[-1] == "[DONE]" and len(bodies) == 4
    assert all("usage" not in b for b in bodies[:-1])


async def test_chat_stream_tool_calls_are_accumulated_by_the_sdk() -> None:
    chunks = [*WEATHER_FRAGMENTS, final(pb.FINISH_REASON_TOOL_CALLS)]
    bodies = events(await run_stream(chunks, ChatStream("mini", include_usage=False)))
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
    bodies = events(await run_stream(chunks, ChatStream("mini", include_usage=False)))
    fragment = bodies[1]["choices"][0]["delta"]["tool_calls"][0]
    assert fragment["index"] == 1 and fragment["id"].startswith("call_")


async def test_chat_stream_legacy_function_call() -> None:
    chunks = [*WEATHER_FRAGMENTS, final(pb.FINISH_REASON_TOOL_CALLS)]
    bodies = events(await run_stream(chunks, ChatStream("mini", False, legacy_functions=True)))
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
    bodies = events(await run_stream(chunks, ChatStream("mini", include_usage=True), fail))
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
    raw = await run_stream([delta("This"), delta(" is"), final()], TextStream("instruct", True))
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
