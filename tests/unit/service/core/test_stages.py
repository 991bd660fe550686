"""The stage list: order, hooks run once per call whatever happens, refusal and answers by a stage."""

from __future__ import annotations

import grpc
import pytest

from model_gateway.config import parse_config
from model_gateway.core.call import Call
from model_gateway.core.context import RequestContext
from model_gateway.core.pipeline import Pipeline
from model_gateway.core.stages import ORDER, PassStage, Record, StageList
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from model_gateway.obs.access_log import outcome
from model_gateway.policy import policy_stages
from model_gateway.policy.auth import Authenticate
from model_gateway.policy.cache import NoCache
from model_gateway.policy.limits import Limit
from model_gateway.policy.price import Price
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import CUT, ScriptedProvider

CONFIG = parse_config(
    """
providers: {a: {kind: openai}}
models:
  - name: priced
    deployments: [{provider: a, model: m}]
    pricing: {input_per_mtok: 1000000, output_per_mtok: 2000000}
"""
)


class Sink:
    def __init__(self) -> None:
        self.calls: list[Call] = []

    def record(self, call: Call) -> None:
        self.calls.append(call)


class Refuse(PassStage):
    name = "authenticate"

    async def enter(self, call: Call) -> None:
        raise GatewayError(grpc.StatusCode.UNAUTHENTICATED, Reason.UNAUTHENTICATED, "no key")


class Answer(PassStage):
    name = "cache"

    async def enter(self, call: Call) -> None:
        call.answer = pb.GenerateResponse(id="cached", usage=pb.Usage(input_tokens=1))


def build(*stages: PassStage) -> tuple[Pipeline, ScriptedProvider, Sink]:
    sink = Sink()
    provider = ScriptedProvider("a")
    return Pipeline(CONFIG, {"a": provider}, [*stages, Price(), Record([sink])]), provider, sink


def request(model: str = "priced") -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model=model, messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="x")])]
    )


def ctx() -> RequestContext:
    return RequestContext.from_metadata(
        (("x-request-id", "r-1"), ("x-gateway-surface", "openai")), Deadline(5)
    )


def test_the_shipped_stage_list_is_the_documented_order() -> None:
    assert StageList(policy_stages(CONFIG)).names == ORDER


def test_stages_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="order"):
        StageList([Price(), Authenticate()])


def test_no_op_stages_cost_no_hook_calls() -> None:
    # A disabled cache is a named no-op; the limit stage (no limits here) is a few attribute reads.
    stages = StageList([Limit(CONFIG), NoCache(), Price(), Record([])])
    assert [s.name for s in stages._entering] == ["limit"]
    assert [s.name for s in stages._leaving] == ["limit", "price", "record"]


async def test_a_unary_call_is_priced_and_recorded_once() -> None:
    gateway, _, sink = build()
    response = await gateway.generate(request(), ctx())
    # 3 input tokens at $1/token, 5 output at $2/token (scripted usage)
    assert (response.cost.input_usd, response.cost.output_usd, response.cost.total_usd) == (3, 10, 13)
    [call] = sink.calls
    assert outcome(call) == ("OK", "ok") and call.cost == response.cost
    assert (call.ctx.request_id, call.ctx.surface, call.model_label) == ("r-1", "openai", "priced")


async def test_a_stream_is_priced_like_the_same_call_unstreamed_and_recorded_once() -> None:
    gateway, _, sink = build()
    unary = await gateway.generate(request(), ctx())
    _, chunks = await gateway.stream(request(), ctx())
    final = [chunk async for chunk in chunks][-1].final
    assert final.cost == unary.cost and final.usage == unary.usage
    assert len(sink.calls) == 2 and sink.calls[1].first_chunk_s is not None


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ("unknown model", ("NOT_FOUND", Reason.MODEL_NOT_FOUND)),
        ("cut stream", ("UNAVAILABLE", Reason.STREAM_INTERRUPTED)),
        ("client left", ("CANCELLED", "CANCELLED")),
    ],
)
async def test_failed_and_abandoned_calls_are_recorded_once(how: str, status: tuple[str, str]) -> None:
    gateway, provider, sink = build()
    if how == "unknown model":
        with pytest.raises(GatewayError):
            await gateway.generate(request("nope"), ctx())
    else:
        provider.script = {"m": [CUT]} if how == "cut stream" else {}
        _, chunks = await gateway.stream(request(), ctx())
        await anext(chunks)
        if how == "cut stream":
            with pytest.raises(GatewayError):
                await anext(chunks)
        else:
            await chunks.aclose()  # type: ignore[attr-defined]
    [call] = sink.calls
    assert outcome(call) == status
    assert call.cost is None  # nothing answered, nothing priced


async def test_a_stream_closed_before_its_first_chunk_still_ends_the_call_once() -> None:
    gateway, provider, sink = build()
    _, chunks = await gateway.stream(request(), ctx())
    await chunks.aclose()  # the client left before the headers went out
    await chunks.aclose()  # closing twice is harmless
    [call] = sink.calls
    assert outcome(call) == ("CANCELLED", "CANCELLED")
    assert provider.closed_streams == 1  # the upstream request was closed too


async def test_a_stage_that_refuses_stops_the_call_before_any_upstream() -> None:
    gateway, provider, sink = build(Refuse())
    with pytest.raises(GatewayError) as raised:
        await gateway.generate(request(), ctx())
    assert raised.value.reason == Reason.UNAUTHENTICATED
    assert provider.calls == [] and outcome(sink.calls[0]) == ("UNAUTHENTICATED", "UNAUTHENTICATED")


async def test_a_stage_that_answers_skips_the_upstream() -> None:
    gateway, provider, sink = build(Answer())
    response = await gateway.generate(request(), ctx())
    assert response.id == "cached" and provider.calls == []
    assert len(sink.calls) == 1


async def test_a_broken_sink_does_not_fail_the_call() -> None:
    class Broken:
        def record(self, call: Call) -> None:
            raise RuntimeError("disk full")

    sink = Sink()
    gateway = Pipeline(CONFIG, {"a": ScriptedProvider("a")}, [Record([Broken(), sink])])
    response = await gateway.generate(request(), ctx())
    assert response.usage.output_tokens == 5 and len(sink.calls) == 1
