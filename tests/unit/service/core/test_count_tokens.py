"""CountTokens never calls a model: a provider's own count where it has one, else the estimate."""

from __future__ import annotations

import grpc
import pytest

from model_gateway.config import parse_config
from model_gateway.core.context import RequestContext
from model_gateway.core.pipeline import Pipeline
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError
from model_gateway.tokens import count_request
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import ScriptedProvider, bad_request, unavailable

CONFIG = parse_config(
    """
providers: {counting: {kind: openai}, plain: {kind: openai}}
models:
  - name: counted
    deployments: [{provider: counting, model: c1}, {provider: counting, model: c2}]
  - name: estimated
    deployments: [{provider: plain, model: p}]
"""
)

REQUEST = pb.GenerateRequest(
    system="Be brief.",
    messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="How many tokens is this?")])],
)


def gateway(
    counts: dict[str, int | GatewayError] | None,
) -> tuple[Pipeline, ScriptedProvider, ScriptedProvider]:
    counting, plain = ScriptedProvider("counting", counts=counts), ScriptedProvider("plain")
    return Pipeline(CONFIG, {"counting": counting, "plain": plain}), counting, plain


def request(model: str) -> pb.GenerateRequest:
    out = pb.GenerateRequest()
    out.CopyFrom(REQUEST)
    out.model = model
    return out


def ctx() -> RequestContext:
    return RequestContext.from_metadata((), Deadline(5))


async def test_the_providers_own_count_wins() -> None:
    pipeline, counting, _ = gateway({"c1": 42})
    reply = await pipeline.count_tokens(request("counted"), ctx())
    assert (reply.input_tokens, reply.estimated, reply.route.upstream_model) == (42, False, "c1")
    assert counting.calls == []  # count_tokens is not a completion


async def test_a_failing_count_moves_to_the_next_deployment() -> None:
    pipeline, _, _ = gateway({"c1": unavailable(), "c2": 17})
    reply = await pipeline.count_tokens(request("counted"), ctx())
    assert (reply.input_tokens, reply.route.upstream_model, reply.route.attempts) == (17, "c2", 2)


async def test_without_a_counting_provider_the_estimate_is_marked() -> None:
    pipeline, _, plain = gateway(None)
    reply = await pipeline.count_tokens(request("estimated"), ctx())
    without_system = request("estimated")
    without_system.system = ""
    assert reply.estimated and reply.input_tokens == count_request(request("estimated"))
    assert reply.input_tokens > count_request(without_system)  # the system text is counted
    assert reply.route.decision == "estimate" and plain.calls == []


async def test_a_bad_request_is_reported_not_estimated() -> None:
    pipeline, _, _ = gateway({"c1": bad_request("messages: too many")})
    with pytest.raises(GatewayError) as raised:
        await pipeline.count_tokens(request("counted"), ctx())
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
