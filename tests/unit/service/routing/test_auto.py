"""`model: "auto"` decisions for a table of requests, smart routing, A/B splits, and what is refused."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import grpc
import pytest

from model_gateway.config import parse_config
from model_gateway.errors import GatewayError
from model_gateway.routing.auto import looks_like_code
from model_gateway.routing.registry import Registry
from model_gateway.routing.router import Router
from modelgateway.v1 import gateway_pb2 as pb

MODELS = """
providers: {local: {kind: ollama}, cloud: {kind: openai}}
models:
  - name: llama3.2
    aliases: [default, tiny]
    deployments: [{provider: local, model: "llama3.2"}]
    context_window: 2000
  - name: qwen-coder
    aliases: [coding]
    deployments: [{provider: local, model: "qwen2.5-coder"}]
  - name: big
    aliases: [large]
    deployments: [{provider: cloud, model: big}]
  - name: frontier
    deployments: [{provider: cloud, model: frontier}]
  - name: vision
    deployments: [{provider: cloud, model: eyes}]
  - name: chat-ab
    split: [{model: llama3.2, percent: 70}, {model: big, percent: 30}]
  - name: pinned
    deployments: [{provider: local, model: p1}, {provider: cloud, model: p2}]
    split: [{deployment: local/p1, percent: 50}, {deployment: cloud/p2, percent: 50}]
"""
AUTO = """
routing:
  auto:
    rules:
      - {when: {header: frontier}, model: frontier}
      - {when: {code: true}, model: coding}
      - {when: {has_images: true}, model: vision}
      - {when: {has_tools: true}, model: large}
      - {when: {context_over: true}, model: large, name: long-context}
      - {when: {keywords: [prove, theorem, "step by step"]}, model: frontier, name: reasoning}
      - {when: {prompt_tokens_under: 200}, model: tiny, name: short}
    default: default
