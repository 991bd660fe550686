"""Ollama replies → canonical responses (providers/ollama/response.py), against the golden fixtures.

chat_response_tools has a tool call with no id (one is made up);
chat_response_thinking maps thinking → reasoning and done_reason length;
chat_response_tool_ids keeps newer servers' ids; generate_response has no
done_reason at all (→ stop).
"""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from model_gateway.providers.ollama.response import finish_reason, response_from_chat, response_from_generate
from model_gateway.tokens import count_request
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases
from tests.unit.providers.ollama.support import (
    DIALECT,
    GENERATED_ID,
    canonical_request,
    load,
    masked,
    user_request,
)


@pytest.mark.parametrize("case", cases.cases(DIALECT, "response"))
def test_reply_matches_canonical(case: str) -> None:
    translate = response_from_chat if case.startswith("chat_") else response_from_generate
    response = translate(load(f"{case}.wire.json"), user_request())
    masked(response.message.tool_calls)
    assert response == json_format.ParseDict(load(f"{case}.canonical.json"), pb.GenerateResponse())


def test_generated_tool_call_ids_are_unique() -> None:
    reply = load("chat_response_tools.wire.json")
    first = response_from_chat(reply, user_request()).message.tool_calls[0].id
    second = response_from_chat(reply, user_request()).message.tool_calls[0].id
    assert GENERATED_ID.fullmatch(first) and GENERATED_ID.fullmatch(second)
    assert first != second


def test_missing_counter_is_estimated_alone() -> None:
    # A prompt served from Ollama's cache omits prompt_eval_count (omitempty).
    reply = load("chat_response_structured.wire.json")
    del reply["prompt_eval_count"]
    request = canonical_request("chat_structured")

    usage = response_from_chat(reply, request).usage

    assert usage.estimated
    assert usage.input_tokens == count_request(request) > 0
    assert usage.output_tokens == 12  # the reported half is kept
    assert usage.total_tokens == usage.input_tokens + 12


def test_load_reply_without_counters() -> None:
    reply = {
        "model": "llama3.2",
        "created_at": "2024-09-12T21:17:29.110811Z",
        "message": {"role": "assistant", "content": ""},
        "done_reason": "load",
        "done": True,
    }
    response = response_from_chat(reply, user_request())
    assert response.finish_reason == pb.FINISH_REASON_STOP
    assert list(response.message.content) == []
    assert response.usage.estimated
    assert response.usage.output_tokens == 0
    assert response.timings == pb.Timings()


@pytest.mark.parametrize(
    ("done_reason", "tool_calls", "expected"),
    [
        ("stop", False, pb.FINISH_REASON_STOP),
        ("length", False, pb.FINISH_REASON_LENGTH),
        ("load", False, pb.FINISH_REASON_STOP),
        ("unload", False, pb.FINISH_REASON_STOP),
        ("something-new", False, pb.FINISH_REASON_STOP),
        (None, False, pb.FINISH_REASON_STOP),
        ("stop", True, pb.FINISH_REASON_TOOL_CALLS),
    ],
)
def test_finish_reason(done_reason: str | None, tool_calls: bool, expected: int) -> None:
    assert finish_reason(done_reason, tool_calls) == expected
