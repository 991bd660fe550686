"""Golden request/response pairs per surface (tests/contract/golden/<surface>/<case>.json).

Each file holds a request (method, path, headers, a JSON body or a raw one) and
the response the bridge must give: the status, the headers named in the file,
and the body - a JSON value, a text, or a stream (the list of SSE events or
NDJSON lines). The live response is compared exactly once volatile values are
masked: response and stream ids (not a model's id), timestamps and durations
become a placeholder naming their type ("<int>", "<string>", "<int-string>",
"chatcmpl-<id>"), loopback ports become "<port>", and an HTTP library's own words for a
failed connection become "<cause>" (never pinned). These pairs are change detectors of the
bridge's own output; new surfaces take their expectations from the published references and
the SDKs' fixtures (tests/contract/test_sdk_types.py), not from here. A stream that an
upstream drops midway ("cut": true) is compared by its first piece and its
terminal error framing. Anything else that changes on the wire - a field renamed,
added or dropped, a status, an error message, the framing of a stream - fails.

To record a deliberate change, regenerate the expected responses and review
the diff:

    GOLDEN_UPDATE=1 .venv/bin/python -m pytest tests/contract/test_golden_pairs.py
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.conftest import GOLDEN_DIR, Bridge, media_type, parse_ndjson, parse_sse

JSON = dict[str, Any]

UPDATE = os.environ.get("GOLDEN_UPDATE") == "1"

# Headers worth pinning (when the response has them); others (date, server, length) are transport.
PINNED_HEADERS = (
    "content-type",
    "cache-control",
    "retry-after",
    "x-request-id",
    "x-gateway-model",
    "x-gateway-provider",
    "x-gateway-deployment",
    "x-gateway-attempts",
    "x-gateway-dropped-params",
    "x-gateway-dropped-tools",
    "allow",
)

# Keys whose values change from run to run, wherever they appear.
VOLATILE_KEYS = frozenset(
    {
        "created",
        "created_at",
        "modified_at",
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
        "totalNs",
        "loadNs",
        "promptEvalNs",
        "evalNs",
        "firstChunkNs",
        "latencyMs",
    }
)
# Loopback ports, as URLs ("127.0.0.1:8080") and as socket addresses ("('127.0.0.1', 8080)").
_PORT = re.compile(r"((?:127\.0\.0\.1|localhost)(?::|', ))\d+")
# What an HTTP library said about a failed connection is its own wording, not our contract: the
# gateway's sentence up to "is unreachable" is pinned, the library's cause after it is not.
_LIBRARY_CAUSE = re.compile(r"(is unreachable): .*$")
# An id keeps its alphabetic prefixes ("chatcmpl-", "cmpl-"); the random or counted rest is masked.
_ID = re.compile(r"^((?:[a-z]+-)*)[A-Za-z0-9_]+$")
# The Responses API's generated ids, wherever they appear (items, item_id): "msg_<id>", "fc_<id>", ...
_RESPONSES_ID = re.compile(r"^(resp|msg|fc|rs|call)_[0-9a-f]{48}$")


def _placeholder(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return "<int>"
    if isinstance(value, float):
        return "<number>"
    if isinstance(value, str):
        return "<int-string>" if re.fullmatch(r"-?\d+", value) else "<string>"
    return "<any>"


def mask(value: Any, depth: int = 0) -> Any:
    """`value` with its volatile parts replaced by placeholders (see the module docstring)."""
    if isinstance(value, dict):
        out: JSON = {}
        for key, item in value.items():
            if key in VOLATILE_KEYS and not isinstance(item, dict | list):
                out[key] = _placeholder(item)
            elif key == "id" and isinstance(item, str) and _RESPONSES_ID.match(item):
                out[key] = mask(item, depth + 1)
            elif key == "id" and depth == 0 and isinstance(item, str) and value.get("object") != "model":
                match = _ID.match(item)
                out[key] = f"{match.group(1)}<id>" if match else _placeholder(item)
            else:
                # {"result": chunk} lines wrap the chunk one level down; its id is still the stream's.
                out[key] = mask(item, depth if key == "result" else depth + 1)
        return out
    if isinstance(value, list):
        return [mask(item, depth + 1) for item in value]
    if isinstance(value, str):
        generated = _RESPONSES_ID.match(value)
        if generated:
            return f"{generated.group(1)}_<id>"
        return _LIBRARY_CAUSE.sub(r"\1: <cause>", _PORT.sub(r"\1<port>", value))
    return value


def _is_error(item: Any) -> bool:
    if isinstance(item, dict) and item.get("event") == "error":  # a typed stream's error event (Responses)
        return True
    return isinstance(item, dict) and ("error" in item.get("data", {}) if "data" in item else "error" in item)


def cut_short(items: list[Any]) -> list[Any]:
    """A stream an upstream drops midway: its first item, "<...>", then its terminal error framing.

    How many pieces get through before the drop is a race in the upstream's
    socket, not part of the contract; where and how the stream ends is.
    """
    end = next((i for i, item in enumerate(items) if _is_error(item)), len(items))
    return [*items[:1], "<...>", *items[max(end, 1) :]]


def observed(response: httpx.Response, expected: JSON) -> JSON:
    """The response as a golden file records it."""
    headers = {name: response.headers[name] for name in PINNED_HEADERS if name in response.headers}
    if "x-request-id" in headers and "x-request-id" not in expected.get("request", {}).get("headers", {}):
        headers["x-request-id"] = "<generated>"  # a fresh id per request unless the caller sent one
    out: JSON = {"status": response.status_code, "headers": headers}
    kind = media_type(response.headers.get("content-type"))
    if kind == "text/event-stream":
        events = []
        for event in parse_sse(response.content):
            data = event["data"] if event["data"] == "[DONE]" else mask(json.loads(event["data"]))
            events.append(
                {"data": data} if event["event"] == "message" else {"event": event["event"], "data": data}
            )
        out["events"] = cut_short(events) if expected.get("cut") else events
    elif kind == "application/x-ndjson":
        lines = [mask(line) for line in parse_ndjson(response.content)]
        out["lines"] = cut_short(lines) if expected.get("cut") else lines
    elif kind == "application/json":
        out["body"] = mask(response.json())
    else:
        out["text"] = response.text
    return out


def golden_files() -> Iterator[Path]:
    yield from sorted(GOLDEN_DIR.glob("*/*.json"))


@pytest.fixture(scope="module")
def http(bridge: Bridge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge.url, timeout=30) as client:
        yield client


def test_every_surface_has_golden_pairs() -> None:
    by_surface: dict[str, list[str]] = {}
    for path in golden_files():
        by_surface.setdefault(path.parent.name, []).append(path.stem)
    assert set(by_surface) >= {"openai", "ollama", "native", "simple"}
    for surface, cases in by_surface.items():
        # Each surface pins a success, a stream and its errors (unknown model, bad body).
        assert any("stream" in case for case in cases), surface
        assert any("unknown_model" in case for case in cases), surface
        assert any("bad_body" in case for case in cases), surface


@pytest.mark.parametrize("path", list(golden_files()), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_pair(http: httpx.Client, path: Path) -> None:
    golden = json.loads(path.read_text())
    request = golden["request"]
    kwargs: JSON = {"headers": request.get("headers", {})}
    if "json" in request:
        kwargs["json"] = request["json"]
    elif "body" in request:
        kwargs["content"] = request["body"].encode()
    response = http.request(request["method"], request["path"], **kwargs)
    actual = observed(response, golden)
    if UPDATE:
        path.write_text(json.dumps({**golden, "response": actual}, indent=2, ensure_ascii=False) + "\n")
        return
    assert actual == golden["response"], (
        f"{path.relative_to(GOLDEN_DIR)}: the wire changed (GOLDEN_UPDATE=1 rewrites it, if that is intended)"
    )
