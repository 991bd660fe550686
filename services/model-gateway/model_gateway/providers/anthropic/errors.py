"""Anthropic's errors on top of the shared HTTP error table.

Anthropic answers `{"type": "error", "error": {"type", "message"}}` with the
status its type implies (https://docs.anthropic.com/en/api/errors), and sends
the same object as an `error` event once a stream has begun. What it adds to
the shared table: 529 `overloaded_error` (retryable, another deployment may
answer), its wording for a prompt over the context window, and a body that
is not JSON (a proxy's HTML page) read as the upstream being unavailable.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import grpc
import orjson

from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.http import UpstreamHTTP, parse_retry_after

# The HTTP status each documented error type is sent with.
STATUS_OF_TYPE: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
OVERLOADED = 529
_CONTEXT_MARKERS = ("prompt is too long", "exceed context limit", "context window")
_QUOTE_BYTES = 200


def error_fields(body: Any) -> tuple[str, str]:
    """(type, message) of an Anthropic error object; empty strings for what it lacks."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("type") or ""), str(error.get("message") or "")


class AnthropicHTTP(UpstreamHTTP):
    """The shared pool and error table, with Anthropic's additions."""

    def _where(self) -> str:
        return f"provider '{self.provider}' ({self.address})"

    def status_error(self, status: int, raw: bytes, retry_after: str | None) -> GatewayError:
        meta = {"provider": self.provider, "upstream_status": str(status)}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        # Key and rate-limit errors keep their meaning whatever the body; anything else
        # without Anthropic's JSON came from something in between.
        if body is None and status not in (401, 403, 429):
            quote = self.redact(raw[:_QUOTE_BYTES].decode("utf-8", "replace"))
            return GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                Reason.UPSTREAM_UNAVAILABLE,
                f"{self._where()} answered HTTP {status} with a body that is not JSON: {quote!r}",
                metadata=meta,
            )
        error_type, message = error_fields(body)
        if error_type:
            meta["upstream_error_type"] = error_type
        detail = self.redact(message)[:500]
        if status == OVERLOADED or error_type == "overloaded_error":
            return GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                Reason.UPSTREAM_UNAVAILABLE,
                f"{self._where()} is overloaded (HTTP {status} overloaded_error): {detail or 'Overloaded'}",
                retry_after=parse_retry_after(retry_after),
                metadata=meta,
            )
        if status in (400, 413) and any(m in detail.lower() for m in _CONTEXT_MARKERS):
            return GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                Reason.CONTEXT_TOO_LONG,
                f"{self._where()} rejected the request (HTTP {status} {error_type}): {detail}",
                metadata=meta,
            )
        error = super().status_error(status, raw, retry_after)
        error.metadata.update(meta)
        return error

    def stream_error(self, error_type: str, message: str) -> GatewayError:
        """An `error` event: mapped as the same error answered before the stream would be."""
        status = STATUS_OF_TYPE.get(error_type, 500)
        raw = orjson.dumps({"type": "error", "error": {"type": error_type, "message": message}})
        error = self.status_error(status, raw, None)
        return dataclasses.replace(
            error,
            message=f"{self._where()} reported {error_type} mid-stream: "
            f"{self.redact(message)[:500] or '(no message)'}",
        )
