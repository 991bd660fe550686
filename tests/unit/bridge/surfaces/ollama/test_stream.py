"""Stream chunks → Ollama's NDJSON objects: text as it comes, tool calls whole, counters last."""

from __future__ import annotations

from typing import Any

import ollama

from model_gateway_bridge.surfaces.ollama.stream import StreamFramer
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.scripted import delta, final


class Clock:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        self.now += 1_000
        return self.now


def frame(chunks: list[pb.StreamChunk], chat: bool = True) -> list[dict[str, Any]]:
    framer = StreamFramer("llama3.2", chat, started_ns=1_000, clock=Clock())
    objects = [obj for chunk in chunks for obj in framer.feed(chunk)]
    assert framer.done
    return objects


def test_stream_text_then_final() -> None:
    objects = frame([delta("The"), delta(" sky"), delta(reasoning="hmm"), final()])
    replies = [ollama.ChatResponse.model_validate(obj) for obj in objects]
    assert [r.message.content for r in replies] == ["The", " sky", "", ""]
    assert replies[2].message.thinking == "hmm"
    assert [r.done for r in replies] == [False, False, False, True]
    last = replies[-1]
    assert last.done_reason == "stop" and last.prompt_eval_count == 26 and last.eval_count == 3
    # No timings upstream: wall clock, split at the first chunk.
    assert last.total_duration == 2_000 and last.prompt_eval_duration == 1_000 and last.eval_duration == 1_000


def test_stream_generate_objects() -> None:
    objects = frame([delta("Hi", "think"), final(finish_reason=pb.FINISH_REASON_LENGTH)], chat=False)
    replies = [ollama.GenerateResponse.model_validate(obj) for obj in objects]
    assert (replies[0].response, replies[0].thinking, replies[0].done) == ("Hi", "think", False)
    assert (replies[1].response, replies[1].done, replies[1].done_reason) == ("", True, "length")


def test_stream_tool_call_fragments_go_out_whole_when_complete() -> None:
    chunks = [
        delta("", "", pb.ToolCallDelta(index=0, id="call_a", name="get_weather", arguments='{"city":')),
        delta("", "", pb.ToolCallDelta(index=0, arguments=' "Paris"}')),
        delta("", "", pb.ToolCallDelta(index=1, id="call_b", name="get_time", arguments="")),
        final(finish_reason=pb.FINISH_REASON_TOOL_CALLS),
    ]
    objects = frame(chunks)
    replies = [ollama.ChatResponse.model_validate(obj) for obj in objects]
    assert len(replies) == 2  # the fragment that completes call 0, then the final with call 1
    first_calls = replies[0].message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in first_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert objects[0]["message"]["tool_calls"][0]["id"] == "call_a"
    last_calls = replies[1].message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in last_calls] == [("get_time", {})]
    assert replies[1].done is True and replies[1].done_reason == "stop"


def test_stream_whole_tool_calls_from_ollama_go_out_at_once() -> None:
    call = pb.ToolCallDelta(index=0, id="call_1", name="f", arguments='{"x": 1}')
    objects = frame([delta("", "", call), final()])
    assert objects[0]["message"]["tool_calls"][0]["function"]["arguments"] == {"x": 1}
    assert "tool_calls" not in objects[1]["message"]


def test_stream_timings_from_upstream_win() -> None:
    timings = pb.Timings(total_ns=10, load_ns=1, prompt_eval_ns=2, eval_ns=7)
    last = frame([delta("x"), final(timings=timings)])[-1]
    assert (last["total_duration"], last["load_duration"]) == (10, 1)
    assert (last["prompt_eval_duration"], last["eval_duration"]) == (2, 7)
