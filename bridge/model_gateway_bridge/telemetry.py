"""Tracing of the bridge: the FastAPI server span and the gRPC client span, in one trace.

The maintained instrumentations do the work: FastAPIInstrumentor honours an
incoming W3C traceparent and opens the server span (without a span per ASGI
send/receive, which a stream would multiply by its chunks), and the gRPC aio
client interceptors open a client span and carry its context to the gateway
in the call's metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from model_gateway_common.tracing import TelemetryConfig, setup_tracing

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


def setup_bridge_tracing(config: TelemetryConfig, install_global: bool = True) -> TracerProvider | None:
    """The bridge's provider (service `<telemetry.service_name>-bridge`), or None when tracing is off.

    In the gateway's own process (the in-process topology) it is not the global one: the
    gateway's is, and the bridge's spans are made with this provider explicitly.
    """
    return setup_tracing(config, f"{config.service_name}-bridge", install_global=install_global)


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls="/metrics$", exclude_spans=["send", "receive"]
    )


def client_interceptors(provider: TracerProvider | None) -> list[Any]:
    if provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    interceptors: list[Any] = aio_client_interceptors(tracer_provider=provider)  # type: ignore[no-untyped-call]
    return interceptors
