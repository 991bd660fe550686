"""POST /v1/responses and POST /v1/chat on the running bridge: replies parsed by the openai SDK's own
types (Response, ResponseStreamEvent) with no undeclared key, and every body and stream event against
contracts/openapi.yaml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.contract.conftest import (
    Bridge,
    component_validator,
    media_type,
    media_validator,
    parse_sse,
    schema_errors,
)
from tests.contract.test_sdk_types import strict, undeclared
from tests.unit.bridge.surfaces.openai.responses_helpers import RESPONSE_EXTRAS

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}
NAMESPACE = {
    "type": "namespace",
    "name": "crm",
    "description": "Customer records",
    "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}],
}


@pytest.fixture(scope="module")
def http(bridge: Bridge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge.url, timeout=30) as client:
        yield client


def typed_events(path: str, response: httpx.Response) -> list[dict[str, Any]]:
    """Each event: the documented SSE shape, then its data by the SDK's ResponseStreamEvent, strictly."""
    assert response.status_code == 200, response.text
    assert media_type(response.headers["content-type"]) == "text/event-stream"
    validator = media_validator(path, "post", 200, "text/event-stream")
    bodies = []
    for event in parse_sse(response.content):
        assert not schema_errors(validator, event), (schema_errors(validator, event), event)
        data = json.loads(event["data"])
        assert data["type"] == event["event"]
        parsed = EVENTS.validate_python(data)
        extra = [p for p in undeclared(parsed, data) if not any(x.search(p) for x in RESPONSE_EXTRAS)]
        assert not extra, f"{type(parsed).__name__} does not declare {extra}"
        bodies.append(data)
    assert [b["sequence_number"] for b in bodies] == list(range(len(bodies)))
    return bodies


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-4o-mini", "input": "Tell me something"},
        {
            "model": "tiny",
            "input": [{"role": "user", "content": "Tell me something"}],
            "instructions": "Be brief.",
        },
        {"model": "gpt-4o-mini", "input": "What is the weather in Paris?", "tools": [WEATHER, NAMESPACE]},
        {
            "model": "tiny",
            "input": "What is the weather in Paris?",
            "tools": [WEATHER],
            "max_output_tokens": 64,
        },
        {"model": "mini", "input": "A word", "max_output_tokens": 1},
        {
            "model": "gpt-4o-mini",
            "input": "Give me JSON",
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "thing",
                    "schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    "strict": True,
                }
            },
        },
    ],
)
def test_responses_parse_as_the_sdks_response(http: httpx.Client, body: dict[str, Any]) -> None:
    response = http.post("/v1/responses", json=body)
    assert response.status_code == 200, response.text
    raw = response.json()
    assert not schema_errors(media_validator("/v1/responses", "post", 200, "application/json"), raw)
    parsed = strict(Response, raw, RESPONSE_EXTRAS)
    assert parsed.usage is not None and parsed.usage.total_tokens > 0
    if body.get("max_output_tokens") == 1:
        assert parsed.status == "incomplete" and raw["incomplete_details"] == {"reason": "max_output_tokens"}


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-4o-mini", "input": "Tell me something", "stream": True},
        {
            "model": "tiny",
            "input": "What is the weather in Paris?",
            "tools": [WEATHER, NAMESPACE],
            "stream": True,
        },
        {"model": "mini", "input": "A word", "max_output_tokens": 1, "stream": True},
    ],
)
def test_response_streams_parse_as_the_sdks_events(http: httpx.Client, body: dict[str, Any]) -> None:
    events = typed_events("/v1/responses", http.post("/v1/responses", json=body))
    assert [e["type"] for e in events[:2]] == ["response.created", "response.in_progress"]
    assert events[-1]["type"] in ("response.completed", "response.incomplete")
    strict(Response, events[-1]["response"], RESPONSE_EXTRAS)


def test_a_response_stream_cut_midway_ends_in_error_then_response_failed(http: httpx.Client) -> None:
    events = typed_events(
        "/v1/responses", http.post("/v1/responses", json={"model": "cut", "input": "Hi", "stream": True})
    )
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    failed = strict(Response, events[-1]["response"], RESPONSE_EXTRAS)
    assert failed.status == "failed" and failed.error is not None


@pytest.mark.parametrize(
    "body",
    [
        {"model": "tiny", "input": [{"type": "telepathy"}]},
        {"model": "tiny", "input": "Hi", "previous_response_id": "resp_1"},
        {"model": "nope", "input": "Hi"},
    ],
)
def test_response_errors_are_documented_openai_errors(http: httpx.Client, body: dict[str, Any]) -> None:
    response = http.post("/v1/responses", json=body)
    assert response.status_code in (400, 404)
    assert not schema_errors(component_validator("OpenAIErrorResponse"), response.json())


def test_simple_chat_reply_and_stream_conform(http: httpx.Client) -> None:
    whole = http.post("/v1/chat", json={"prompt": "Tell me something", "model": "tiny"})
    assert whole.status_code == 200
    assert not schema_errors(component_validator("SimpleChatResponse"), whole.json())
    streamed = http.post("/v1/chat", json={"prompt": "Tell me something", "model": "tiny", "stream": True})
    validator = media_validator("/v1/chat", "post", 200, "text/event-stream")
    events = parse_sse(streamed.content)
    for event in events:
        assert not schema_errors(validator, event), event
    assert events[-1]["data"] == "[DONE]"
    summary = json.loads(events[-2]["data"])
    text = "".join(json.loads(e["data"])["text"] for e in events[:-2])
    assert text == whole.json()["text"]
    assert summary["usage"] == whole.json()["usage"] and summary["cost"] == whole.json()["cost"]
