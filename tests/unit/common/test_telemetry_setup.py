"""When tracing is on and where spans go: the OTEL_* variables first, then the config."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from model_gateway.config import ConfigError, TelemetryConfig, parse_config
from model_gateway_common.tracing import Exporting, exporting, record_content, setup_tracing

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"


def test_nothing_configured_means_no_tracing_and_no_sdk() -> None:
    assert exporting(TelemetryConfig(), {}) is None
    assert setup_tracing(TelemetryConfig(), "model-gateway", env={}) is None
    assert type(trace.get_tracer_provider()).__module__.startswith("opentelemetry.trace")  # the API's own


def test_the_environment_wins_over_the_config() -> None:
    config = TelemetryConfig(otlp_endpoint="http://collector:4317", otlp_protocol="grpc")
    assert exporting(config, {}) == Exporting("grpc", "http://collector:4317")
    env = {ENDPOINT: "http://other:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    # The exporter reads the endpoint from the environment itself (adding /v1/traces).
    assert exporting(config, env) == Exporting("http/protobuf", None)
    assert exporting(TelemetryConfig(), {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x:4317"}) == Exporting(
        "grpc", None
    )


def test_an_http_base_url_from_the_config_gets_the_traces_path() -> None:
    config = TelemetryConfig(otlp_endpoint="http://jaeger:4318", otlp_protocol="http/protobuf")
    assert exporting(config, {}) == Exporting("http/protobuf", "http://jaeger:4318/v1/traces")


@pytest.mark.parametrize(
    "env, config",
    [
        ({ENDPOINT: "http://c:4317", "OTEL_SDK_DISABLED": "true"}, TelemetryConfig()),
        ({ENDPOINT: "http://c:4317", "OTEL_TRACES_EXPORTER": "none"}, TelemetryConfig()),
        ({ENDPOINT: "http://c:4317"}, TelemetryConfig(enabled=False)),
    ],
)
def test_tracing_can_be_switched_off(env: dict[str, str], config: TelemetryConfig) -> None:
    assert exporting(config, env) is None


def test_enabled_without_an_endpoint_uses_the_exporter_default() -> None:
    assert exporting(TelemetryConfig(enabled=True), {}) == Exporting("grpc", None)


def test_content_capture_is_opt_in() -> None:
    assert record_content(TelemetryConfig(), {}) is False
    assert record_content(TelemetryConfig(record_content=True), {}) is True
    assert record_content(TelemetryConfig(), {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"})


def test_config_sections() -> None:
    config = parse_config("server: {metrics: ''}\ntelemetry: {service_name: gw, record_content: true}")
    assert config.server.metrics is None
    assert config.telemetry.service_name == "gw" and config.telemetry.record_content
    with pytest.raises(ConfigError, match=r"telemetry\.exporter: unknown key"):
        parse_config("telemetry: {exporter: jaeger}")
