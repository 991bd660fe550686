"""Traces, metrics and logs of a real `model-gateway up`, exported to a real OTLP receiver.

The receiver is an OTLP/gRPC TraceService server (opentelemetry-proto) in this
process, on a free port; both processes export to it through the standard
OTEL_* variables. The spans are then checked for one trace across the bridge
and the gateway, the GenAI attributes of each upstream attempt, and the
absence of any secret.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.instrumentation.grpc import client_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.integration.conftest import (
    GATEWAY,
    PLANTED_KEY,
    ROOT,
    Fake,
    free_port,
    gateway_config,
    start_fake,
    stop,
    wait_for_tcp,
)

GATEWAY_SERVICE = "model-gateway"
BRIDGE_SERVICE = "model-gateway-bridge"
# gen_ai.client.operation.duration's advised boundaries, from the conventions' text.
SEMCONV_LATENCY_BUCKETS = {0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96}
SEMCONV_LATENCY_BUCKETS |= {81.92}


# --- the OTLP receiver ----------------------------------------------------------------------------


def _value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _attributes(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    status_code: int
    status_message: str
    raw: trace_pb2.Span = field(repr=False)
    resource: dict[str, Any] = field(repr=False)


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """Receives ExportTraceServiceRequests like an OpenTelemetry Collector would."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[Span] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self.server)  # type: ignore[no-untyped-call]
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        received = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        Span(
                            service=str(resource.get("service.name")),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes=_attributes(span.attributes),
                            status_code=span.status.code,
                            status_message=span.status.message,
                            raw=span,
                            resource=resource,
                        )
                    )
        with self._lock:
            self._spans.extend(received)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self, trace_id: str | None = None) -> list[Span]:
        with self._lock:
            return [s for s in self._spans if trace_id is None or s.trace_id == trace_id]

    def wait_for(self, trace_id: str, done: Callable[[list[Span]], bool], timeout: float = 15) -> list[Span]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            spans = self.spans(trace_id)
            if done(spans):
                return spans
            time.sleep(0.05)
        names = [(s.service, s.name) for s in self.spans(trace_id)]
        raise AssertionError(f"the spans of trace {trace_id} did not all arrive; got {names}")


# --- the processes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    grpc_target: str
    bridge_url: str
    gateway_metrics_url: str
    openai: Fake
    ollama: Fake
    ollama_port: int
    collector: Collector
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.logs().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("telemetry")
    collector = Collector()
    openai_fake, openai_process = start_fake("openai_server", tmp)
    ollama_fake, ollama_process = start_fake("ollama_server", tmp)
    grpc_port, bridge_port, metrics_port = free_port(), free_port(), free_port()
    config = tmp / "gateway.yaml"
    config.write_text(
        gateway_config(openai_fake.url, ollama_fake.url, grpc_port, bridge_port, metrics_port=metrics_port)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {
        "TEST_CLOUD_KEY": PLANTED_KEY,
        "LOG_LEVEL": "INFO",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: spans arrive while the test waits
    }
    log_path = tmp / "gateway.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*GATEWAY, "--config", str(config), "up"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        for port in (grpc_port, bridge_port, metrics_port):
            wait_for_tcp(port, process)
        yield Stack(
            f"127.0.0.1:{grpc_port}",
            f"http://127.0.0.1:{bridge_port}",
            f"http://127.0.0.1:{metrics_port}/metrics",
            openai_fake,
            ollama_fake,
            int(ollama_fake.url.rsplit(":", 1)[1]),
            collector,
            log_path,
        )
    finally:
        stop(process)
        stop(openai_process)
        stop(ollama_process)
        collector.server.stop(grace=None)


@pytest.fixture(scope="module")
def stub(stack: Stack) -> Iterator[pb_grpc.ModelGatewayStub]:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        yield pb_grpc.ModelGatewayStub(channel)


def traceparent() -> tuple[str, str, str]:
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent, f"00-{trace_id}-{parent}-01"


def native_body(model: str, **sampling: float) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "ROLE_USER", "content": [{"text": "Why is the sky blue?"}]}],
        "sampling": sampling,
    }


def chat(model: str) -> pb.GenerateRequest:
    message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="Hello there")])
    return pb.GenerateRequest(model=model, messages=[message])


def one(spans: list[Span], **where: Any) -> Span:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in where.items())]
    assert len(found) == 1, f"expected one span with {where}, got {[(s.service, s.name) for s in found]}"
    return found[0]


