"""Cascades through the pipeline: the cheapest tier whose answer passes the checks, every tier paid for."""

from __future__ import annotations

import pytest

from model_gateway.config import parse_config
from model_gateway.core.context import RequestContext
from model_gateway.core.failover import Attempt, Resilience
from model_gateway.core.pipeline import Pipeline
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError
from model_gateway.policy.price import Price
from model_gateway.routing.cascade import rejection
from model_gateway.routing_settings import CascadeSettings
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import ScriptedProvider, Step, unavailable
from tests.unit.service.routing.support import FakeClock

CONFIG = parse_config(
    """
providers: {a: {kind: openai}, b: {kind: openai}}
routing: {retries: 0}
models:
  - name: tiny
    deployments: [{provider: a, model: tiny-m}]
    pricing: {input_per_mtok: 1, output_per_mtok: 2}
  - name: big
    deployments: [{provider: b, model: big-m}, {provider: a, model: big-m2}]
    pricing: {input_per_mtok: 10, output_per_mtok: 20}
  - name: frugal
    kind: cascade
    cascade: {models: [tiny, big], min_chars: 12}
  - name: lenient
    kind: cascade
    cascade: {models: [tiny, big], min_chars: 1, stream_from: tiny}
  - name: polite
    kind: cascade
    cascade: {models: [tiny, big], refusals: ["from tiny"]}
"""
)
TINY_USD = (3 * 1 + 5 * 2) / 1e6  # the scripted usage: 3 in, 5 out
BIG_USD = (3 * 10 + 5 * 20) / 1e6


def gateway(script: dict[str, list[Step]] | None = None) -> tuple[Pipeline, list[str]]:
    journal: list[str] = []
    providers = {n: ScriptedProvider(n, dict(script or {}), journal=journal) for n in ("a", "b")}
    clock = FakeClock()
    pipeline = Pipeline(CONFIG, dict(providers), [Price()], resilience=Resilience(clock, clock.sleep))
    return pipeline, journal


def request(model: str, **fields: object) -> pb.GenerateRequest:
    message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hi")])
    return pb.GenerateRequest(model=model, messages=[message], **fields)  # type: ignore[arg-type]


def ctx() -> RequestContext:
    return RequestContext.from_metadata((), Deadline(30))


async def test_the_cheap_tier_answers_when_its_answer_passes() -> None:
    pipeline, journal = gateway()
    reply = await pipeline.generate(request("lenient"), ctx())
    assert journal == ["tiny-m"] and reply.route.decision == "cascade:tiny"
    assert reply.route.served_model == "tiny" and reply.route.attempts == 1
    assert reply.cost.total_usd == pytest.approx(TINY_USD)


async def test_a_rejected_answer_escalates_and_every_tier_is_paid_for() -> None:
    pipeline, journal = gateway()
    reply = await pipeline.generate(request("frugal"), ctx())  # "from tiny-m" is under 12 characters
    assert journal == ["tiny-m", "big-m"]
    assert (reply.route.served_model, reply.route.decision, reply.route.attempts) == ("big", "cascade:big", 2)
    assert reply.message.content[0].text == "from big-m"
    assert reply.cost.total_usd == pytest.approx(TINY_USD + BIG_USD)


async def test_refusals_escalate() -> None:
    pipeline, journal = gateway()
    reply = await pipeline.generate(request("polite"), ctx())
    assert journal == ["tiny-m", "big-m"] and reply.route.decision == "cascade:big"


async def test_a_failing_tier_hands_over_to_the_next_with_failover_inside_each() -> None:
    pipeline, journal = gateway({"tiny-m": [unavailable()], "big-m": [unavailable()]})
    reply = await pipeline.generate(request("lenient"), ctx())
    assert journal == ["tiny-m", "big-m", "big-m2"]
    assert reply.route.decision == "cascade:big" and reply.route.attempts == 3


async def test_when_every_later_tier_fails_the_rejected_answer_is_better_than_an_error() -> None:
    pipeline, journal = gateway({"big-m": [unavailable()], "big-m2": [unavailable()]})
    reply = await pipeline.generate(request("frugal"), ctx())
    assert journal == ["tiny-m", "big-m", "big-m2"]
    assert reply.route.decision == "cascade:tiny" and reply.message.content[0].text == "from tiny-m"


async def test_every_tier_failing_is_an_error() -> None:
    pipeline, _ = gateway({m: [unavailable()] for m in ("tiny-m", "big-m", "big-m2")})
    with pytest.raises(GatewayError):
        await pipeline.generate(request("frugal"), ctx())


async def test_a_stream_is_answered_by_stream_from() -> None:
    pipeline, journal = gateway()
    attempt, chunks = await pipeline.stream(request("lenient"), ctx())
    received = [chunk async for chunk in chunks]
    assert isinstance(attempt, Attempt) and journal == ["tiny-m"]
    assert received[-1].final.route.decision == "cascade:tiny"
    pipeline, journal = gateway()
    _, chunks = await pipeline.stream(request("frugal"), ctx())  # no stream_from: the last tier
    assert [c async for c in chunks][-1].final.route.served_model == "big" and journal == ["big-m"]


@pytest.mark.parametrize(
    ("answer", "asked_json", "why"),
    [
        (pb.GenerateResponse(finish_reason=pb.FINISH_REASON_LENGTH), False, "unfinished"),
        (pb.GenerateResponse(finish_reason=pb.FINISH_REASON_STOP), False, "too_short"),
        (
            pb.GenerateResponse(
                finish_reason=pb.FINISH_REASON_TOOL_CALLS,
                message=pb.Message(tool_calls=[pb.ToolCall(name="f", arguments="{}")]),
            ),
            True,
            "",
        ),
        (
            pb.GenerateResponse(
                finish_reason=pb.FINISH_REASON_STOP,
                message=pb.Message(content=[pb.ContentPart(text="{oops")]),
            ),
            True,
            "invalid_json",
        ),
        (
            pb.GenerateResponse(
                finish_reason=pb.FINISH_REASON_STOP,
                message=pb.Message(content=[pb.ContentPart(text='{"a": 1}')]),
            ),
            True,
            "",
        ),
        (
            pb.GenerateResponse(
                finish_reason=pb.FINISH_REASON_STOP,
                message=pb.Message(content=[pb.ContentPart(text="I'm sorry, but I can't do that.")]),
            ),
            False,
            "refusal",
        ),
    ],
    ids=["cut by length", "empty", "a tool call", "broken JSON", "JSON", "a refusal"],
)
def test_checks(answer: pb.GenerateResponse, asked_json: bool, why: str) -> None:
    request = pb.GenerateRequest(model="x")
    if asked_json:
        request.response_format.type = pb.ResponseFormat.TYPE_JSON_OBJECT
    assert rejection(CascadeSettings(models=["a", "b"]), request, answer) == why
