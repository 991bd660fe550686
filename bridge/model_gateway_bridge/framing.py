"""Byte framing shared by the surfaces: JSON bodies, SSE events, NDJSON lines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

SSE_DONE = b"data: [DONE]\n\n"


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def sse_event(body: Any, event: str | None = None) -> bytes:
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + orjson.dumps(body) + b"\n\n"


def ndjson_line(body: Any) -> bytes:
    return orjson.dumps(body) + b"\n"


def sse_response(events: AsyncIterator[bytes], headers: Mapping[str, str] | None = None) -> StreamingResponse:
    # no-cache and X-Accel-Buffering keep proxies from holding chunks back.
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
    )


def ndjson_response(
    lines: AsyncIterator[bytes], headers: Mapping[str, str] | None = None
) -> StreamingResponse:
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
    )
