"""The service's own tracing hooks: the gRPC server span and upstream HTTP spans.

Set-up (the SDK provider and its exporter) is shared with the bridge, in
model_gateway_common.tracing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


def server_interceptors(provider: TracerProvider | None) -> list[Any]:
    """The gRPC server's span for each call (not health checks or reflection), context from metadata."""
    if provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

    not_grpc_own = filters.negate(filters.service_prefix("grpc."))
    interceptor = aio_server_interceptor(tracer_provider=provider, filter_=not_grpc_own)  # type: ignore[no-untyped-call]
    return [interceptor]


def instrument_upstream_http(provider: TracerProvider | None) -> None:
    """A span (and a traceparent header) for each upstream HTTP request made with aiohttp."""
    if provider is None:
        return
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    AioHttpClientInstrumentor().instrument(tracer_provider=provider)