def genai_spans(spans: list[Span]) -> list[Span]:
    return [s for s in spans if "gen_ai.operation.name" in s.attributes]


SERVER, CLIENT = trace_pb2.Span.SPAN_KIND_SERVER, trace_pb2.Span.SPAN_KIND_CLIENT


def settle(stack: Stack) -> None:
    """Every span that ended before now has reached the collector: a marker call's spans have.

    Each service's batch processor exports spans in the order they end, so once
    the marker's last span of each service (the bridge's server span ends after
    its response) is in, every earlier one is too. No sleeping on it.
    """
    trace_id, _, header = traceparent()
    reply = httpx.post(
        f"{stack.bridge_url}/api/v1/generate",
        json=native_body("mini"),
        headers={"traceparent": header},
        timeout=15,
    )
    assert reply.status_code == 200

    def complete(spans: list[Span]) -> bool:
        bridge_server = any(s.kind == SERVER and s.name.startswith("POST") for s in spans)
        gateway = len({s.service for s in spans}) >= 2 and len(genai_spans(spans)) == 1
        return bridge_server and gateway

    stack.collector.wait_for(trace_id, complete)


# --- one trace across both processes ---------------------------------------------------------------


def test_rest_call_with_traceparent_is_one_trace_with_genai_attributes(stack: Stack) -> None:
    trace_id, parent, header = traceparent()
    reply = httpx.post(
        f"{stack.bridge_url}/api/v1/generate",
        json=native_body("gpt-4o-mini", maxTokens=50, temperature=0.25, topP=0.5),
        headers={"traceparent": header},
        timeout=15,
    )
    assert reply.status_code == 200, reply.text
    usage = reply.json()["usage"]

    def complete(spans: list[Span]) -> bool:
        kinds = {(s.service, s.kind) for s in spans}
        return {
            (BRIDGE_SERVICE, SERVER),
            (BRIDGE_SERVICE, CLIENT),
            (GATEWAY_SERVICE, SERVER),
        } <= kinds and any(s.name == "chat gpt-4o-mini" for s in spans)

    spans = stack.collector.wait_for(trace_id, complete)
    bridge_server = one(spans, service=BRIDGE_SERVICE, kind=SERVER)
    bridge_client = one(spans, service=BRIDGE_SERVICE, kind=CLIENT)
    gateway_server = one(spans, service=GATEWAY_SERVICE, kind=SERVER)
    attempt = one(spans, name="chat gpt-4o-mini")

    # The caller's span -> bridge server -> its gRPC client -> gateway server -> the upstream call.
    assert bridge_server.parent_id == parent
    assert bridge_server.name == "POST /api/v1/generate"
    assert bridge_client.parent_id == bridge_server.span_id
    assert bridge_client.name == "/modelgateway.v1.ModelGateway/Generate"
    assert gateway_server.parent_id == bridge_client.span_id
    assert attempt.parent_id == gateway_server.span_id
    assert attempt.service == GATEWAY_SERVICE and attempt.kind == CLIENT

    a = attempt.attributes
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.response.model"] == "gpt-4o-mini"
    assert a["gen_ai.request.max_tokens"] == 50
    assert a["gen_ai.request.temperature"] == 0.25
    assert a["gen_ai.request.top_p"] == 0.5
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["gen_ai.usage.input_tokens"] == int(usage["inputTokens"]) > 0
    assert a["gen_ai.usage.output_tokens"] == int(usage["outputTokens"]) > 0
    assert a["server.address"] == "127.0.0.1"
    assert a["server.port"] == int(stack.openai.url.rsplit(":", 1)[1])
    assert a["gateway.route.attempt"] == 1
    assert a["gateway.route.fallback_used"] is False
    assert a["gateway.route.cache_hit"] is False
    assert a["gateway.route.provider"] == "cloud"
    assert a["gateway.route.requested_model"] == a["gateway.route.served_model"] == "gpt-4o-mini"
    assert "error.type" not in a
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a  # opt-in only

    # The upstream HTTP request is the attempt's child, and the trace reaches the upstream too.
    http = [s for s in spans if s.parent_id == attempt.span_id]
    assert len(http) == 1 and http[0].kind == CLIENT, http
    sent = stack.openai.stats()["last_request"]
    assert isinstance(sent, dict) and trace_id in sent["headers"]["traceparent"]


