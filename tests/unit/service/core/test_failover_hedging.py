"""Hedged unary calls: a slow first deployment gets company, the first answer wins, the loser is cancelled.

Real (short) delays: hedging races real tasks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest

from model_gateway.config import ProviderConfig, parse_config
from model_gateway.core.context import RequestContext
from model_gateway.core.failover import Resilience
from model_gateway.core.pipeline import Pipeline
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.base import NO_SETTINGS, ModelSettings, Provider
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.service.routing.support import Events

CONFIG = parse_config(
    """
providers: {a: {kind: openai}, b: {kind: openai}}
models:
  - name: fixed
    routing: {hedge: {after_s: 0.05}}
    deployments: [{provider: a, model: slow}, {provider: b, model: quick}]
  - name: learned
    routing: {hedge: {percentile: 95, min_samples: 5}}
    deployments: [{provider: a, model: usual}, {provider: b, model: quick}]
  - name: plain
    deployments: [{provider: a, model: slow}, {provider: b, model: quick}]
"""
)


@dataclass
class Delayed(Provider):
    """Answers each model after its delay (or fails, for models named fail-*); logs who was cancelled."""

    name: str
    delays: dict[str, float] = field(default_factory=dict)
    called: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.name, ProviderConfig(kind="openai", base_url="http://127.0.0.1:9/v1"))

    async def generate(
        self, request: pb.GenerateRequest, model: str, timeout: float, settings: ModelSettings = NO_SETTINGS
    ) -> pb.GenerateResponse:
        self.called.append(model)
        try:
            await asyncio.sleep(self.delays.get(model, 0.0))
        except asyncio.CancelledError:
            self.cancelled.append(model)
            raise
        if model.startswith("fail"):
            raise GatewayError(grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE, "down")
        text = pb.ContentPart(text=f"from {model}")
        return pb.GenerateResponse(message=pb.Message(role=pb.ROLE_ASSISTANT, content=[text]))

    async def stream(
        self, request: pb.GenerateRequest, model: str, timeout: float, settings: ModelSettings = NO_SETTINGS
    ) -> AsyncIterator[pb.StreamChunk]:
        self.called.append(model)
        await asyncio.sleep(self.delays.get(model, 0.0))
        yield pb.StreamChunk(delta=pb.Delta(text=f"from {model}"))
        yield pb.StreamChunk(final=pb.FinalChunk(finish_reason=pb.FINISH_REASON_STOP))

    async def list_models(self, timeout: float) -> list[str]:
        return []

    @property
    def address(self) -> str:
        return "http://127.0.0.1:9"


def gateway(delays: dict[str, float]) -> tuple[Pipeline, Delayed, Delayed, Events]:
    a, b, events = Delayed("a", dict(delays)), Delayed("b", dict(delays)), Events()
    return Pipeline(CONFIG, {"a": a, "b": b}, resilience=Resilience(events=events)), a, b, events


def request(model: str) -> pb.GenerateRequest:
    message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hi")])
    return pb.GenerateRequest(model=model, messages=[message])


def ctx() -> RequestContext:
    return RequestContext.from_metadata((), Deadline(10))


async def timed(pipeline: Pipeline, model: str) -> tuple[pb.GenerateResponse, float]:
    started = time.monotonic()
    reply = await pipeline.generate(request(model), ctx())
    return reply, time.monotonic() - started


async def test_a_slow_deployment_is_hedged_and_the_first_answer_wins() -> None:
    pipeline, a, _, events = gateway({"slow": 1.0})
    reply, took = await timed(pipeline, "fixed")
    assert reply.route.upstream_model == "quick" and reply.route.attempts == 2
    assert took < 0.5 and a.cancelled == ["slow"] and events.hedges == ["b/quick"]


async def test_an_answer_within_the_delay_needs_no_hedge() -> None:
    pipeline, _, b, events = gateway({"slow": 0.0})
    reply, _ = await timed(pipeline, "fixed")
    assert reply.route.upstream_model == "slow" and b.called == [] and events.hedges == []


async def test_the_first_deployment_still_wins_when_it_answers_first() -> None:
    pipeline, _, b, _ = gateway({"slow": 0.15, "quick": 1.0})
    reply, took = await timed(pipeline, "fixed")
    assert reply.route.upstream_model == "slow" and took < 0.6 and b.cancelled == ["quick"]


async def test_without_hedging_the_slow_one_is_waited_for() -> None:
    pipeline, _, b, events = gateway({"slow": 0.2})
    reply, took = await timed(pipeline, "plain")
    assert reply.route.upstream_model == "slow" and took >= 0.2 and b.called == [] and events.hedges == []


async def test_the_delay_is_learned_from_recent_latencies() -> None:
    pipeline, _, b, events = gateway({"usual": 0.02})
    for _ in range(5):  # too few samples before this: no hedging while learning
        await pipeline.generate(request("learned"), ctx())
    assert events.hedges == [] and b.called == []
    stats = pipeline.registry.stats["a/usual"]
    assert len(stats.recent) == 5 and 0.02 <= stats.percentile(95) < 0.2
    pipeline.providers["a"].delays["usual"] = 1.0  # type: ignore[attr-defined]
    reply, took = await timed(pipeline, "learned")
    assert reply.route.upstream_model == "quick" and took < 0.5 and events.hedges == ["b/quick"]


async def test_streams_are_not_hedged() -> None:
    pipeline, _, b, events = gateway({"slow": 0.2})
    _, chunks = await pipeline.stream(request("fixed"), ctx())
    received = [c async for c in chunks]
    assert received[0].delta.text == "from slow"
    assert b.called == [] and events.hedges == []


@pytest.mark.parametrize("first_fails", [True, False])
async def test_a_hedge_whose_first_call_fails_waits_for_the_second(first_fails: bool) -> None:
    delays = {"fail-slow": 0.1, "quick": 0.2}
    config = parse_config(
        """
providers: {a: {kind: openai}, b: {kind: openai}}
routing: {retries: 0, hedge: {after_s: 0.05}}
models:
  - name: m
    deployments: [{provider: a, model: fail-slow}, {provider: b, model: quick}]
"""
    )
    a, b = Delayed("a", dict(delays)), Delayed("b", dict(delays))
    if not first_fails:
        a.delays["fail-slow"] = 0.3  # fails after the second answered: the second still wins
    pipeline = Pipeline(config, {"a": a, "b": b})
    reply = await pipeline.generate(request("m"), ctx())
    assert reply.route.upstream_model == "quick" and reply.route.attempts == 2
