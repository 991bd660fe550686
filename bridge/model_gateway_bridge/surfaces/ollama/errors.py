"""Ollama's error body, and how this surface words a bad request field."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from model_gateway_bridge.errors import BridgeError, bad_request
from model_gateway_bridge.fields import Fields, show
from model_gateway_bridge.framing import json_response


def error_response(err: BridgeError) -> Response:
    """Ollama's error body: `{"error": "message"}` with the status of the failure."""
    return json_response({"error": err.message}, status=err.status, headers=err.headers)


class InvalidField:
    """Ollama's own server says `invalid <field>: ...`; a missing model is "model is required"."""

    def missing(self, param: str) -> BridgeError:
        return bad_request(f"{param} is required", param=param)

    def empty(self, param: str) -> BridgeError:
        return self.missing(param)

    def wrong_type(self, param: str, expected: str, value: Any) -> BridgeError:
        return bad_request(f"invalid {param}: expected {expected}, got {show(value)}", param=param)

    def wrong_value(self, param: str, why: str) -> BridgeError:
        return bad_request(f"invalid {param}: {why}", param=param)


INVALID = InvalidField()
# Ollama's wording for two of the types: "expected a list", "expected true or false".
FIELDS = Fields(INVALID, names={"array": "a list", "boolean": "true or false"})