def test_streams_get_no_span_per_chunk(stack: Stack) -> None:
    trace_id, _, header = traceparent()
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "Count to ten"}]}
    with httpx.stream(
        "POST", f"{stack.bridge_url}/api/chat", json=body, headers={"traceparent": header}, timeout=15
    ) as reply:
        lines = [line for line in reply.iter_lines() if line]
    assert reply.status_code == 200 and len(lines) > 2

    def complete(spans: list[Span]) -> bool:
        names = {s.name for s in spans}
        return {"POST /api/chat", "chat llama3.2", "/modelgateway.v1.ModelGateway/StreamGenerate"} <= names

    stack.collector.wait_for(trace_id, complete)
    settle(stack)  # a span per chunk, if there were any, has arrived by now
    spans = stack.collector.spans(trace_id)
    attempt = one(spans, name="chat llama3.2")
    assert attempt.attributes["gen_ai.provider.name"] == "ollama"
    assert attempt.attributes["gen_ai.request.stream"] is True
    assert attempt.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert attempt.attributes["server.port"] == stack.ollama_port
    assert attempt.attributes["gen_ai.usage.output_tokens"] > 0
    bridge = [s for s in spans if s.service == BRIDGE_SERVICE]
    # One server span and one gRPC client span: no "http send" span per NDJSON line.
    assert sorted(s.kind for s in bridge) == sorted([SERVER, CLIENT]), [s.name for s in bridge]


def test_grpc_call_from_an_instrumented_client_joins_its_trace(stack: Stack) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with grpc.insecure_channel(stack.grpc_target) as plain:
        interceptor = client_interceptor(tracer_provider=provider)  # type: ignore[no-untyped-call]
        channel = intercept_channel(plain, interceptor)  # type: ignore[no-untyped-call]
        reply = pb_grpc.ModelGatewayStub(channel).Generate(chat("gpt-4o-mini"), timeout=10)
    assert reply.usage.output_tokens > 0
    (client_span,) = exporter.get_finished_spans()
    trace_id = format(client_span.context.trace_id, "032x")

    spans = stack.collector.wait_for(trace_id, lambda spans: len(genai_spans(spans)) == 1)
    server = one(spans, service=GATEWAY_SERVICE, kind=SERVER)
    assert server.parent_id == format(client_span.context.span_id, "016x")
    attempt = one(spans, name="chat gpt-4o-mini")
    assert attempt.parent_id == server.span_id
    assert attempt.attributes["gen_ai.usage.input_tokens"] == reply.usage.input_tokens
    assert attempt.attributes["gen_ai.usage.output_tokens"] == reply.usage.output_tokens


def test_failover_gives_one_span_per_attempt(stack: Stack, stub: pb_grpc.ModelGatewayStub) -> None:
    trace_id, _, header = traceparent()
    reply = stub.Generate(chat("flaky"), metadata=(("traceparent", header),), timeout=15)
    assert reply.route.attempts == 3

    spans = stack.collector.wait_for(trace_id, lambda spans: len(genai_spans(spans)) == 3)
    server = one(spans, service=GATEWAY_SERVICE, kind=SERVER)
    attempts = sorted(genai_spans(spans), key=lambda s: s.attributes["gateway.route.attempt"])
    assert [s.name for s in attempts] == ["chat fail-500", "chat gpt-4o-mini", "chat llama3.2"]
    assert [s.attributes["gateway.route.provider"] for s in attempts] == ["cloud", "refused", "local"]
    assert [s.attributes["gen_ai.provider.name"] for s in attempts] == ["openai", "openai", "ollama"]
    assert {s.attributes["gateway.route.requested_model"] for s in attempts} == {"flaky"}
    assert all(s.parent_id == server.span_id for s in attempts)
    for failed in attempts[:2]:
        assert failed.attributes["error.type"] == "UPSTREAM_UNAVAILABLE"
        assert failed.status_code == trace_pb2.Status.STATUS_CODE_ERROR
    assert "error.type" not in attempts[2].attributes
    assert attempts[2].status_code != trace_pb2.Status.STATUS_CODE_ERROR
    assert attempts[2].attributes["gen_ai.usage.output_tokens"] == reply.usage.output_tokens


# --- metrics -------------------------------------------------------------------------------------


Samples = list[tuple[str, dict[str, str], float]]


def scrape(url: str) -> Samples:
    reply = httpx.get(url, timeout=5)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    ]


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for n, lab, v in samples if n == name and all(lab.get(k) == x for k, x in labels.items()))


