"""OpenAI's Error object, and how this surface words a bad request parameter."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from model_gateway_bridge.errors import BridgeError, bad_request
from model_gateway_bridge.fields import JSON, Fields, show
from model_gateway_bridge.framing import json_response

# ErrorInfo reasons that OpenAI itself names differently; clients switch on
# these codes (e.g. insufficient_quota is not worth retrying, a rate limit is).
_OPENAI_CODES = {
    "UNAUTHENTICATED": "invalid_api_key",  # missing, unknown, revoked or expired: api.openai.com's 401 code
    "RATE_LIMITED": "rate_limit_exceeded",
    "BUDGET_EXCEEDED": "insufficient_quota",
    "CONTEXT_TOO_LONG": "context_length_exceeded",
}

# Canonical field paths in the gateway's validation errors → the OpenAI parameter.
_PARAM_RENAMES = (
    (re.compile(r"^sampling\.(\w+)(\[\d+\])?$"), r"\1"),
    (re.compile(r"^(messages\[\d+\]\.tool_calls\[\d+\])\.(name|arguments)$"), r"\1.function.\2"),
    (re.compile(r"^(tools\[\d+\])\.name$"), r"\1.function.name"),
    (re.compile(r"^tool_choice\.function_name$"), "tool_choice"),
)


def error_type(err: BridgeError) -> str:
    """The `type` api.openai.com sends for the status: it says invalid_request_error for
    every client error (401 invalid_api_key and 404 model_not_found included), names
    the exhausted limit on a 429, and server_error for 5xx."""
    if err.status == 429:
        return "insufficient_quota" if err.reason == "BUDGET_EXCEEDED" else "requests"
    if err.status >= 500:
        return "server_error"
    return "invalid_request_error"


def openai_param(param: str | None) -> str | None:
    if not param:
        return None
    for pattern, replacement in _PARAM_RENAMES:
        renamed, count = pattern.subn(replacement, param)
        if count:
            return renamed
    return param


def error_body(err: BridgeError) -> JSON:
    """OpenAI's Error object: message, type, param and code, the last two possibly null."""
    param = openai_param(err.param)
    message = err.message
    if err.param and param and param != err.param and message.startswith(f"{err.param}:"):
        message = param + message[len(err.param) :]  # the gateway's message names its own field path
    code = _OPENAI_CODES.get(err.reason) or err.reason.lower() or None
    return {"error": {"message": message, "type": error_type(err), "param": param, "code": code}}


def error_response(err: BridgeError) -> Response:
    return json_response(error_body(err), status=err.status, headers=err.headers)


def model_failed(detail: str) -> BridgeError:
    """The answer ended with the canonical error finish reason, which OpenAI has no name for."""
    return BridgeError(502, f"the model stopped with an error{detail}", reason="UPSTREAM_ERROR")


def _error(message: str, param: str, code: str) -> BridgeError:
    err = bad_request(message, param=param)
    err.reason = code.upper()  # rendered lowercased as the OpenAI `code`
    return err


class ParamErrors:
    """api.openai.com's wording for a bad parameter, with its `code`."""

    def missing(self, param: str) -> BridgeError:
        return _error(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")

    def empty(self, param: str) -> BridgeError:
        return self.wrong_value(param, "must not be empty")

    def wrong_type(self, param: str, expected: str, value: Any) -> BridgeError:
        return _error(
            f"Invalid type for '{param}': expected {expected}, but got {show(value)}.", param, "invalid_type"
        )

    def wrong_value(self, param: str, why: str) -> BridgeError:
        return _error(f"Invalid value for '{param}': {why}.", param, "invalid_value")


PARAMS = ParamErrors()
FIELDS = Fields(PARAMS)
