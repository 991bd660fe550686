"""Every crash the stream-parser fuzzers (fuzz/, `make fuzz`) found, as a test of the fix."""

from __future__ import annotations

import orjson

from model_gateway.providers.openai.stream import StreamState


def chunk(index: object, arguments: str, name: str = "") -> dict[str, object]:
    call = {"index": index, "function": {"name": name, "arguments": arguments}}
    return {"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]}


def test_a_stream_tool_call_with_a_broken_index_is_placed_not_crashed() -> None:
    """openai-stream: index -1 raised IndexError; 2**40 overflowed int32; 2**31-1 would allocate forever."""
    for broken in (-1, 2**40, 2**31 - 1, 1e300):
        state = StreamState()
        state.consume(orjson.loads(orjson.dumps(chunk(broken, '{"a":', name="f"))))
        state.consume(orjson.loads(orjson.dumps(chunk(broken, " 1}"))))
        calls = state.message().tool_calls
        assert len(calls) == 1 and calls[0].name == "f" and calls[0].arguments == '{"a": 1}', broken


def test_counts_too_large_for_int64_are_clamped_not_a_crash() -> None:
    """gemini-stream: usageMetadata.promptTokenCount 1e308 overflowed pb.Usage's int64 (ValueError)."""
    from model_gateway.providers.gemini.response import usage_from
    from model_gateway.providers.readers import MAX_INT, read_int

    usage = usage_from({"promptTokenCount": 1e308, "candidatesTokenCount": 2**70, "totalTokenCount": -1e308})
    assert usage is not None and usage.input_tokens == MAX_INT and usage.output_tokens == MAX_INT
    assert (read_int(float("nan")), read_int(7.9), read_int(True)) == (0, 7, 0)
