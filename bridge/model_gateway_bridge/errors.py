"""gRPC status → HTTP status and the error bodies of each surface, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from grpc import aio

from model_gateway_common.reasons import Reason
from model_gateway_common.route_headers import RATE_LIMIT_HEADERS

# The canonical table (google.rpc.Code → HTTP), as grpc-gateway maps it.
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}

_CODE_BY_HTTP = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
}


@dataclass
class BridgeError(Exception):
    """An error to send in the caller's dialect."""

    status: int
    message: str
    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    reason: str = ""
    param: str | None = None
    retry_after: float | None = None
    details: list[dict[str, Any]] = field(default_factory=list)
    extra_headers: dict[str, str] = field(default_factory=dict)  # x-ratelimit-* of a refusal, ...

    def __post_init__(self) -> None:
        super().__init__(self.message)
        if self.code == grpc.StatusCode.UNKNOWN and self.status in _CODE_BY_HTTP:
            self.code = _CODE_BY_HTTP[self.status]

    @property
    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return self.extra_headers
        return {**self.extra_headers, "Retry-After": str(max(1, round(self.retry_after)))}


def bad_request(message: str, param: str | None = None, status: int = 400) -> BridgeError:
    return BridgeError(status, message, param=param, reason="INVALID_REQUEST")


def from_rpc_error(error: aio.AioRpcError) -> BridgeError:
    """The gateway's status, with its ErrorInfo reason and RetryInfo delay."""
    code = error.code()
    result = BridgeError(HTTP_STATUS.get(code, 500), error.details() or code.name.lower(), code=code)
    trailing: Any = error.trailing_metadata() or ()
    for key, value in trailing:
        if key != "grpc-status-details-bin" or not isinstance(value, bytes):
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            result.details.append(json_format.MessageToDict(detail))
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                result.reason = info.reason
                result.param = info.metadata.get("field") or result.param
                result.extra_headers.update(
                    (k, v) for k, v in info.metadata.items() if k in RATE_LIMIT_HEADERS
                )
                if info.reason == Reason.BUDGET_EXCEEDED:
                    result.extra_headers["x-should-retry"] = "false"  # OpenAI SDKs: waiting will not help
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                result.retry_after = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
    return result
