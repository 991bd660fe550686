"""What one model call leaves behind: one INFO log line and the request-level metrics.

The line carries the request id the bridge sent (x-request-id), the trace
id, the surface the call came in by (x-gateway-surface, `grpc` when called
directly), the requested and served model, the provider, the status, the
latency, the time to the first chunk, tokens and cost. Never a header, a
key, a prompt or a completion.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc

from model_gateway import metrics
from model_gateway.errors import GatewayError
from model_gateway_common.request_ids import REQUEST_ID_HEADER, valid_request_id
from modelgateway.v1 import gateway_pb2 as pb

log = logging.getLogger("model_gateway.access")


class CallRecord:
    """Filled in as the call goes; `finish` writes the line and counts the call, once."""

    __slots__ = (
        "_cost",
        "_error",
        "_first_chunk",
        "_model_label",
        "_route",
        "_started",
        "_usage",
        "request_id",
        "requested",
        "rpc",
        "surface",
    )

    def __init__(self, rpc: str, requested: str, model_label: str, metadata: Any) -> None:
        self._started = time.perf_counter()
        self.rpc, self.requested, self._model_label = rpc, requested, model_label
        self.request_id, self.surface = "", "grpc"
        for key, value in metadata or ():
            if key == REQUEST_ID_HEADER and isinstance(value, str):
                self.request_id = valid_request_id(value) or ""
            elif key == "x-gateway-surface" and isinstance(value, str):
                self.surface = valid_request_id(value) or "grpc"
        self._route: pb.Route | None = None
        self._usage: pb.Usage | None = None
        self._cost: pb.Cost | None = None
        self._error: BaseException | None = None
        self._first_chunk: float | None = None

    def routed(self, route: pb.Route) -> None:
        self._route = route

    def served(self, route: pb.Route, usage: pb.Usage, cost: pb.Cost) -> None:
        self._route, self._usage, self._cost = route, usage, cost

    def chunk(self) -> None:
        if self._first_chunk is None:
            self._first_chunk = time.perf_counter() - self._started

    def failed(self, error: BaseException) -> None:
        self._error = error

    def _status(self) -> tuple[str, str]:
        """(gRPC status name, outcome label): ok, an error reason, or CANCELLED."""
        error = self._error
        if error is None:
            return ("OK", "ok") if self._usage is not None else ("CANCELLED", "CANCELLED")
        if isinstance(error, GatewayError):
            return error.code.name, error.reason
        if isinstance(error, asyncio.CancelledError):
            return "CANCELLED", "CANCELLED"
        return grpc.StatusCode.INTERNAL.name, "INTERNAL"

    def finish(self) -> None:
        latency = time.perf_counter() - self._started
        status, outcome = self._status()
        route, usage, cost = self._route, self._usage, self._cost
        provider = route.provider if route is not None else metrics.UNKNOWN
        metrics.REQUESTS.labels(self.rpc, self._model_label, provider, outcome).inc()
        if usage is not None and cost is not None:
            if usage.estimated:
                metrics.ESTIMATED_USAGE.labels(self._model_label, provider).inc()
            if cost.total_usd:
                metrics.COST.labels(self._model_label, provider).inc(cost.total_usd)
        if not log.isEnabledFor(logging.INFO):
            return
        fields: dict[str, Any] = {
            "request_id": self.request_id or None,
            "surface": self.surface,
            "rpc": self.rpc,
            "requested_model": self.requested,
            "served_model": route.served_model if route is not None else None,
            "provider": route.provider if route is not None else None,
            "deployment": route.deployment if route is not None else None,
            "attempts": route.attempts if route is not None else None,
            "status": status,
            "reason": outcome if self._error is not None else None,
            "latency_ms": round(latency * 1000, 2),
            "ttft_ms": round(self._first_chunk * 1000, 2) if self._first_chunk is not None else None,
            "input_tokens": usage.input_tokens if usage is not None else None,
            "output_tokens": usage.output_tokens if usage is not None else None,
            "usage_estimated": usage.estimated if usage is not None else None,
            "cost_usd": round(cost.total_usd, 8) if cost is not None else None,
        }
        log.info("request", extra={"fields": fields})
