"""The real `model-gateway` service over gRPC, against fake upstreams on loopback."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_status import rpc_status

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.integration.conftest import GATEWAY, PLANTED_KEY, ROOT, Gateway, free_port, stop, wait_for_tcp


@pytest.fixture(scope="module")
def channel(gateway: Gateway) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(gateway.grpc_target) as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> pb_grpc.ModelGatewayStub:
    return pb_grpc.ModelGatewayStub(channel)


def chat(model: str, text: str = "Hello there", **fields: object) -> pb.GenerateRequest:
    message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])
    return pb.GenerateRequest(model=model, messages=[message], **fields)  # type: ignore[arg-type]


def error_info(
    error: grpc.RpcError,
) -> tuple[error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo | None]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "the error carries no google.rpc.Status details"
    info, retry = error_details_pb2.ErrorInfo(), None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
    return info, retry


def stream_all(stub: pb_grpc.ModelGatewayStub, request: pb.GenerateRequest) -> tuple[str, pb.FinalChunk, int]:
    text, final, deltas = "", None, 0
    for chunk in stub.StreamGenerate(request, timeout=10):
        if chunk.HasField("delta"):
            text += chunk.delta.text
            deltas += 1
        else:
            assert final is None, "more than one final chunk"
            final = chunk.final
    assert final is not None, "the stream ended without a final chunk"
    return text, final, deltas


def test_standard_health_check_is_serving(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "modelgateway.v1.ModelGateway"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_reflection_only_client_can_call_the_service(channel: grpc.Channel) -> None:
    """No generated code: descriptors come from the server's reflection service."""
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    service = pool.FindServiceByName("modelgateway.v1.ModelGateway")

    def method(name: str) -> tuple[str, type, type]:
        m = service.methods_by_name[name]
        return (
            f"/{service.full_name}/{name}",
            message_factory.GetMessageClass(m.input_type),
            message_factory.GetMessageClass(m.output_type),
        )

    path, request_type, reply_type = method("ListModels")
    listing = channel.unary_unary(path, request_type.SerializeToString, reply_type.FromString)(request_type())
    assert "gpt-4o-mini" in [m.name for m in listing.models]

    path, request_type, reply_type = method("Generate")
    request = request_type(model="gpt-4o-mini")
    message = request.messages.add()
    message.role = pool.FindEnumTypeByName("modelgateway.v1.Role").values_by_name["ROLE_USER"].number
    message.content.add().text = "Hello reflection"
    reply = channel.unary_unary(path, request_type.SerializeToString, reply_type.FromString)(
        request, timeout=10
    )
    assert "reflection" in reply.message.content[0].text
    assert reply.usage.output_tokens > 0 and reply.route.provider == "cloud"

    path, request_type, reply_type = method("StreamGenerate")
    chunks = list(
        channel.unary_stream(path, request_type.SerializeToString, reply_type.FromString)(request, timeout=10)
    )
    assert chunks[-1].HasField("final") and chunks[-1].final.usage == reply.usage


@pytest.mark.parametrize(("model", "provider"), [("gpt-4o-mini", "cloud"), ("llama3.2", "local")])
def test_generate_and_stream_agree_on_text_usage_and_route(
    stub: pb_grpc.ModelGatewayStub, model: str, provider: str
) -> None:
    request = chat(model, "Tell me about usage accounting")
    reply = stub.Generate(request, timeout=10)
    assert reply.message.role == pb.ROLE_ASSISTANT
    assert reply.finish_reason == pb.FINISH_REASON_STOP
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0 and not reply.usage.estimated
    assert reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens
    assert (
        reply.route.requested_model == model
        and reply.route.provider == provider
        and reply.route.attempts == 1
    )
    assert reply.model == model and reply.id

    stream = stub.StreamGenerate(request, timeout=10)
    assert ("x-gateway-provider", provider) in stream.initial_metadata()  # known before the first chunk
    stream.cancel()

    text, final, deltas = stream_all(stub, request)
    assert deltas > 1
    assert text == reply.message.content[0].text
    assert final.usage == reply.usage
    assert final.cost == reply.cost
    assert final.route == reply.route


def test_cost_follows_the_configured_prices(stub: pb_grpc.ModelGatewayStub) -> None:
    reply = stub.Generate(chat("tiny"), timeout=10)  # llama3.2: $1 in, $2 out per Mtok
    assert reply.route.served_model == "llama3.2" and reply.route.requested_model == "tiny"
    assert reply.cost.input_usd == pytest.approx(reply.usage.input_tokens * 1.0 / 1e6)
    assert reply.cost.output_usd == pytest.approx(reply.usage.output_tokens * 2.0 / 1e6)


