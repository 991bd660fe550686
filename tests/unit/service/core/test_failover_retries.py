"""Retries and breakers inside failover: backoff, Retry-After, the deadline, skipping open deployments.

Scripted providers in process and a fake clock: the backoff's sleeps are
recorded (and move the clock the breakers read), never slept.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import grpc
import pytest

from model_gateway.config import parse_config
from model_gateway.core.context import RequestContext
from model_gateway.core.failover import Attempt, Resilience
from model_gateway.core.pipeline import Pipeline
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.base import NO_SETTINGS
from model_gateway.routing.breaker import CircuitState
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import (
    HANG,
    OK,
    Logged,
    ScriptedProvider,
    Step,
    bad_request,
    rate_limited,
    unavailable,
)
from tests.unit.service.routing.support import Events, FakeClock, ollama_busy, timed_out

CONFIG = parse_config(
    """
providers: {a: {kind: openai}, b: {kind: openai}, local: {kind: ollama}}
routing:
  retries: 3
  backoff: {initial_s: 0.5, max_s: 4}
  breaker: {failures: 3, cooldown_s: 30, window_s: 60}
models:
  - name: solo
    deployments: [{provider: a, model: m}]
  - name: pair
    deployments: [{provider: a, model: m}, {provider: b, model: n}]
  - name: once
    routing: {retries: 0}
    deployments: [{provider: a, model: m-once}]
  - name: ollamas
    routing: {retries: 0}
    deployments: [{provider: local, model: l1}, {provider: b, model: l2}]
