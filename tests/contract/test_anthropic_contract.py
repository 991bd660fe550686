"""The Anthropic front door on the running bridge (`model-gateway up` before the fake OpenAI and Ollama).

- Golden pairs (tests/contract/golden_anthropic/<case>.json), compared as
  test_golden_pairs compares the other surfaces' (its masking, plus the
  generated `msg_` id inside message_start, and the pinned request-id and
  Anthropic headers). GOLDEN_UPDATE=1 rewrites them.
- Every reply, stream event and error against contracts/openapi.yaml, and
  parsed by the anthropic SDK's own types (Message, RawMessageStreamEvent,
  MessageTokensCount, ModelInfo, ErrorResponse) with no undeclared key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anthropic.types import ErrorResponse, Message, MessageTokensCount, ModelInfo, RawMessageStreamEvent

from tests.contract.conftest import (
    Bridge,
    component_validator,
    media_type,
    media_validator,
    parse_sse,
    schema_errors,
)
from tests.contract.test_golden_pairs import UPDATE, observed
from tests.unit.bridge.surfaces.anthropic.helpers import strict

GOLDEN = Path(__file__).resolve().parent / "golden_anthropic"
VERSION = {"anthropic-version": "2023-06-01"}
EXTRA_HEADERS = (
    "request-id",
    "x-gateway-usage-estimated",
    "x-gateway-dropped-params",
    "x-gateway-dropped-tools",
)
HI = [{"role": "user", "content": "Hi"}]
WEATHER = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture(scope="module")
def http(bridge: Bridge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge.url, timeout=30, headers=VERSION) as client:
        yield client


def golden_observed(response: httpx.Response, expected: dict[str, Any]) -> dict[str, Any]:
    out = observed(response, expected)
    for name in EXTRA_HEADERS:
        if name in response.headers:
            out["headers"][name] = "<generated>" if name == "request-id" else response.headers[name]
    for event in out.get("events", []):
        data = event.get("data") if isinstance(event, dict) else None
        if isinstance(data, dict) and data.get("type") == "message_start":
            data["message"]["id"] = "msg_<id>"
    return out


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_golden_pair(bridge: Bridge, path: Path) -> None:
    golden = json.loads(path.read_text())
    request = golden["request"]
    with httpx.Client(base_url=bridge.url, timeout=30) as client:
        response = client.request(
            request["method"], request["path"], headers=request.get("headers", {}), json=request.get("json")
        )
    actual = golden_observed(response, golden)
    if UPDATE:
        path.write_text(json.dumps({**golden, "response": actual}, indent=2, ensure_ascii=False) + "\n")
        return
    assert actual == golden["response"], f"{path.name}: the wire changed (GOLDEN_UPDATE=1 rewrites it)"


def stream_events(response: httpx.Response, path: str = "/v1/messages") -> list[dict[str, Any]]:
    """Each event: the documented SSE shape, then its data by the SDK's RawMessageStreamEvent (or the
    error body), strictly."""
    assert response.status_code == 200, response.text
    assert media_type(response.headers["content-type"]) == "text/event-stream"
    validator = media_validator(path, "post", 200, "text/event-stream")
    out = []
    for event in parse_sse(response.content):
        assert not schema_errors(validator, event), (schema_errors(validator, event), event)
        data = json.loads(event["data"])
        assert data["type"] == event["event"]
        strict(ErrorResponse if data["type"] == "error" else RawMessageStreamEvent, data)
        out.append(data)
    return out


@pytest.mark.parametrize("model", ["gpt-4o-mini", "tiny"])
def test_message_and_stream_agree(http: httpx.Client, model: str) -> None:
    body = {"model": model, "max_tokens": 100, "messages": HI}
    whole = http.post("/v1/messages", json=body)
    assert whole.status_code == 200, whole.text
    assert not schema_errors(media_validator("/v1/messages", "post", 200, "application/json"), whole.json())
    message = strict(Message, whole.json())
    events = stream_events(http.post("/v1/messages", json={**body, "stream": True}))
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == message.content[0].text
    assert events[-2]["usage"] == whole.json()["usage"]


def test_tool_stream(http: httpx.Client) -> None:
    body = {"model": "gpt-4o-mini", "max_tokens": 100, "messages": [{"role": "user", "content": "weather?"}]}
    events = stream_events(http.post("/v1/messages", json={**body, "tools": [WEATHER], "stream": True}))
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    partial = "".join(
        e["delta"].get("partial_json", "") for e in events if e["type"] == "content_block_delta"
    )
    assert json.loads(partial) == {"city": "Paris"}


def test_a_stream_cut_midway_ends_with_an_error_event(http: httpx.Client) -> None:
    events = stream_events(
        http.post("/v1/messages", json={"model": "cut", "max_tokens": 10, "messages": HI, "stream": True})
    )
    assert events[-1]["type"] == "error"


def test_count_tokens(http: httpx.Client) -> None:
    reply = http.post("/v1/messages/count_tokens", json={"model": "gpt-4o-mini", "messages": HI})
    assert reply.status_code == 200
    assert strict(MessageTokensCount, reply.json()).input_tokens > 0
    assert reply.headers["x-gateway-usage-estimated"] == "true"


def test_models(http: httpx.Client) -> None:
    listed = http.get("/v1/models")
    assert not schema_errors(component_validator("AnthropicModelList"), listed.json())
    for item in listed.json()["data"]:
        strict(ModelInfo, item)
    assert strict(ModelInfo, http.get("/v1/models/mini").json()).id == "mini"
    openai_shape = httpx.get(str(http.base_url) + "/v1/models", timeout=10).json()
    assert openai_shape["object"] == "list"


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"model": "no-such-model", "max_tokens": 5, "messages": HI}, 404, "not_found_error"),
        ({"model": "tiny", "messages": HI}, 400, "invalid_request_error"),
        ({"model": "limited", "max_tokens": 5, "messages": HI}, 429, "rate_limit_error"),
        ({"model": "broken", "max_tokens": 5, "messages": HI}, 503, "overloaded_error"),
    ],
)
def test_errors(http: httpx.Client, body: dict[str, Any], status: int, kind: str) -> None:
    reply = http.post("/v1/messages", json=body)
    assert reply.status_code == status
    assert not schema_errors(component_validator("AnthropicErrorResponse"), reply.json())
    assert strict(ErrorResponse, reply.json()).error.type == kind
    if status == 429:
        assert reply.headers["retry-after"] == "7"
