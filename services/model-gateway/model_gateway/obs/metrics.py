"""The gateway's Prometheus metrics, and the small HTTP server that exposes them on `server.metrics`.

Upstream calls are measured with the OpenTelemetry GenAI client metrics,
named as Prometheus spells them (gen_ai.client.operation.duration becomes
gen_ai_client_operation_duration_seconds) with the conventions' bucket
boundaries. Every label value comes from the config or a fixed set (models,
providers, deployments, error reasons), never from a request, so the series
count is bounded by the config.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from model_gateway.errors import GatewayError
from model_gateway.routing.breaker import CircuitState
from model_gateway.routing.registry import Route
from model_gateway_common.addresses import split_host_port
from model_gateway_common.buckets import LATENCY_BUCKETS

log = logging.getLogger("model_gateway.metrics")

# Chunks of a fast local model arrive a few ms apart: finer buckets below the advised 10 ms.
CHUNK_BUCKETS = (0.001, 0.0025, 0.005, *LATENCY_BUCKETS)
# gen_ai.client.token.usage advises powers of 4.
TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))

UNKNOWN = "_unknown"  # a label value for a model that is not in the config, or no provider at all

_CALL = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model")
_SERVER = ("server_address", "server_port")

OPERATION_DURATION = Histogram(
    "gen_ai_client_operation_duration",
    "GenAI operation duration: one upstream call (one failover attempt), streams until their end.",
    (*_CALL, *_SERVER, "error_type"),
    unit="seconds",
    buckets=LATENCY_BUCKETS,
)
TOKEN_USAGE = Histogram(
    "gen_ai_client_token_usage",
    "Number of input and output tokens used per upstream call.",
    (*_CALL, *_SERVER, "gen_ai_token_type"),
    buckets=TOKEN_BUCKETS,
)
TIME_TO_FIRST_CHUNK = Histogram(
    "gen_ai_client_operation_time_to_first_chunk",
    "Time from sending a streaming request upstream to its first chunk.",
    (*_CALL, *_SERVER),
    unit="seconds",
    buckets=LATENCY_BUCKETS,
)
TIME_PER_OUTPUT_CHUNK = Histogram(
    "gen_ai_client_operation_time_per_output_chunk",
    "Time between consecutive output chunks of an upstream stream.",
    (*_CALL, *_SERVER),
    unit="seconds",
    buckets=CHUNK_BUCKETS,
)

REQUESTS = Counter(
    "model_gateway_requests",
    "Calls to the gateway by RPC, requested model, serving provider and outcome (ok or the error reason).",
    ("rpc", "model", "provider", "outcome"),
)
FAILOVERS = Counter(
    "model_gateway_failover_attempts",
    "Upstream attempts that failed before any output, after which the next route was tried.",
    ("model", "provider", "error_type"),
)
ESTIMATED_USAGE = Counter(
    "model_gateway_usage_estimated",
    "Answered calls whose token usage the gateway had to estimate (the upstream reported none).",
    ("model", "provider"),
)
COST = Counter(
    "model_gateway_cost_usd",
    "Cost of answered calls in US dollars, from the model's configured pricing.",
    ("model", "provider"),
)

CACHE_LOOKUPS = Counter(
    "model_gateway_cache_lookups",
    "Response cache verdicts, one per generate call: hit, miss (looked up, not found) "
    "or bypass (not looked up: not cacheable, no-cache / no-store / bypass asked, or the store down).",
    ("outcome",),
)
LIMIT_REFUSALS = Counter(
    "model_gateway_limit_refusals",
    "Calls refused by a rate limit or budget: whose limit (key, project, model, gateway) and which "
    "(requests, tokens, budget).",
    ("scope", "limit"),
)
POLICY_STORE_ERRORS = Counter(
    "model_gateway_policy_store_errors",
    "Failed steps of the shared policy store (Redis): limits (then failing open or closed, as "
    "limits.on_store_error says) or cache (then skipped).",
    ("store",),
)


RETRIES = Counter(
    "model_gateway_retries",
    "Extra tries of a deployment after a retryable failure (429, 5xx, refused, timeout), before any "
    "output; each is also an attempt.",
    ("model", "deployment", "error_type"),
)
BREAKER_SKIPS = Counter(
    "model_gateway_breaker_skips",
    "Routes passed over at once because the deployment's circuit breaker was open (or probing).",
    ("model", "deployment"),
)
HEDGES = Counter(
    "model_gateway_hedges",
    "Unary calls slow enough that the next deployment was asked too (the first answer wins).",
    ("model", "deployment"),
)
BREAKER_STATE = Gauge(
    "model_gateway_breaker_state",
    "Circuit breaker of each deployment as this instance sees it: 0 closed, 1 open, 2 half-open.",
    ("deployment",),
)
BREAKER_TRANSITIONS = Counter(
    "model_gateway_breaker_transitions",
    "Circuit breaker moves, by deployment and the state entered.",
    ("deployment", "state"),
)
_BREAKER_VALUES = {CircuitState.CLOSED: 0, CircuitState.OPEN: 1, CircuitState.HALF_OPEN: 2}


class RoutingMetrics:
    """Routing's events (routing/events.py's protocol) as metrics; labels come from the config."""

    def __init__(self, deployments: Iterable[str] = ()) -> None:
        for deployment in deployments:  # every breaker starts closed, and says so
            BREAKER_STATE.labels(deployment).set(0)

    def retried(self, route: Route, error: GatewayError) -> None:
        RETRIES.labels(route.model.name, route.label, error.reason).inc()

    def skipped(self, route: Route) -> None:
        BREAKER_SKIPS.labels(route.model.name, route.label).inc()

    def hedged(self, route: Route) -> None:
        HEDGES.labels(route.model.name, route.label).inc()

    def breaker_changed(self, deployment: str, state: CircuitState) -> None:
        BREAKER_STATE.labels(deployment).set(_BREAKER_VALUES[state])
        BREAKER_TRANSITIONS.labels(deployment, state.value).inc()


class PolicyMetrics:
    """The policy stages' metrics (policy/signals.py's protocol), every label child bound once."""

    def __init__(self) -> None:
        self._cache = {outcome: CACHE_LOOKUPS.labels(outcome) for outcome in ("hit", "miss", "bypass")}
        self._refused = {
            (scope, limit): LIMIT_REFUSALS.labels(scope, limit)
            for scope in ("key", "project", "model", "gateway")
            for limit in ("requests", "tokens", "budget")
        }
        self._store = {store: POLICY_STORE_ERRORS.labels(store) for store in ("limits", "cache")}

    def cache(self, outcome: str) -> None:
        self._cache[outcome].inc()

    def refused(self, scope: str, limit: str) -> None:
        self._refused[scope, limit].inc()

    def store_error(self, store: str) -> None:
        self._store[store].inc()


class MetricsServer:
    """GET /metrics in the Prometheus text format, served from a thread, off the event loop."""

    def __init__(self, address: str) -> None:
        host, port = split_host_port(address)
        try:
            server, thread = start_http_server(port, host)
        except OSError as exc:
            raise SystemExit(
                f"model-gateway: cannot serve metrics on {address}: {exc.strerror or exc}"
            ) from None
        self._server: WSGIServer = server
        self._thread: threading.Thread = thread
        log.info("metrics on http://%s:%d/metrics", host, server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
