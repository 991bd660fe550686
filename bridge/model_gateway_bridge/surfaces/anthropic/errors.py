"""Anthropic's error body, and how this surface words a bad request field.

`{"type": "error", "error": {"type": ..., "message": ...}}` with the
gateway's canonical status; the error `type` is Anthropic's name for the
status (https://docs.anthropic.com/en/api/errors). A bad field is named by
its dotted path as the API names it ("messages.1.content.0.type").
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from model_gateway_bridge.errors import BridgeError, bad_request
from model_gateway_bridge.fields import JSON, Fields, show
from model_gateway_bridge.framing import json_response

# HTTP status → Anthropic's error type (anything else 4xx is invalid_request_error, 5xx api_error).
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# Canonical field paths in the gateway's own errors → the Messages API's names.
_PARAM_RENAMES = (
    (re.compile(r"^sampling\.stop\b"), "stop_sequences"),
    (re.compile(r"^sampling\."), ""),
    (re.compile(r"\[(\d+)\]"), r".\1"),
)


def error_type(err: BridgeError) -> str:
    if err.reason == "BUDGET_EXCEEDED":
        return "billing_error"
    known = _TYPES.get(err.status)
    if known is not None:
        return known
    return "api_error" if err.status >= 500 else "invalid_request_error"


def anthropic_param(param: str) -> str:
    for pattern, replacement in _PARAM_RENAMES:
        param = pattern.sub(replacement, param)
    return param


def error_body(err: BridgeError) -> JSON:
    message = err.message
    if err.param and message.startswith(f"{err.param}:"):
        # The gateway names its canonical field ("sampling.temperature: ..."): say it the API's way.
        message = anthropic_param(err.param) + message[len(err.param) :]
    return {"type": "error", "error": {"type": error_type(err), "message": message}}


def error_headers(err: BridgeError) -> dict[str, str]:
    headers = err.headers
    if err.reason == "BUDGET_EXCEEDED":
        # A spent budget does not come back in seconds: the Anthropic SDKs skip their retries on this.
        headers = {**headers, "x-should-retry": "false"}
    return headers


def error_response(err: BridgeError) -> Response:
    return json_response(error_body(err), status=err.status, headers=error_headers(err))


def model_failed(detail: str = "") -> BridgeError:
    """The answer ended with the canonical error finish reason, which Anthropic has no stop_reason for."""
    return BridgeError(502, f"the model stopped with an error{detail}", reason="UPSTREAM_ERROR")


class InvalidRequest:
    """The API's wording for a bad field (pydantic's, as the Messages API answers it)."""

    def missing(self, param: str) -> BridgeError:
        return bad_request(f"{param}: Field required", param=param)

    def empty(self, param: str) -> BridgeError:
        return bad_request(f"{param}: String should have at least 1 character", param=param)

    def wrong_type(self, param: str, expected: str, value: Any) -> BridgeError:
        return bad_request(f"{param}: Input should be {expected}, got {show(value)}", param=param)

    def wrong_value(self, param: str, why: str) -> BridgeError:
        return bad_request(f"{param}: {why}", param=param)


INVALID = InvalidRequest()
FIELDS = Fields(
    INVALID,
    names={
        "string": "a valid string",
        "object": "a valid dictionary",
        "array": "a valid list",
        "boolean": "a valid boolean",
        "number": "a valid number",
        "integer": "a valid integer",
    },
)