def test_failover_walks_deployments_and_reports_the_route(stub: pb_grpc.ModelGatewayStub) -> None:
    reply = stub.Generate(chat("flaky"), timeout=10)  # 500, refused connection, then a healthy Ollama
    assert reply.route.attempts == 3 and reply.route.provider == "local"
    assert reply.route.deployment == "local/llama3.2" and not reply.route.fallback_used
    _, final, _ = stream_all(stub, chat("flaky"))
    assert final.route.attempts == 3


def test_fallback_model_serves_when_every_deployment_fails(stub: pb_grpc.ModelGatewayStub) -> None:
    reply = stub.Generate(chat("with-fallback"), timeout=10)
    assert reply.route.fallback_used and reply.route.served_model == "llama3.2"
    assert reply.route.requested_model == "with-fallback" and reply.route.attempts == 2


@pytest.mark.parametrize(
    ("model", "code", "reason", "says"),
    [
        (
            "gpt-4o",
            grpc.StatusCode.NOT_FOUND,
            "MODEL_NOT_FOUND",
            "model 'gpt-4o' not found; did you mean 'gpt-4o-mini'",
        ),
        (
            "broken",
            grpc.StatusCode.UNAVAILABLE,
            "UPSTREAM_UNAVAILABLE",
            "provider 'cloud' (http://127.0.0.1:",
        ),
        ("unreachable", grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE", "is unreachable"),
        ("badkey", grpc.StatusCode.UNAUTHENTICATED, "UPSTREAM_AUTH_FAILED", "rejected the gateway's API key"),
        ("missing-upstream", grpc.StatusCode.NOT_FOUND, "UPSTREAM_MODEL_NOT_FOUND", "answered 404"),
    ],
)
def test_upstream_failures_map_to_codes_with_error_info(
    stub: pb_grpc.ModelGatewayStub, model: str, code: grpc.StatusCode, reason: str, says: str
) -> None:
    for call in (
        lambda: stub.Generate(chat(model), timeout=10),
        lambda: list(stub.StreamGenerate(chat(model), timeout=10)),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        error = caught.value
        assert error.code() == code  # type: ignore[attr-defined]
        assert says in error.details()  # type: ignore[attr-defined]
        assert PLANTED_KEY not in error.details()  # type: ignore[attr-defined]
        info, _ = error_info(error)
        assert info.reason == reason and info.domain == "model-gateway"


def test_rate_limit_carries_retry_info(stub: pb_grpc.ModelGatewayStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Generate(chat("limited"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    info, retry = error_info(caught.value)
    assert info.reason == "RATE_LIMITED"
    assert retry is not None and retry.retry_delay.seconds == 7


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.GenerateRequest(model="gpt-4o-mini"), "messages"),
        (chat("gpt-4o-mini", sampling=pb.Sampling(max_tokens=-1)), "sampling.max_tokens"),
        (chat("gpt-4o-mini", sampling=pb.Sampling(temperature=7)), "sampling.temperature"),
        (pb.GenerateRequest(model="gpt-4o-mini", messages=[pb.Message(role=42)]), "messages[0].role"),
        (
            pb.GenerateRequest(
                model="gpt-4o-mini",
                messages=[
                    pb.Message(
                        role=pb.ROLE_ASSISTANT, tool_calls=[pb.ToolCall(id="1", name="f", arguments="{")]
                    )
                ],
            ),
            "messages[0].tool_calls[0].arguments",
        ),
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field(
    stub: pb_grpc.ModelGatewayStub, request_: pb.GenerateRequest, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Generate(request_, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert caught.value.details().startswith(f"{field}:")  # type: ignore[attr-defined]
    assert error_info(caught.value)[0].metadata["field"] == field


@pytest.mark.parametrize("model", ["cut", "cut-local", "inband"])
def test_a_stream_failing_mid_answer_ends_with_a_status_not_silence(
    stub: pb_grpc.ModelGatewayStub, model: str
) -> None:
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for chunk in stub.StreamGenerate(chat(model), timeout=10):
            received.append(chunk)
    assert received and all(c.HasField("delta") for c in received)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]


def test_stream_without_upstream_usage_is_estimated(stub: pb_grpc.ModelGatewayStub) -> None:
    _, final, _ = stream_all(stub, chat("no-usage", "Count these words please"))
    assert final.usage.estimated
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


def test_a_cancelled_stream_closes_its_upstream_request(
    gateway: Gateway, stub: pb_grpc.ModelGatewayStub
) -> None:
    before = gateway.openai.stats()["streams_cancelled"]
    call = stub.StreamGenerate(chat("slow-stream"), timeout=30)
    first = next(call)
    assert first.HasField("delta")
    call.cancel()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and gateway.openai.stats()["streams_cancelled"] == before:
        time.sleep(0.1)
    assert gateway.openai.stats()["streams_cancelled"] == before + 1  # type: ignore[operator]


def test_a_deadline_bounds_the_call(gateway: Gateway, stub: pb_grpc.ModelGatewayStub) -> None:
    """The upstream request is closed when the deadline passes (the server-only proof, with the
    service's own request_timeout_s, is in test_hardening.py)."""
    cancelled = gateway.openai.stats()["unary_cancelled"]
    with pytest.raises(grpc.RpcError) as caught:
        stub.Generate(chat("slow"), timeout=0.5)  # the upstream's first byte takes 2 s
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    poll(lambda: gateway.openai.stats()["unary_cancelled"] == cancelled + 1)  # type: ignore[operator]


def poll(check: Callable[[], bool], within: float = 20.0) -> None:
    """Wait for what the fakes report, with a deadline generous enough for a loaded machine."""
    end = time.monotonic() + within
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_models_and_health(stub: pb_grpc.ModelGatewayStub) -> None:
    listing = stub.ListModels(pb.ListModelsRequest(), timeout=5)
    assert {"gpt-4o-mini", "llama3.2", "flaky"} <= {m.name for m in listing.models}
    model = stub.GetModel(pb.GetModelRequest(name="mini"), timeout=5)
    assert model.name == "gpt-4o-mini" and model.pricing.output_per_mtok == 0.6
    assert stub.Health(pb.HealthRequest(), timeout=5).status == pb.HealthResponse.STATUS_SERVING
    detailed = stub.Health(pb.HealthRequest(detailed=True), timeout=10)
    by_name = {p.name: p for p in detailed.providers}
    assert by_name["cloud"].healthy and by_name["local"].healthy and not by_name["refused"].healthy
    assert detailed.status == pb.HealthResponse.STATUS_DEGRADED
    assert PLANTED_KEY not in str(detailed)


def test_embeddings_through_both_providers(stub: pb_grpc.ModelGatewayStub) -> None:
    for model in ("embed-local", "embed-cloud"):
        reply = stub.Embed(pb.EmbedRequest(model=model, input=["one", "two"]), timeout=10)
        assert len(reply.embeddings) == 2 and len(reply.embeddings[0].values) > 0
        assert reply.route.served_model == model


def test_the_planted_provider_key_never_reaches_the_logs(
    gateway: Gateway, stub: pb_grpc.ModelGatewayStub
) -> None:
    with pytest.raises(grpc.RpcError):
        stub.Generate(chat("badkey"), timeout=10)
    stub.Generate(chat("gpt-4o-mini"), timeout=10)
    assert gateway.openai.stats()["requests"]  # the key was sent upstream...
    assert PLANTED_KEY not in gateway.logs()  # ...and never logged


def test_a_bad_config_stops_the_start_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - name: x\n    deployments: [{provider: nowhere, model: y}]\n")
    for config in (bad, tmp_path / "absent.yaml"):
        done = subprocess.run(
            [*GATEWAY, "--config", str(config), "serve"], cwd=ROOT, capture_output=True, text=True, timeout=30
        )
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and str(config) in lines[0], done.stderr


def test_messages_over_the_size_limit_are_refused(stub: pb_grpc.ModelGatewayStub) -> None:
    huge = chat("gpt-4o-mini", "x" * (17 * 1024 * 1024))  # the default limit is 16 MiB
    with pytest.raises(grpc.RpcError) as caught:
        stub.Generate(huge, timeout=20)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]


def test_sigterm_drains_in_flight_calls_then_exits(gateway: Gateway, tmp_path: Path) -> None:
    """Health watchers see NOT_SERVING at once; a call already running still completes."""
    port = free_port()
    config = tmp_path / "drain.yaml"
    config.write_text(
        f"server: {{grpc: '127.0.0.1:{port}', shutdown_grace_s: 10}}\n"
        f"providers: {{cloud: {{kind: openai, base_url: '{gateway.openai.url}/v1'}}}}\n"
        "models: [{name: slow, deployments: [{provider: cloud, model: slow-first-byte}]}]\n"
    )
    process = subprocess.Popen([*GATEWAY, "--config", str(config), "serve"], cwd=ROOT)
    try:
        wait_for_tcp(port, process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=10)
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            active = gateway.openai.stats()["active_unary"]
            in_flight = pb_grpc.ModelGatewayStub(channel).Generate.future(chat("slow"), timeout=20)
            # The upstream now holds its first byte for 2 s: wait until it has the request.
            poll(lambda: gateway.openai.stats()["active_unary"] > active)  # type: ignore[operator]
            process.send_signal(signal.SIGTERM)
            assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
            assert "fake-openai" in in_flight.result().message.content[0].text
        assert process.wait(timeout=15) == 0
    finally:
        stop(process)