"""


def router(auto: bool = True) -> Router:
    return Router(Registry(parse_config(MODELS + (AUTO if auto else ""))), random.Random(1))


def user(text: str) -> pb.Message:
    return pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])


LONG = "Tell me about the history of the region and its people. " * 40  # ~400 tokens of prose


@dataclass
class Case:
    name: str
    messages: list[pb.Message]
    served: str
    decision: str
    tools: bool = False
    client: dict[str, str] = field(default_factory=dict)
    max_tokens: int | None = None


CASES = [
    Case("a short question", [user("What is the capital of France?")], "llama3.2", "auto:short"),
    Case("prose over the short limit", [user(LONG)], "llama3.2", "auto:default"),
    Case("a fenced block", [user("Why does this fail?\n```\nx = 1/0\n```")], "qwen-coder", "auto:code"),
    Case(
        "a Python stack trace",
        [user('Traceback (most recent call last):\n  File "app.py", line 3, in <module>\nZeroDivisionError')],
        "qwen-coder",
        "auto:code",
    ),
    Case("a file name", [user("Refactor utils/strings.ts for me please")], "qwen-coder", "auto:code"),
    Case(
        "code without a fence",
        [user("def add(a, b):\n    return a + b\nprint(add(1, 2))")],
        "qwen-coder",
        "auto:code",
    ),
    Case("tools", [user("What's the weather in Paris?")], "big", "auto:has_tools", tools=True),
    Case(
        "an image",
        [pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(image=pb.ImagePart(url="https://x/y.png"))])],
        "vision",
        "auto:has_images",
    ),
    Case("would not fit the default model", [user(LONG * 5)], "big", "auto:long-context"),
    Case("asks for more than fits", [user(LONG)], "big", "auto:long-context", max_tokens=1800),
    Case("reasoning words", [user(LONG + " Prove it, step by step.")], "frontier", "auto:reasoning"),
    Case(
        "the header rule first",
        [user("def f(): pass")],
        "frontier",
        "auto:header",
        client={"x-gateway-route": "frontier"},
    ),
    Case(
        "an unknown header value is no match",
        [user("hi")],
        "llama3.2",
        "auto:short",
        client={"x-gateway-route": "x"},
    ),
    Case(
        "only the user's words count",
        [
            pb.Message(role=pb.ROLE_SYSTEM, content=[pb.ContentPart(text="```python\nYou write code```")]),
            user("hi"),
        ],
        "llama3.2",
        "auto:short",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_auto_decisions(case: Case) -> None:
    request = pb.GenerateRequest(model="auto", messages=case.messages)
    if case.tools:
        request.tools.add(name="weather")
    if case.max_tokens is not None:
        request.sampling.max_tokens = case.max_tokens
    plan = router().plan("auto", request, case.client)
    assert (plan.model.name, plan.decision) == (case.served, case.decision)
    assert plan.routes and plan.routes[0].model.name == case.served


def test_smart_routing_header_routes_any_model_as_auto() -> None:
    request = pb.GenerateRequest(model="big", messages=[user("```js\nlet x = 1\n```")])
    plan = router().plan("big", request, {"x-gateway-smart-routing": "1"})
    assert (plan.model.name, plan.decision) == ("qwen-coder", "auto:code")
    assert router().plan("big", request, {"x-gateway-smart-routing": "0"}).model.name == "big"


def test_auto_without_rules_is_not_found_saying_how_to_configure_it() -> None:
    request = pb.GenerateRequest(model="auto", messages=[user("hi")])
    for how in ({}, {"x-gateway-smart-routing": "1"}):
        with pytest.raises(GatewayError) as raised:
            router(auto=False).plan("auto" if not how else "big", request, how)
        assert raised.value.code == grpc.StatusCode.NOT_FOUND
        assert "routing.auto" in raised.value.message and "rules" in raised.value.message


def test_auto_is_a_metric_label_only_when_configured() -> None:
    assert router().registry.canonical("auto") == "auto"
    assert router(auto=False).registry.canonical("auto") is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("How do I sort a list in Python?", False),
        ("My class is about imports and exports of grain.", False),
        ("for (int i = 0; i < n; i++) {\n  sum += i;\n}", True),
        ("SELECT name FROM users WHERE id = 1;", True),
        ("panic: runtime error: index out of range\ngoroutine 1 [running]:", True),
        ("const x = () => 42;", True),
    ],
)
def test_code_detection(text: str, code: bool) -> None:
    assert looks_like_code(text) is code


# --- A/B splits ------------------------------------------------------------------------------------


AB = router()


def ab(user_id: str = "", who: str = "") -> tuple[str, str, str]:
    request = pb.GenerateRequest(model="chat-ab", messages=[user("hi")], user=user_id)
    plan = AB.plan("chat-ab", request, {}, who)
    return plan.model.name, plan.decision, plan.arm


def test_a_split_is_sticky_per_user_and_per_key() -> None:
    for name in ("alice", "bob", "carol"):
        assert len({ab(user_id=name) for _ in range(20)}) == 1
        assert len({ab(who=name) for _ in range(20)}) == 1
    served, decision, arm = ab(user_id="alice")
    assert decision == f"split:{arm}" and arm == served


def test_a_split_follows_its_percentages() -> None:
    arms = Counter(ab(user_id=f"user-{i}")[2] for i in range(2000))
    assert abs(arms["llama3.2"] - 1400) < 103  # 5 standard deviations of binomial(2000, 0.7)


def test_a_deployment_split_puts_the_arm_first_and_keeps_the_other_for_failover() -> None:
    seen = set()
    for i in range(50):
        plan = AB.plan("pinned", pb.GenerateRequest(model="pinned", user=f"u{i}"), {})
        assert len(plan.routes) == 2 and plan.routes[0].label == plan.arm
        seen.add(plan.arm)
    assert seen == {"local/p1", "cloud/p2"}
