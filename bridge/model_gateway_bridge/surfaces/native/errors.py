"""Errors as grpc-gateway writes them: google.rpc.Status in the proto3 JSON mapping."""

from __future__ import annotations

from starlette.responses import Response

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.fields import JSON
from model_gateway_bridge.framing import json_response


def status_json(err: BridgeError) -> JSON:
    return {"code": err.code.value[0], "message": err.message, "details": err.details}


def error_response(err: BridgeError) -> Response:
    return json_response(status_json(err), status=err.status, headers=err.headers)
