"""Failover rules, table-driven, with scripted providers in process (no sockets).

The default routing applies (retries: 1, backoff up to 8 s, breakers on), with
a fake clock: backoff sleeps are recorded, never slept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
import pytest

from model_gateway.config import parse_config
from model_gateway.core.context import RequestContext
from model_gateway.core.failover import Attempt, Resilience
from model_gateway.core.pipeline import Pipeline
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import (
    CUT,
    HANG,
    SLOW_FAIL,
    ScriptedProvider,
    Step,
    bad_request,
    rate_limited,
    unavailable,
)
from tests.unit.service.routing.support import FakeClock, not_found

CONFIG = parse_config(
    """
providers: {a: {kind: openai}, b: {kind: openai}, c: {kind: openai}}
models:
  - name: chat
    deployments: [{provider: a, model: m-a}, {provider: b, model: m-b}]
    fallbacks: [backup]
  - name: backup
    deployments: [{provider: c, model: m-c}]
  - name: solo
    deployments: [{provider: a, model: m-solo}]
"""
)


@dataclass
class Case:
    name: str
    model: str
    script: dict[str, list[Step]]
    served: str | None = None  # upstream model that answered
    attempts: int = 0
    fallback: bool = False
    code: grpc.StatusCode | None = None
    reason: str = ""
    retry_after: float | None = None
    called: list[str] = field(default_factory=list)  # upstream models called, in order


U = unavailable()

CASES = [
    Case("first route answers", "chat", {}, served="m-a", attempts=1, called=["m-a"]),
    Case(
        "unavailable moves to the next deployment at once",
        "chat",
        {"m-a": [U]},
        served="m-b",
        attempts=2,
        called=["m-a", "m-b"],
    ),
    Case(
        "a model whose deployments all failed retries them before its fallbacks",
        "chat",
        {"m-a": [U], "m-b": [rate_limited(1)]},
        served="m-a",
        attempts=3,
        called=["m-a", "m-b", "m-a"],
    ),
    Case(
        "deployments exhausted, retries included, move to the fallback model",
        "chat",
        {"m-a": [U, U], "m-b": [rate_limited(1), rate_limited(1)]},
        served="m-c",
        attempts=5,
        fallback=True,
        called=["m-a", "m-b", "m-a", "m-b", "m-c"],
    ),
    Case(
        "a bad request is neither retried nor tried elsewhere",
        "chat",
        {"m-a": [bad_request("max_tokens too large")]},
        code=grpc.StatusCode.INVALID_ARGUMENT,
        reason=Reason.UPSTREAM_BAD_REQUEST,
        called=["m-a"],
    ),
    Case(
        "a missing upstream model fails over but is not retried",
        "chat",
        {"m-a": [not_found()], "m-b": [U]},
        served="m-b",
        attempts=3,
        called=["m-a", "m-b", "m-b"],
    ),
    Case(
        "every route down is ALL_ROUTES_FAILED",
        "chat",
        {"m-a": [U, U], "m-b": [U, U], "m-c": [U, U]},
        code=grpc.StatusCode.UNAVAILABLE,
        reason=Reason.ALL_ROUTES_FAILED,
        called=["m-a", "m-b", "m-a", "m-b", "m-c", "m-c"],
    ),
    Case(
        "every route rate limited waits for the smallest Retry-After",
        "chat",
        {
            "m-a": [rate_limited(7), rate_limited(7)],
            "m-b": [rate_limited(3), rate_limited(3)],
            "m-c": [rate_limited(None), rate_limited(None)],
        },
        code=grpc.StatusCode.RESOURCE_EXHAUSTED,
        reason=Reason.RATE_LIMITED,
        retry_after=3,
        called=["m-a", "m-b", "m-a", "m-b", "m-c", "m-c"],
    ),
    Case(
        "a single route's failure is reported as itself, retries included",
        "solo",
        {"m-solo": [U, unavailable("still down")]},
        code=grpc.StatusCode.UNAVAILABLE,
        reason=Reason.UPSTREAM_UNAVAILABLE,
        called=["m-solo", "m-solo"],
    ),
    Case(
        "a Retry-After beyond backoff.max_s is handed to the client, not waited for",
        "solo",
        {"m-solo": [rate_limited(9)]},
        code=grpc.StatusCode.RESOURCE_EXHAUSTED,
        reason=Reason.RATE_LIMITED,
        retry_after=9,
        called=["m-solo"],
    ),
]


JOURNAL: list[str] = []


def pipeline() -> tuple[Pipeline, dict[str, ScriptedProvider]]:
    JOURNAL.clear()
    providers = {name: ScriptedProvider(name, journal=JOURNAL) for name in ("a", "b", "c")}
    clock = FakeClock()
    resilience = Resilience(clock=clock, sleep=clock.sleep)
    return Pipeline(CONFIG, dict(providers), resilience=resilience), providers


def scripted(providers: dict[str, ScriptedProvider], script: dict[str, list[Step]]) -> None:
    for provider in providers.values():
        provider.script = {model: list(steps) for model, steps in script.items()}


def called(providers: dict[str, ScriptedProvider]) -> list[str]:
    return list(JOURNAL)


def request(model: str) -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model=model, messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hi")])]
    )


def ctx(seconds: float = 30) -> RequestContext:
    return RequestContext.from_metadata((), Deadline(seconds))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_unary_failover(case: Case) -> None:
    gateway, providers = pipeline()
    scripted(providers, case.script)
    if case.code is None:
        response = await gateway.generate(request(case.model), ctx())
        assert response.route.upstream_model == case.served
        assert response.route.attempts == case.attempts
        assert response.route.fallback_used == case.fallback
        assert response.route.requested_model == case.model
        assert response.route.decision == "ordered"
    else:
        with pytest.raises(GatewayError) as raised:
            await gateway.generate(request(case.model), ctx())
        assert (raised.value.code, raised.value.reason) == (case.code, case.reason)
        assert raised.value.retry_after == case.retry_after
    assert called(providers) == case.called


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_stream_failover_before_the_first_chunk(case: Case) -> None:
    gateway, providers = pipeline()
    scripted(providers, case.script)
    if case.code is None:
        attempt, chunks = await gateway.stream(request(case.model), ctx())
        received = [chunk async for chunk in chunks]
        assert isinstance(attempt, Attempt)
        assert attempt.route.label.endswith(f"/{case.served}") and attempt.number == case.attempts
        assert received[0].delta.text == f"from {case.served}"
        assert received[-1].final.route.attempts == case.attempts
    else:
        with pytest.raises(GatewayError) as raised:
            await gateway.stream(request(case.model), ctx())
        assert (raised.value.code, raised.value.reason) == (case.code, case.reason)
    assert called(providers) == case.called


async def test_a_stream_is_never_switched_after_its_first_chunk() -> None:
    gateway, providers = pipeline()
    scripted(providers, {"m-a": [CUT]})
    _, chunks = await gateway.stream(request("chat"), ctx())
    first = await anext(chunks)
    assert first.delta.text == "from m-a"
    with pytest.raises(GatewayError) as raised:
        await anext(chunks)
    assert raised.value.reason == Reason.STREAM_INTERRUPTED
    assert called(providers) == ["m-a"]  # m-b was never asked
    assert providers["a"].closed_streams == 1


async def test_each_attempt_gets_only_what_is_left_of_the_deadline() -> None:
    gateway, providers = pipeline()
    scripted(providers, {"m-a": [SLOW_FAIL]})
    response = await gateway.generate(request("chat"), ctx(5))
    first, second = providers["a"].calls[0], providers["b"].calls[0]
    assert response.route.upstream_model == "m-b"
    assert first.timeout <= 5 and second.timeout <= first.timeout - 0.1


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
async def test_failover_stops_at_the_deadline(stream: bool) -> None:
    gateway, providers = pipeline()
    scripted(providers, {"m-a": [HANG]})
    with pytest.raises(GatewayError) as raised:
        if stream:
            await gateway.stream(request("chat"), ctx(0.3))
        else:
            await gateway.generate(request("chat"), ctx(0.3))
    assert raised.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "timed out" in raised.value.message  # the last failure is named
    assert called(providers) == ["m-a"]  # no time was left for m-b
    assert providers["a"].calls[0].timeout <= 0.3