def test_metrics_of_both_processes_move_by_the_expected_amounts(
    stack: Stack, stub: pb_grpc.ModelGatewayStub
) -> None:
    bridge_url = f"{stack.bridge_url}/metrics"
    bridge_before, gateway_before = scrape(bridge_url), scrape(stack.gateway_metrics_url)

    costs = []
    for _ in range(3):
        reply = httpx.post(f"{stack.bridge_url}/api/v1/generate", json=native_body("mini"), timeout=15)
        assert reply.status_code == 200
        costs.append(reply.json()["cost"]["totalUsd"])
        input_tokens = int(reply.json()["usage"]["inputTokens"])
    assert httpx.post(f"{stack.bridge_url}/api/v1/generate", json=native_body("flaky"), timeout=15).is_success
    with httpx.stream(
        "POST",
        f"{stack.bridge_url}/api/chat",
        json={"model": "llama3.2", "messages": [{"role": "user", "content": "Hi"}]},
        timeout=15,
    ) as streamed:
        assert streamed.status_code == 200
        streamed.read()
    assert httpx.get(f"{stack.bridge_url}/api/v1/models/no-such-model", timeout=5).status_code == 404
    assert httpx.get(f"{stack.bridge_url}/no/such/path/42", timeout=5).status_code == 404
    deltas = sum(1 for c in stub.StreamGenerate(chat("llama3.2"), timeout=10) if c.HasField("delta"))
    assert all(c.HasField("delta") or c.final.usage.estimated for c in stub.StreamGenerate(chat("no-usage")))
    with pytest.raises(grpc.RpcError):
        stub.Generate(chat("no-such-model"), timeout=5)

    bridge_after, gateway_after = scrape(bridge_url), scrape(stack.gateway_metrics_url)

    def bridge(name: str, **labels: str) -> float:
        return total(bridge_after, name, **labels) - total(bridge_before, name, **labels)

    def gateway(name: str, **labels: str) -> float:
        return total(gateway_after, name, **labels) - total(gateway_before, name, **labels)

    requests = "model_gateway_bridge_requests_total"
    native = {"surface": "native", "route": "/api/v1/generate", "method": "POST", "status": "200"}
    assert bridge(requests, **native) == 4
    assert bridge(requests, surface="ollama", route="/api/chat", status="200") == 1
    # Route templates, not paths: a model name or a random path never becomes a label.
    assert bridge(requests, surface="native", route="/api/v1/models/{name:path}", status="404") == 1
    assert bridge(requests, route="_unmatched", status="404") == 1
    assert not any("no-such" in str(labels) for _, labels, _ in bridge_after)
    assert bridge("model_gateway_bridge_request_duration_seconds_count", route="/api/v1/generate") == 4
    assert total(bridge_after, "model_gateway_bridge_streams_in_flight") == 0

    served = "model_gateway_requests_total"
    assert gateway(served, rpc="Generate", model="gpt-4o-mini", provider="cloud", outcome="ok") == 3
    assert gateway(served, rpc="Generate", model="flaky", provider="local", outcome="ok") == 1
    assert gateway(served, rpc="StreamGenerate", model="llama3.2", provider="local", outcome="ok") == 2
    assert gateway(served, rpc="StreamGenerate", model="no-usage", provider="cloud", outcome="ok") == 1
    assert gateway(served, model="_unknown", outcome="MODEL_NOT_FOUND") == 1
    failovers = "model_gateway_failover_attempts_total"
    assert gateway(failovers, model="flaky", provider="cloud", error_type="UPSTREAM_UNAVAILABLE") == 1
    assert gateway(failovers, model="flaky", provider="refused", error_type="UPSTREAM_UNAVAILABLE") == 1
    assert gateway("model_gateway_usage_estimated_total", model="no-usage") == 1
    assert gateway("model_gateway_usage_estimated_total", model="gpt-4o-mini") == 0
    assert math.isclose(
        gateway("model_gateway_cost_usd_total", model="gpt-4o-mini"), sum(costs), rel_tol=1e-6
    )

    mini = {"gen_ai_request_model": "gpt-4o-mini", "gen_ai_provider_name": "openai"}
    assert gateway("gen_ai_client_token_usage_count", gen_ai_token_type="input", **mini) == 3
    assert gateway("gen_ai_client_token_usage_sum", gen_ai_token_type="input", **mini) == 3 * input_tokens
    duration = "gen_ai_client_operation_duration_seconds_count"
    assert gateway(duration, error_type="", **mini) == 3
    assert gateway(duration, gen_ai_request_model="fail-500", error_type="UPSTREAM_UNAVAILABLE") == 1
    llama = {"gen_ai_request_model": "llama3.2", "gen_ai_provider_name": "ollama"}
    assert gateway("gen_ai_client_operation_time_to_first_chunk_seconds_count", **llama) == 2
    per_chunk = gateway("gen_ai_client_operation_time_per_output_chunk_seconds_count", **llama)
    assert per_chunk >= deltas - 1 > 0  # the REST stream adds its own
    # The GenAI conventions' advised bucket boundaries.
    bounds = {
        float(lab["le"])
        for n, lab, _ in gateway_after
        if n == "gen_ai_client_operation_duration_seconds_bucket"
    }
    assert bounds == SEMCONV_LATENCY_BUCKETS | {math.inf}


