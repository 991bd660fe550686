"""The time a whole call may take, retries and failover included."""

from __future__ import annotations

import time

import grpc

from model_gateway.errors import GatewayError, Reason


class Deadline:
    """Seconds left of the whole call, as a monotonic clock."""

    __slots__ = ("_end",)

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return self._end - time.monotonic()

    def check(self, model: str) -> float:
        """Seconds left, or DEADLINE_EXCEEDED naming the model when none are."""
        left = self.left()
        if left <= 0:
            raise GatewayError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                Reason.DEADLINE_EXCEEDED,
                f"deadline exceeded before '{model}' answered",
            )
        return left
