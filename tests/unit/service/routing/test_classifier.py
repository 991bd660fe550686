"""The auto classifier: when no rule matched, a small model names a route; garbage, errors and a
timeout fall back to the default."""

from __future__ import annotations

import random
import time

import grpc
import pytest

from model_gateway.config import ConfigError, parse_config
from model_gateway.errors import GatewayError, Reason
from model_gateway.routing.registry import Registry
from model_gateway.routing.router import Router
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.service.routing.answering import HANG, AnsweringProvider, user

MODELS = """
providers: {local: {kind: ollama}, cloud: {kind: openai}}
models:
  - name: tiny
    deployments: [{provider: local, model: tiny}]
  - name: coder
    deployments: [{provider: local, model: coder}]
  - name: big
    deployments: [{provider: cloud, model: big}]
  - name: small
    deployments: [{provider: local, model: qwen-0.5b}]
"""
RULES = """
routing:
  auto:
    rules:
      - {when: {keywords: [urgent]}, model: big, name: urgent}
    classifier: {model: small, timeout_s: 0.3, routes: [coder, big]}
    default: tiny
"""


def router(provider: AnsweringProvider) -> Router:
    return Router(
        Registry(parse_config(MODELS + RULES)),
        random.Random(1),
        providers={"local": provider, "cloud": provider},
    )


@pytest.mark.parametrize(
    ("answer", "model", "decision"),
    [
        ("coder", "coder", "auto:classifier:coder"),
        ("Route: BIG.", "big", "auto:classifier:big"),
        ("I would say coder, not big", "coder", "auto:classifier:coder"),
        ("bigger-picture coder", "coder", "auto:classifier:coder"),  # whole names only
        ("banana", "tiny", "auto:default"),
        ("", "tiny", "auto:default"),
        (HANG, "tiny", "auto:default"),
        (
            GatewayError(grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE, "down"),
            "tiny",
            "auto:default",
        ),
        (
            GatewayError(grpc.StatusCode.INVALID_ARGUMENT, Reason.UPSTREAM_BAD_REQUEST, "no"),
            "tiny",
            "auto:default",
        ),
    ],
)
async def test_the_classifier_names_a_route_or_the_default_stands(
    answer: str | GatewayError, model: str, decision: str
) -> None:
    provider = AnsweringProvider("p", answers=[answer])
    started = time.monotonic()
    plan = await router(provider).aplan("auto", user("help me with this thing"))
    assert (plan.model.name, plan.decision) == (model, decision)
    assert time.monotonic() - started < 1.0  # a hang costs the timeout (0.3 s), no more


async def test_the_classifier_is_asked_a_short_question_about_the_last_user_text() -> None:
    provider = AnsweringProvider("p", answers=["big"])
    request = user("first question")
    request.messages.add(role=pb.ROLE_ASSISTANT).content.add(text="an answer")
    request.messages.add(role=pb.ROLE_USER).content.add(text="now the real one")
    await router(provider).aplan("auto", request)
    (asked,) = provider.asked
    assert asked.model == "small" and asked.sampling.max_tokens <= 16 and asked.sampling.temperature == 0
    system, question = asked.messages
    assert system.role == pb.ROLE_SYSTEM and "coder, big" in system.content[0].text
    assert (question.role, question.content[0].text) == (pb.ROLE_USER, "now the real one")


async def test_a_matching_rule_asks_no_classifier() -> None:
    provider = AnsweringProvider("p", answers=["coder"])
    plan = await router(provider).aplan("auto", user("urgent: help"))
    assert (plan.decision, provider.asked) == ("auto:urgent", [])


async def test_the_synchronous_plan_asks_no_classifier() -> None:
    provider = AnsweringProvider("p", answers=["coder"])
    assert router(provider).plan("auto", user("help")).decision == "auto:default"
    assert provider.asked == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "routing: {auto: {classifier: {model: nope, routes: [big]}, default: tiny}}",
            "routing.auto.classifier.model: 'nope' is not a configured model",
        ),
        (
            "routing: {auto: {classifier: {model: small, routes: [big, huge]}, default: tiny}}",
            "routing.auto.classifier.routes[1]: 'huge' is not a configured model",
        ),
        (
            "routing: {auto: {classifier: {model: small, routes: []}, default: tiny}}",
            "routing.auto.classifier.routes: List should have at least 1 item",
        ),
        (
            "routing: {auto: {classifier: {model: small, routes: [big]}}}",
            "routing.auto.default: required with a classifier",
        ),
        (
            "routing: {auto: {classifier: {model: small, routes: [big], timeout_s: 0}, default: tiny}}",
            "routing.auto.classifier.timeout_s: Input should be greater than 0",
        ),
    ],
)
def test_classifier_config_errors_name_the_key(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(MODELS + extra + "\n", "cfg.yaml")
    assert str(caught.value).startswith(f"cfg.yaml: {message}"), str(caught.value)
    assert "\n" not in str(caught.value)
