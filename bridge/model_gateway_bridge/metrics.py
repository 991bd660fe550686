"""The bridge's Prometheus metrics, served at GET /metrics on the bridge's own port.

Labels are bounded: the surface (one per registered front door), the route *template* FastAPI
matched (`/api/v1/models/{name:path}`, never the path with a model name in
it; `_unmatched` for a 404), the method (the usual ones, else `_OTHER`) and
the status code.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from model_gateway_common.buckets import LATENCY_BUCKETS

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "_unmatched"
OTHER = "_OTHER"

REQUESTS = Counter(
    "model_gateway_bridge_requests",
    "REST requests by surface, route template, method and HTTP status.",
    ("surface", "route", "method", "status"),
)
DURATION = Histogram(
    "model_gateway_bridge_request_duration",
    "REST request duration, to the last byte of the response (streams included).",
    ("surface", "route"),
    unit="seconds",
    buckets=LATENCY_BUCKETS,
)
STREAMS_IN_FLIGHT = Gauge(
    "model_gateway_bridge_streams_in_flight",
    "Streaming responses (SSE, NDJSON) being sent right now.",
    ("surface",),
)


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER


async def metrics_endpoint(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