"""
)


class ScriptedOllama(ScriptedProvider):
    @property
    def kind(self) -> str:
        return "ollama"


class Gateway:
    def __init__(self, script: dict[str, list[Step]]) -> None:
        self.clock = FakeClock()
        self.events = Events()
        self.journal: list[str] = []
        self.providers = {
            name: (ScriptedOllama if name == "local" else ScriptedProvider)(
                name, {m: list(s) for m, s in script.items()}, journal=self.journal
            )
            for name in ("a", "b", "local")
        }
        resilience = Resilience(self.clock, self.clock.sleep, random.Random(7), self.events)
        self.pipeline = Pipeline(CONFIG, dict(self.providers), resilience=resilience)

    async def generate(self, model: str, seconds: float = 30) -> pb.GenerateResponse:
        return await self.pipeline.generate(request(model), ctx(seconds))

    async def fails(self, model: str, seconds: float = 30) -> GatewayError:
        with pytest.raises(GatewayError) as raised:
            await self.generate(model, seconds)
        return raised.value

    def breaker(self, label: str) -> CircuitState:
        breaker = self.pipeline.registry.breakers.find(label)
        assert breaker is not None
        return breaker.view().state


def request(model: str) -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model=model, messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hi")])]
    )


def ctx(seconds: float = 30) -> RequestContext:
    return RequestContext.from_metadata((), Deadline(seconds))


# --- retries -------------------------------------------------------------------------------------


async def test_retries_back_off_exponentially_with_full_jitter() -> None:
    # Two failures then a rate limit (which is no breaker failure): three retries, the fourth try answers.
    gateway = Gateway({"m": [unavailable(), unavailable(), rate_limited(None)]})
    reply = await gateway.generate("solo")
    assert reply.route.attempts == 4 and gateway.journal == ["m"] * 4
    ceilings = [0.5, 1.0, 2.0]  # initial_s * 2^(n-1), capped at max_s
    assert len(gateway.clock.sleeps) == 3
    assert all(0 <= slept <= cap for slept, cap in zip(gateway.clock.sleeps, ceilings, strict=True))
    assert gateway.events.retries == [("a/m", Reason.UPSTREAM_UNAVAILABLE)] * 2 + [
        ("a/m", Reason.RATE_LIMITED)
    ]


async def test_retry_after_is_a_floor_of_the_wait() -> None:
    gateway = Gateway({"m": [rate_limited(2)]})
    reply = await gateway.generate("solo")
    assert reply.route.attempts == 2 and gateway.clock.sleeps == [2.0]


async def test_a_retry_never_sleeps_past_the_deadline() -> None:
    gateway = Gateway({"m": [rate_limited(2)]})
    error = await gateway.fails("solo", seconds=1.5)
    assert (error.code, error.reason, error.retry_after) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "RATE_LIMITED",
        2,
    )
    assert gateway.clock.sleeps == [] and gateway.journal == ["m"]


async def test_a_retry_after_beyond_max_s_is_not_waited_for() -> None:
    gateway = Gateway({"m": [rate_limited(5)]})
    error = await gateway.fails("solo")
    assert error.retry_after == 5 and gateway.clock.sleeps == [] and gateway.journal == ["m"]


async def test_siblings_are_tried_before_anyone_waits() -> None:
    gateway = Gateway({"m": [rate_limited(3)], "n": [unavailable()]})
    reply = await gateway.generate("pair")
    assert gateway.journal == ["m", "n", "m"] and reply.route.upstream_model == "m"
    assert gateway.clock.sleeps == [3.0]  # the wait came after both were tried


@pytest.mark.parametrize(
    ("step", "retried"),
    [
        (unavailable(), True),
        (rate_limited(None), True),
        (timed_out(), True),
        (GatewayError(grpc.StatusCode.INTERNAL, Reason.UPSTREAM_ERROR, "garbled"), True),
        (GatewayError(grpc.StatusCode.UNAUTHENTICATED, Reason.UPSTREAM_AUTH_FAILED, "401"), False),
        (GatewayError(grpc.StatusCode.NOT_FOUND, Reason.UPSTREAM_MODEL_NOT_FOUND, "404"), False),
        (bad_request(), False),
    ],
    ids=["5xx", "429", "timeout", "internal", "401", "404", "400"],
)
async def test_only_failures_that_may_pass_are_retried(step: GatewayError, retried: bool) -> None:
    gateway = Gateway({"m": [step]})
    if retried:
        assert (await gateway.generate("solo")).route.attempts == 2
    else:
        assert (await gateway.fails("solo")).reason == step.reason
    assert len(gateway.journal) == (2 if retried else 1)


async def test_retries_zero_for_one_model() -> None:
    gateway = Gateway({"m-once": [unavailable()]})
    await gateway.fails("once")
    assert gateway.journal == ["m-once"]


async def test_a_stream_is_retried_before_its_first_chunk() -> None:
    gateway = Gateway({"m": [unavailable()]})
    attempt, chunks = await gateway.pipeline.stream(request("solo"), ctx())
    received = [chunk async for chunk in chunks]
    assert isinstance(attempt, Attempt) and attempt.number == 2 and received[-1].final.route.attempts == 2
    assert gateway.journal == ["m", "m"]


async def test_a_caller_deadline_that_ran_out_is_not_retried() -> None:
    gateway = Gateway({"m": [HANG]})
    error = await gateway.fails("solo", seconds=0.2)
    assert error.code == grpc.StatusCode.DEADLINE_EXCEEDED and gateway.journal == ["m"]
    assert gateway.breaker("a/m") is CircuitState.CLOSED  # the caller's deadline, not the upstream's fault


# --- breakers ------------------------------------------------------------------------------------


async def test_an_open_deployment_is_skipped_at_once() -> None:
    gateway = Gateway({"m": [unavailable()] * 3})
    await gateway.generate("pair")  # m fails: n answers
    await gateway.generate("pair")
    await gateway.generate("pair")  # the third consecutive failure opens m
    assert gateway.breaker("a/m") is CircuitState.OPEN
    gateway.journal.clear()
    reply = await gateway.generate("pair")
    assert gateway.journal == ["n"] and reply.route.attempts == 1  # m cost nothing
    assert gateway.events.skips == ["a/m"]


async def test_every_route_open_fails_at_once_saying_why_and_when() -> None:
    gateway = Gateway({"m": [unavailable("HTTP 500 from a")] * 4})
    await gateway.fails("solo")  # 4 tries: the breaker opens at the third, so no fourth
    assert gateway.journal == ["m"] * 3 and gateway.breaker("a/m") is CircuitState.OPEN
    gateway.journal.clear()
    error = await gateway.fails("solo")
    assert gateway.journal == []
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE)
    assert "circuit open (retry in 30 s)" in error.message and "HTTP 500 from a" in error.message
    assert error.retry_after == pytest.approx(30, abs=0.5)


async def test_after_the_cooldown_one_probe_closes_it() -> None:
    gateway = Gateway({"m": [unavailable()] * 3})
    await gateway.fails("solo")
    gateway.clock.advance(30)
    reply = await gateway.generate("solo")  # the probe: the script is spent, so it answers
    assert reply.route.attempts == 1 and gateway.breaker("a/m") is CircuitState.CLOSED


async def test_a_failed_probe_reopens_for_longer() -> None:
    gateway = Gateway({"m": [unavailable()] * 4})
    await gateway.fails("solo")
    gateway.clock.advance(30)
    await gateway.fails("solo")  # the probe fails: not retried, the breaker is open again
    breaker = gateway.pipeline.registry.breakers.find("a/m")
    assert breaker is not None and breaker.view().retry_in_s == pytest.approx(60)
    assert gateway.journal == ["m"] * 4


async def test_rate_limits_do_not_open_a_breaker() -> None:
    gateway = Gateway({"m": [rate_limited(None)] * 8})
    for _ in range(2):
        await gateway.fails("solo")
    assert gateway.breaker("a/m") is CircuitState.CLOSED


async def test_ollama_busy_is_back_pressure_not_a_failure() -> None:
    gateway = Gateway({"l1": [ollama_busy()] * 5})
    for _ in range(5):
        reply = await gateway.generate("ollamas")
        assert reply.route.upstream_model == "l2"
    assert gateway.breaker("local/l1") is CircuitState.CLOSED
    assert gateway.journal == ["l1", "l2"] * 5


async def test_a_stream_cut_after_its_first_chunk_counts_against_the_breaker() -> None:
    gateway = Gateway({"m": ["cut", "cut", "cut"]})
    for _ in range(3):
        _, chunks = await gateway.pipeline.stream(request("solo"), ctx())
        with pytest.raises(GatewayError):
            async for _chunk in chunks:
                pass
    assert gateway.breaker("a/m") is CircuitState.OPEN


async def test_health_and_models_show_each_circuit() -> None:
    gateway = Gateway({"m": [unavailable("boom")] * 3})
    await gateway.fails("solo")
    health = await gateway.pipeline.health(detailed=True)
    assert health.status == pb.HealthResponse.STATUS_DEGRADED
    circuits = {d.deployment: d for d in health.deployments}
    assert circuits["a/m"].circuit == pb.CIRCUIT_STATE_OPEN and circuits["a/m"].last_error == "boom"
    assert circuits["a/m"].retry_in_s == pytest.approx(30)
    assert circuits["b/n"].circuit == pb.CIRCUIT_STATE_CLOSED
    model = gateway.pipeline.registry.describe(gateway.pipeline.registry.resolve("pair"))
    assert [(d.model, d.circuit) for d in model.deployments] == [
        ("m", pb.CIRCUIT_STATE_OPEN),
        ("n", pb.CIRCUIT_STATE_CLOSED),
    ]


def test_ok_is_the_scripted_answer() -> None:
    assert OK == "ok"


class RoleThenFail(ScriptedProvider):
    """An upstream whose stream opens with a bare role chunk (an empty delta), then fails."""

    async def stream(
        self, request: pb.GenerateRequest, model: str, timeout: float, settings: object = None
    ) -> AsyncIterator[pb.StreamChunk]:
        self.calls.append(Logged(model, timeout, NO_SETTINGS))
        yield pb.StreamChunk(delta=pb.Delta())
        raise unavailable("dropped after the role chunk")


async def test_a_stream_that_failed_after_only_empty_deltas_still_fails_over() -> None:
    providers = {"a": RoleThenFail("a"), "b": ScriptedProvider("b"), "local": ScriptedProvider("local")}
    pipeline = Pipeline(CONFIG, dict(providers), resilience=Resilience(FakeClock(), FakeClock().sleep))
    attempt, chunks = await pipeline.stream(request("pair"), ctx())
    received = [chunk async for chunk in chunks]
    assert isinstance(attempt, Attempt) and attempt.route.label == "b/n" and attempt.number == 2
    assert received[0].delta.text == "from n"  # the empty delta was never passed on
