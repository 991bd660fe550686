"""Per-request bookkeeping of the bridge, as one ASGI middleware: a request id, the
metrics, and one INFO log line when the response (a stream included) has ended.

A pure ASGI middleware rather than BaseHTTPMiddleware: it never buffers a
streamed body and costs a few attribute reads per message. The line carries
the request id (the caller's `x-request-id`, or a new one, also sent on to
the gateway and back in the response), the trace id, the surface, the route
template, the status, the latency, the time to the first body byte and the
model and provider that answered; the gateway's own line for the same request
id adds tokens and cost.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_gateway_bridge import metrics
from model_gateway_common.request_ids import request_id_or_new

if TYPE_CHECKING:
    from model_gateway_bridge.surfaces.registry import SurfaceRegistry

log = logging.getLogger("model_gateway_bridge.access")

_STREAM_TYPES = (b"text/event-stream", b"application/x-ndjson")


def _request_id(headers: list[tuple[bytes, bytes]]) -> tuple[str, bool]:
    """The caller's id when it is a sane token, else a new one; and whether it is new."""
    for name, value in headers:
        if name == b"x-request-id":
            return request_id_or_new(value.decode("latin-1"))
    return request_id_or_new(None)


class AccessLog:
    """Also where a request's surface is resolved (the first middleware to see the request):
    stored in its scope, for the error handlers and the gRPC call context too."""

    def __init__(
        self, app: ASGIApp, surfaces: SurfaceRegistry, skip_paths: frozenset[str] = frozenset({"/metrics"})
    ) -> None:
        self.app = app
        self.surfaces = surfaces
        self.skip_paths = skip_paths
        # Bound once: a stream's start and end touch these on every streamed request.
        self.streams = {s.name: metrics.STREAMS_IN_FLIGHT.labels(s.name) for s in surfaces}
        # Label children bound on first use: the label values are bounded (surface, route
        # template, method, status), and a dict lookup is a fraction of prometheus' labels().
        self._counted: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip_paths:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        surface = self.surfaces.of(scope).name  # before the scope is copied below: both carry it
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        request_id, new = _request_id(headers)
        if new:
            # Written into the request, so the surfaces (CallContext) send this one to the gateway.
            headers = [(n, v) for n, v in headers if n != b"x-request-id"]
            headers.append((b"x-request-id", request_id.encode()))
            scope = {**scope, "headers": headers}
        seen: dict[str, Any] = {"status": 500, "first_byte": None, "stream": False}
        gateway: dict[bytes, bytes] = {}
        streams = self.streams[surface]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                out: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
                for name, value in out:
                    if name == b"content-type" and value.startswith(_STREAM_TYPES):
                        seen["stream"] = True
                        streams.inc()
                    elif name in (b"x-gateway-model", b"x-gateway-provider"):
                        gateway[name] = value
                if not any(name == b"x-request-id" for name, _ in out):
                    out.append((b"x-request-id", request_id.encode()))
                    message = {**message, "headers": out}
            elif seen["first_byte"] is None and message["type"] == "http.response.body":
                seen["first_byte"] = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if seen["stream"]:
                streams.dec()
            self._record(scope, surface, request_id, started, seen, gateway)

    def _record(
        self,
        scope: Scope,
        surface: str,
        request_id: str,
        started: float,
        seen: dict[str, Any],
        gateway: dict[bytes, bytes],
    ) -> None:
        ended = time.perf_counter()
        route = getattr(scope.get("route"), "path", None) or metrics.UNMATCHED
        method = metrics.method_label(scope["method"])
        status: int = seen["status"]
        labels = (surface, route, method, status)
        bound = self._counted.get(labels)
        if bound is None:
            bound = self._counted[labels] = (
                metrics.REQUESTS.labels(surface, route, method, str(status)),
                metrics.DURATION.labels(surface, route),
            )
        bound[0].inc()
        bound[1].observe(ended - started)
        if not log.isEnabledFor(logging.INFO):
            return
        first_byte = seen["first_byte"]
        model, provider = gateway.get(b"x-gateway-model"), gateway.get(b"x-gateway-provider")
        fields = {
            "request_id": request_id,
            "surface": surface,
            "method": method,
            "route": route,
            "status": status,
            "latency_ms": round((ended - started) * 1000, 2),
            "ttfb_ms": round((first_byte - started) * 1000, 2) if first_byte is not None else None,
            "stream": seen["stream"],
            "served_model": model.decode("latin-1") if model else None,
            "provider": provider.decode("latin-1") if provider else None,
        }
        log.info("request", extra={"fields": fields})