# --- logs and secrets ---------------------------------------------------------------------------


def test_one_json_line_per_request_joined_by_request_and_trace_id(stack: Stack) -> None:
    trace_id, _, header = traceparent()
    request_id = f"req-{secrets.token_hex(6)}"
    reply = httpx.post(
        f"{stack.bridge_url}/api/v1/generate",
        json=native_body("mini"),
        headers={"traceparent": header, "x-request-id": request_id},
        timeout=15,
    )
    assert reply.status_code == 200 and reply.headers["x-request-id"] == request_id
    body = reply.json()

    def lines() -> list[dict[str, Any]]:
        return [line for line in stack.log_lines() if line.get("request_id") == request_id]

    end = time.monotonic() + 10
    while len(lines()) < 2 and time.monotonic() < end:
        time.sleep(0.05)
    by_logger = {line["logger"]: line for line in lines()}
    assert set(by_logger) == {"model_gateway.access", "model_gateway_bridge.access"}, lines()

    gateway = by_logger["model_gateway.access"]
    assert gateway["level"] == "INFO" and gateway["msg"] == "request"
    assert gateway["trace_id"] == trace_id
    assert gateway["surface"] == "native"
    assert gateway["requested_model"] == "mini"
    assert gateway["served_model"] == "gpt-4o-mini"
    assert gateway["provider"] == "cloud"
    assert gateway["status"] == "OK"
    assert gateway["latency_ms"] > 0
    assert gateway["input_tokens"] == int(body["usage"]["inputTokens"])
    assert gateway["output_tokens"] == int(body["usage"]["outputTokens"])
    assert gateway["cost_usd"] == pytest.approx(body["cost"]["totalUsd"])

    bridge = by_logger["model_gateway_bridge.access"]
    assert bridge["trace_id"] == trace_id
    assert bridge["surface"] == "native" and bridge["route"] == "/api/v1/generate"
    assert bridge["status"] == 200
    assert bridge["served_model"] == "gpt-4o-mini" and bridge["provider"] == "cloud"
    assert bridge["latency_ms"] >= bridge["ttfb_ms"] > 0


def test_the_planted_key_appears_in_no_log_line_and_no_span(
    stack: Stack, stub: pb_grpc.ModelGatewayStub
) -> None:
    # The key is the cloud provider's key (TEST_CLOUD_KEY), and the caller sends it as its own too.
    trace_id, _, header = traceparent()
    auth = {"authorization": f"Bearer {PLANTED_KEY}", "traceparent": header}
    url = f"{stack.bridge_url}/api/v1/generate"
    assert httpx.post(url, json=native_body("mini"), headers=auth, timeout=15).status_code == 200
    assert httpx.post(url, json=native_body("badkey"), headers=auth, timeout=15).status_code == 401
    grpc_trace, _, grpc_header = traceparent()
    with pytest.raises(grpc.RpcError):
        metadata = (("authorization", f"Bearer {PLANTED_KEY}"), ("traceparent", grpc_header))
        stub.Generate(chat("badkey"), metadata=metadata, timeout=10)
    stack.collector.wait_for(trace_id, lambda spans: len(genai_spans(spans)) == 2)
    stack.collector.wait_for(grpc_trace, lambda spans: len(genai_spans(spans)) == 1)
    settle(stack)  # the bridge's server spans end after the response: they are in by now

    assert stack.openai.stats()["last_request"]["headers"]["authorization"] == f"Bearer {PLANTED_KEY}"  # type: ignore[index]
    assert PLANTED_KEY not in stack.logs()
    everything = stack.collector.spans()
    assert len(everything) > 20
    for span in everything:
        assert PLANTED_KEY not in span.raw.SerializeToString().decode("latin-1"), span
        assert PLANTED_KEY not in json.dumps(span.resource)
    for url in (f"{stack.bridge_url}/metrics", stack.gateway_metrics_url):
        assert PLANTED_KEY not in httpx.get(url, timeout=5).text
