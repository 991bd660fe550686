"""Gateway errors: a gRPC status code, a stable reason and a message.

Raised anywhere in the pipeline or a provider; turned into a rich gRPC status
(google.rpc.Status with ErrorInfo, and RetryInfo where waiting helps) once, at
the edge of the service.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from model_gateway_common.reasons import ERROR_DOMAIN, Reason

__all__ = ["ERROR_DOMAIN", "GatewayError", "Reason", "invalid"]

# Failures another deployment may not share: worth trying the next route.
_RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.UNIMPLEMENTED,
}


@dataclass
class GatewayError(Exception):
    code: grpc.StatusCode
    reason: str
    message: str
    retry_after: float | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    @property
    def failover(self) -> bool:
        """Whether trying another deployment could succeed."""
        return self.code in _RETRYABLE

    def to_status(self) -> status_pb2.Status:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
        details = [_pack(info)]
        if self.retry_after is not None:
            seconds = max(0.0, self.retry_after)
            delay = duration_pb2.Duration(
                seconds=int(seconds), nanos=int((seconds - math.floor(seconds)) * 1e9)
            )
            details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
        return status_pb2.Status(code=self.code.value[0], message=self.message, details=details)


def _pack(message: error_details_pb2.ErrorInfo | error_details_pb2.RetryInfo) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def invalid(field_path: str, problem: str) -> GatewayError:
    """INVALID_ARGUMENT naming the field: `messages[1].role: unknown role 'robot'`."""
    return GatewayError(
        grpc.StatusCode.INVALID_ARGUMENT,
        Reason.INVALID_REQUEST,
        f"{field_path}: {problem}",
        metadata={"field": field_path},
    )
