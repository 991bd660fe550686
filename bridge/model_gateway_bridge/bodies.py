"""Reading request bodies: size bound, content type, JSON, with errors that say what was wrong."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request

from model_gateway_bridge.errors import bad_request


async def read_json(
    request: Request, max_bytes: int, require_json_type: bool = True, timeout_s: float | None = None
) -> dict[str, Any]:
    """The body as a JSON object; 413 past `max_bytes`, 415 for a non-JSON type, 400 for bad JSON,
    408 when the whole body has not arrived within `timeout_s` (a client trickling it, or gone quiet).

    Ollama's own server takes any content type (its docs post with plain
    `curl -d`), so that surface passes require_json_type=False.
    """
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if require_json_type and media and media != "application/json" and not media.endswith("+json"):
        raise bad_request(f"Content-Type must be application/json, got '{media}'", status=415)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_large(max_bytes)
    except TimeoutError:
        raise bad_request(
            f"request body not received within {timeout_s:g} s ({len(body)} bytes arrived)", status=408
        ) from None
    if not body.strip():
        raise bad_request("request body is empty; expected a JSON object")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"request body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise bad_request(f"request body must be a JSON object, got {type(parsed).__name__}")
    return parsed


def _too_large(max_bytes: int) -> Exception:
    return bad_request(f"request body is larger than the limit of {max_bytes} bytes", status=413)
