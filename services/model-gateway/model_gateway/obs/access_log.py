"""What one model call leaves behind: one INFO log line and the request-level metrics.

An OutcomeSink: the record stage hands it every finished call once. The line
carries the request id the bridge sent (x-request-id), the trace id, the
surface the call came in by (x-gateway-surface, `grpc` when called directly),
the requested and served model, the provider, the status, the latency, the
time to the first chunk, tokens and cost. Never a header, a key, a prompt or
a completion.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc

from model_gateway.core.call import UNKNOWN, Call
from model_gateway.errors import GatewayError
from model_gateway.obs import metrics

log = logging.getLogger("model_gateway.access")


def outcome(call: Call) -> tuple[str, str]:
    """(gRPC status name, outcome label): ok, an error reason, or CANCELLED."""
    error = call.error
    if error is None:
        return ("OK", "ok") if call.usage is not None else ("CANCELLED", "CANCELLED")
    if isinstance(error, GatewayError):
        return error.code.name, error.reason
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return "CANCELLED", "CANCELLED"
    return grpc.StatusCode.INTERNAL.name, "INTERNAL"


class AccessLog:
    """The log line and the request metrics of each finished call."""

    def record(self, call: Call) -> None:
        latency = time.perf_counter() - call.started
        status, result = outcome(call)
        route, usage, cost = call.route, call.usage, call.cost
        provider = route.provider if route is not None else UNKNOWN
        metrics.REQUESTS.labels(call.rpc, call.model_label, provider, result).inc()
        if usage is not None and cost is not None:
            if usage.estimated:
                metrics.ESTIMATED_USAGE.labels(call.model_label, provider).inc()
            if cost.total_usd:
                metrics.COST.labels(call.model_label, provider).inc(cost.total_usd)
        if not log.isEnabledFor(logging.INFO):
            return
        ctx = call.ctx
        first = call.first_chunk_s
        fields: dict[str, Any] = {
            "request_id": ctx.request_id or None,
            "surface": ctx.surface,
            "rpc": call.rpc,
            "requested_model": call.requested_model,
            "served_model": route.served_model if route is not None else None,
            "provider": route.provider if route is not None else None,
            "deployment": route.deployment if route is not None else None,
            "attempts": route.attempts if route is not None else None,
            "dropped_params": call.dropped or None,  # request fields the provider left out
            "status": status,
            "reason": result if call.error is not None else None,
            "latency_ms": round(latency * 1000, 2),
            "ttft_ms": round(first * 1000, 2) if first is not None else None,
            "input_tokens": usage.input_tokens if usage is not None else None,
            "output_tokens": usage.output_tokens if usage is not None else None,
            "usage_estimated": usage.estimated if usage is not None else None,
            "cost_usd": round(cost.total_usd, 8) if cost is not None else None,
        }
        log.info("request", extra={"fields": fields})
