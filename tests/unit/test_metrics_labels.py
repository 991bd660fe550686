"""Each failover attempt is measured on its own (the bridge's labels: tests/unit/bridge)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import grpc
from prometheus_client import REGISTRY

from model_gateway.config import ProviderConfig, parse_config
from model_gateway.core.failover import call_unary, open_stream
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from model_gateway.obs.genai import Operation, chat_operation, configure
from model_gateway.providers import Provider
from model_gateway.routing.registry import Registry
from modelgateway.v1 import gateway_pb2 as pb


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Scripted(Provider):
    """Fails with `error`, or answers with two deltas and a final chunk."""

    def __init__(self, name: str, error: GatewayError | None = None) -> None:
        super().__init__(name, ProviderConfig(kind="openai", base_url="http://127.0.0.1:9/v1"))
        self.error = error

    async def generate(self, request: pb.GenerateRequest, model: str, timeout: float) -> pb.GenerateResponse:
        if self.error:
            raise self.error
        usage = pb.Usage(input_tokens=3, output_tokens=5)
        return pb.GenerateResponse(finish_reason=pb.FINISH_REASON_STOP, usage=usage)

    async def stream(
        self, request: pb.GenerateRequest, model: str, timeout: float
    ) -> AsyncIterator[pb.StreamChunk]:
        if self.error:
            raise self.error
        yield pb.StreamChunk(delta=pb.Delta(text="a"))
        yield pb.StreamChunk(delta=pb.Delta(text="b"))
        yield pb.StreamChunk(final=pb.FinalChunk(usage=pb.Usage(input_tokens=3, output_tokens=2)))

    async def list_models(self, timeout: float) -> list[str]:
        return []

    @property
    def address(self) -> str:
        return "http://127.0.0.1:9"


DOWN = GatewayError(grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE, "down")
CONFIG = parse_config(
    """
providers: {bad: {kind: openai}, good: {kind: openai}}
models:
  - name: metered
    deployments: [{provider: bad, model: up-bad}, {provider: good, model: up-good}]
"""
)
PROVIDERS: dict[str, Provider] = {"bad": Scripted("bad", DOWN), "good": Scripted("good")}
REQUEST = pb.GenerateRequest(model="metered", messages=[pb.Message(role=pb.ROLE_USER)])


def duration_count(model: str, error_type: str) -> float:
    return sample(
        "gen_ai_client_operation_duration_seconds_count",
        gen_ai_operation_name="chat",
        gen_ai_provider_name="openai",
        gen_ai_request_model=model,
        gen_ai_response_model=model,
        server_address="127.0.0.1",
        server_port="9",
        error_type=error_type,
    )


async def test_each_attempt_is_measured_and_a_failover_counted() -> None:
    routes = Registry(CONFIG).routes("metered")
    failovers = {"model": "metered", "provider": "bad", "error_type": "UPSTREAM_UNAVAILABLE"}
    before = (
        sample("model_gateway_failover_attempts_total", **failovers),
        duration_count("up-bad", "UPSTREAM_UNAVAILABLE"),
        duration_count("up-good", ""),
    )
    response, attempt = await call_unary(
        "metered",
        routes,
        PROVIDERS,
        Deadline(5),
        lambda provider, route, left: provider.generate(REQUEST, route.deployment.model, left),
        chat_operation(REQUEST, stream=False),
    )
    assert attempt.number == 2 and response.usage.output_tokens == 5
    assert sample("model_gateway_failover_attempts_total", **failovers) - before[0] == 1
    assert duration_count("up-bad", "UPSTREAM_UNAVAILABLE") - before[1] == 1
    assert duration_count("up-good", "") - before[2] == 1


async def test_a_stream_the_client_leaves_ends_its_attempt_as_cancelled() -> None:
    routes = Registry(CONFIG).routes("metered")[1:]
    before = duration_count("up-good", "CANCELLED")
    first, rest, _ = await open_stream(
        "metered",
        routes,
        PROVIDERS,
        Deadline(5),
        lambda provider, route, left: provider.stream(REQUEST, route.deployment.model, left),
        chat_operation(REQUEST, stream=True),
    )
    assert first.delta.text == "a"
    await anext(rest)
    await rest.aclose()  # type: ignore[attr-defined]
    assert duration_count("up-good", "CANCELLED") - before == 1


def test_request_attributes_are_built_only_when_tracing_and_content_only_on_opt_in() -> None:
    sampling = pb.Sampling(max_tokens=64, temperature=0.0, stop=["\n"])
    request = pb.GenerateRequest(
        model="m",
        messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="Hi")])],
        sampling=sampling,
    )
    assert chat_operation(request, stream=True) == Operation("chat", "m")  # tracing off: nothing computed
    try:
        configure(tracing=True)
        traced = chat_operation(request, stream=True)
        assert traced.attributes == {
            "gen_ai.request.max_tokens": 64,
            "gen_ai.request.temperature": 0.0,
            "gen_ai.request.stop_sequences": ["\n"],
            "gen_ai.request.stream": True,
        }
        assert traced.input_messages is None
        configure(tracing=True, record_content=True)
        content = chat_operation(pb.GenerateRequest(prompt="Once", system="Be brief"), stream=False)
        assert content.name == "text_completion"
        assert json.loads(content.input_messages or "") == [
            {"role": "system", "parts": [{"type": "text", "content": "Be brief"}]},
            {"role": "user", "parts": [{"type": "text", "content": "Once"}]},
        ]
    finally:
        configure(tracing=False)
