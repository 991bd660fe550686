"""OpenAI replies → canonical responses (providers/openai/response.py), against the golden fixtures.

The fixtures follow CreateChatCompletionResponse and CreateCompletionResponse,
with the reasoning fields of vLLM and OpenRouter.
"""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from model_gateway.providers.openai.response import response_from_chat, response_from_completion
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases
from tests.unit.providers.openai.support import DIALECT, fixture_json


@pytest.mark.parametrize("case", cases.cases(DIALECT, "response"))
def test_wire_response_translates_to_canonical(case: str) -> None:
    parse = response_from_chat if case.startswith("chat_") else response_from_completion
    expected = json_format.ParseDict(fixture_json(f"{case}.canonical.json"), pb.GenerateResponse())
    assert parse(fixture_json(f"{case}.wire.json")) == expected
