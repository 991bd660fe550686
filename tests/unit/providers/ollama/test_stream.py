"""Ollama NDJSON streams → canonical chunks: StreamTranslator (providers/ollama/stream.py) and,
over a real socket, the provider's line loop around it (providers/ollama/provider.py)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from model_gateway.errors import Reason
from model_gateway.providers.ollama import OllamaProvider
from model_gateway.providers.ollama.request import CHAT_PATH, GENERATE_PATH, chat_body
from model_gateway.providers.ollama.response import response_from_generate
from model_gateway.providers.ollama.stream import StreamTranslator
from model_gateway.tokens import count_text
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases
from tests.unit.providers.ollama.support import (
    DIALECT,
    FakeOllama,
    Reply,
    collect,
    expected_chunks,
    lines,
    load,
    serve,
    translate_stream,
    user_request,
)

STREAM_CASES = cases.cases(DIALECT, "stream")


@pytest.mark.parametrize("case", STREAM_CASES)
def test_stream_matches_canonical(case: str) -> None:
    chunks = translate_stream(user_request(), lines(f"{case}.wire.ndjson"), chat=case.startswith("chat_"))
    assert chunks == expected_chunks(case)


def test_generate_stream_equals_the_unstreamed_reply() -> None:
    # docs/api/streaming.mdx: the done line still carries text ("!") and no counters.
    request = pb.GenerateRequest(model="gemma4", prompt="Is this a good question?")
    chunks = translate_stream(request, lines("generate_stream.wire.ndjson"), chat=False)
    unstreamed = response_from_generate(load("generate_unstreamed.wire.json"), request)

    texts = [chunk.delta.text for chunk in chunks if chunk.HasField("delta")]
    assert texts == ["That", "'", "s", " a", " fantastic", " question", "!"]
    assert [chunk.WhichOneof("kind") for chunk in chunks][-1] == "final"
    final = chunks[-1].final
    assert final.finish_reason == unstreamed.finish_reason == pb.FINISH_REASON_STOP
    assert final.usage == unstreamed.usage
    assert final.usage.estimated
    assert final.usage.output_tokens == count_text("That's a fantastic question!")


def test_repeated_or_missing_tool_call_index_gets_the_next_one() -> None:
    # Parsers that never set function.index send 0 for every call; clients merge deltas by index.
    def call(name: str, index: int | None) -> dict[str, Any]:
        function: dict[str, Any] = {"name": name, "arguments": {"city": "Paris"}}
        if index is not None:
            function["index"] = index
        return {"message": {"role": "assistant", "content": "", "tool_calls": [{"function": function}]}}

    translator = StreamTranslator(user_request(), chat=True)
    indices = [
        delta.index
        for obj in (call("a", 0), call("b", 0), call("c", None), call("d", 7))
        for chunk in translator.feed({**obj, "done": False})
        for delta in chunk.delta.tool_calls
    ]
    assert indices == [0, 1, 2, 7]


def test_nothing_is_accepted_after_the_done_line() -> None:
    translator = StreamTranslator(user_request(), chat=True)
    translator.feed({"message": {"role": "assistant", "content": ""}, "done": True})
    with pytest.raises(ValueError):
        translator.feed({"message": {"role": "assistant", "content": "late"}, "done": False})


# --- through the provider, over HTTP ---------------------------------------------------


@pytest.mark.parametrize("case", STREAM_CASES)
async def test_stream_over_http(upstream: FakeOllama, provider: OllamaProvider, case: str) -> None:
    serve(upstream, CHAT_PATH, f"{case}.wire.ndjson")
    request = user_request()

    chunks, error = await collect(provider, request)

    assert error is None
    assert chunks == expected_chunks(case)
    assert upstream.seen[0].body == chat_body(request, "llama3.2", stream=True)


async def test_generate_stream_over_http(upstream: FakeOllama, provider: OllamaProvider) -> None:
    serve(upstream, GENERATE_PATH, "generate_stream.wire.ndjson")
    chunks, error = await collect(provider, pb.GenerateRequest(model="gemma4", prompt="Hi"), "gemma4")
    assert error is None
    assert "".join(c.delta.text for c in chunks) == "That's a fantastic question!"
    assert chunks[-1].final.finish_reason == pb.FINISH_REASON_STOP
    assert upstream.seen[0].body == {"model": "gemma4", "prompt": "Hi", "stream": True}


async def test_in_band_stream_error(upstream: FakeOllama, provider: OllamaProvider) -> None:
    # docs/api/errors.mdx: text lines, then {"error": ...} with the status still 200.
    serve(upstream, GENERATE_PATH, "generate_stream_error.wire.ndjson")

    chunks, error = await collect(provider, pb.GenerateRequest(model="gemma4", prompt="Hi"), "gemma4")

    assert [c.delta.text for c in chunks] == [" Yes", ".", "I", "can"]
    assert error is not None
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert error.reason == Reason.UPSTREAM_ERROR
    assert "an error was encountered while running the model" in error.message


async def test_stream_without_done_line_is_interrupted(
    upstream: FakeOllama, provider: OllamaProvider
) -> None:
    upstream.replies[CHAT_PATH] = Reply(
        b"\n".join(lines("chat_stream.wire.ndjson")[:-1]) + b"\n", ndjson=True
    )

    chunks, error = await collect(provider, user_request())

    assert [c.delta.text for c in chunks] == ["The", " sky", " is blue because of Rayleigh scattering."]
    assert error is not None
    assert error.reason == Reason.STREAM_INTERRUPTED
    assert "done" in error.message


async def test_stream_line_that_is_not_json(upstream: FakeOllama, provider: OllamaProvider) -> None:
    first = lines("chat_stream.wire.ndjson")[0]
    upstream.replies[CHAT_PATH] = Reply(first + b"\n<html>502 Bad Gateway</html>\n", ndjson=True)

    chunks, error = await collect(provider, user_request())

    assert [c.delta.text for c in chunks] == ["The"]
    assert error is not None
    assert error.reason == Reason.UPSTREAM_ERROR
    assert "not JSON" in error.message
