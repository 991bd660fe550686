"""Tracing set-up, shared by the gateway and the bridge: an OTLP-exporting SDK, or nothing.

The standard environment variables decide first (OTEL_SDK_DISABLED,
OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT / _PROTOCOL,
OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_*),
then the config's `telemetry` section. With no endpoint configured anywhere
no SDK provider is installed: the API's no-op tracer is all that runs, and
nothing is exported.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field

from model_gateway_common import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger("model_gateway.telemetry")


class TelemetryConfig(BaseModel):
    """The config's `telemetry` section. The standard OTEL_* environment variables win over these keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = None  # None: on exactly when an OTLP endpoint is configured
    otlp_endpoint: str | None = None
    otlp_protocol: Literal["grpc", "http/protobuf"] | None = None
    service_name: str = Field(default="model-gateway", min_length=1)  # the bridge adds "-bridge"
    record_content: bool = False  # prompts and completions on spans: opt-in only


_TRUE = ("true", "1", "yes", "on")


@dataclass(frozen=True, slots=True)
class Exporting:
    """Where spans go. `endpoint` None: the exporter reads it from the environment."""

    protocol: str
    endpoint: str | None


def _env(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def exporting(config: TelemetryConfig, env: Mapping[str, str]) -> Exporting | None:
    """Whether to trace and where to, or None for no tracing at all."""
    if (_env(env, "OTEL_SDK_DISABLED") or "").lower() in _TRUE:
        return None
    if (_env(env, "OTEL_TRACES_EXPORTER") or "otlp").lower() == "none" or config.enabled is False:
        return None
    from_env = _env(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    if from_env is None and config.otlp_endpoint is None and config.enabled is not True:
        return None
    protocol = (
        _env(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
        or config.otlp_protocol
        or "grpc"  # the collector's and Jaeger's 4317; the SDK's own default too
    )
    if protocol not in ("grpc", "http/protobuf"):
        log.warning("OTLP protocol %r is not supported; using grpc", protocol)
        protocol = "grpc"
    endpoint = None if from_env else config.otlp_endpoint
    if endpoint and protocol == "http/protobuf" and not endpoint.rstrip("/").endswith("/v1/traces"):
        # A signal-specific endpoint is used as-is by the exporter; a base URL gets the path.
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return Exporting(protocol, endpoint)


def record_content(config: TelemetryConfig, env: Mapping[str, str]) -> bool:
    """Prompts and completions on spans: the config's opt-in, or the GenAI instrumentations' env var."""
    value = (_env(env, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT") or "").lower()
    return config.record_content or value in _TRUE


def setup_tracing(
    config: TelemetryConfig,
    service_name: str,
    env: Mapping[str, str] | None = None,
    install_global: bool = True,
) -> TracerProvider | None:
    """Install and return the global SDK TracerProvider, or None (and install nothing).

    `install_global=False` only returns it: the second service of a process (the bridge
    beside the gateway, in process) uses its own provider explicitly, under its own name.
    """
    env = os.environ if env is None else env
    target = exporting(config, env)
    if target is None:
        return None
    # Imported only when tracing: the SDK and the exporters cost start-up time.
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter: Any
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        exporter = GrpcExporter(endpoint=target.endpoint)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        exporter = HttpExporter(endpoint=target.endpoint)

    # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES first; our name only when they say nothing.
    resource = Resource.create({SERVICE_VERSION: __version__})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(exporter))  # OTEL_BSP_* tune it
    if install_global:
        trace.set_tracer_provider(provider)
    log.info(
        "tracing on: %s as %s to %s",
        target.protocol,
        resource.attributes.get(SERVICE_NAME),
        target.endpoint or "the endpoint in OTEL_EXPORTER_OTLP_*",
    )
    return provider


def shutdown_tracing(provider: TracerProvider | None) -> None:
    """Export what is buffered; a collector that is gone costs at most the exporter's timeout."""
    if provider is not None:
        provider.shutdown()
