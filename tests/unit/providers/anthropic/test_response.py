"""Messages replies → canonical responses (providers/anthropic/response.py), against the golden fixtures."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format

from model_gateway.providers.anthropic.response import (
    WireError,
    finish_reason,
    response_from_message,
    usage_from,
)
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases
from tests.unit.providers.anthropic.support import DIALECT, answer_tool_for, fixture_json


@pytest.mark.parametrize("case", cases.cases(DIALECT, "response"))
def test_reply_translates_to_the_canonical_response(case: str) -> None:
    expected = json_format.ParseDict(fixture_json(f"{case}.canonical.json"), pb.GenerateResponse())
    got = response_from_message(fixture_json(f"{case}.wire.json"), answer_tool_for(case))
    assert json_format.MessageToDict(got) == json_format.MessageToDict(expected)
    assert not got.usage.estimated  # Anthropic reported it


@pytest.mark.parametrize(
    ("stop_reason", "answered", "expected"),
    [
        ("end_turn", False, pb.FINISH_REASON_STOP),
        ("stop_sequence", False, pb.FINISH_REASON_STOP),
        ("max_tokens", False, pb.FINISH_REASON_LENGTH),
        ("model_context_window_exceeded", False, pb.FINISH_REASON_LENGTH),
        ("tool_use", False, pb.FINISH_REASON_TOOL_CALLS),
        ("tool_use", True, pb.FINISH_REASON_STOP),  # only the JSON answer tool was used
        ("refusal", False, pb.FINISH_REASON_CONTENT_FILTER),
        ("pause_turn", False, pb.FINISH_REASON_LENGTH),  # unfinished, to be continued by the client
        ("a_reason_from_the_future", False, pb.FINISH_REASON_STOP),
        (None, False, pb.FINISH_REASON_UNSPECIFIED),
    ],
)
def test_stop_reasons(stop_reason: str | None, answered: bool, expected: int) -> None:
    assert finish_reason(stop_reason, answered) == expected


def test_usage_counts_cache_reads_and_writes_as_parts_of_the_prompt() -> None:
    usage = usage_from(
        {
            "input_tokens": 50,
            "cache_creation_input_tokens": 1000,
            "cache_read_input_tokens": 2000,
            "output_tokens": 7,
        }
    )
    assert usage == pb.Usage(
        input_tokens=3050,
        cached_input_tokens=2000,
        cache_write_input_tokens=1000,
        output_tokens=7,
        total_tokens=3057,
    )
    assert usage_from(None) is None


def test_a_reply_without_usage_leaves_it_unset_for_the_provider_to_estimate() -> None:
    response = response_from_message({"content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn"})
    assert not response.HasField("usage")


@pytest.mark.parametrize("reply", [None, [], {"type": "message"}, {"content": "text"}])
def test_a_reply_without_a_content_list_is_a_wire_error(reply: Any) -> None:
    with pytest.raises(WireError):
        response_from_message(reply)
