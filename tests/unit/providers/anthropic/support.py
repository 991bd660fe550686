"""Helpers shared by the Anthropic provider tests: fixtures, canonical parsing, settings per case."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from model_gateway.providers.anthropic.request import ANSWER_TOOL
from model_gateway.providers.base import NO_SETTINGS, ModelSettings
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases

DIALECT = "anthropic"
KEY = "sk-ant-api03-test-7Hq2Zp9Xw4Lm"

# What the config says of the routed model, for the cases that depend on it.
CASE_SETTINGS: dict[str, ModelSettings] = {
    "messages_system_sampling": ModelSettings(max_output_tokens=2048),
    "messages_prompt_caching": ModelSettings(options={"cache_system_prompt": True}),
}


def settings_for(case: str) -> ModelSettings:
    return CASE_SETTINGS.get(case, NO_SETTINGS)


def answer_tool_for(case: str) -> str | None:
    """Replies and streams of a JSON-mode call: the answer tool's input is the text."""
    return ANSWER_TOOL if "json_answer" in case else None


def fixture_bytes(name: str) -> bytes:
    return cases.read_bytes(DIALECT, name)


def fixture_json(name: str) -> Any:
    return cases.read_json(DIALECT, name)


def canonical_request(data: dict[str, Any]) -> pb.GenerateRequest:
    return json_format.ParseDict(data, pb.GenerateRequest())


def user_request(text: str = "Why is the sky blue?", **fields: Any) -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model="m", messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])], **fields
    )
