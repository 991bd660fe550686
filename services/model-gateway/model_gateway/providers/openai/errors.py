"""Errors an OpenAI-compatible server reports inside a 200 reply or stream event."""

from __future__ import annotations

from typing import Any

import orjson


def error_in_body(obj: Any) -> tuple[str, int | None] | None:
    """(message, HTTP status if the server gave one) of an error reported inside a 200 stream or body.

    OpenAI, vLLM and OpenRouter send `{"error": {"message", "code", ...}}`;
    older vLLM sent `{"object": "error", "message", "code"}`.
    """
    if not isinstance(obj, dict):
        return None
    error = obj.get("error")
    if not error and obj.get("object") == "error":
        error = obj
    if not error:
        return None
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        status = code if isinstance(code, int) and not isinstance(code, bool) else None
        if status is None and isinstance(code, str) and code.isdigit():
            status = int(code)
        text = message if isinstance(message, str) and message else orjson.dumps(error).decode()
        return text, status
    return str(error), None
