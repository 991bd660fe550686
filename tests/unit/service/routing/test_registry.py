"""Model lookup by name and alias, close-match hints, and the order of routes."""

from __future__ import annotations

import grpc
import pytest

from model_gateway.config import parse_config
from model_gateway.errors import GatewayError
from model_gateway.pricing import cost_of
from model_gateway.routing.registry import Registry
from modelgateway.v1 import gateway_pb2 as pb

CONFIG = parse_config(
    """
providers:
  a: {kind: ollama}
  b: {kind: openai}
models:
  - name: llama3.2
    aliases: [tiny]
    deployments:
      - {provider: a, model: "llama3.2"}
      - {provider: b, model: l32, weight: 0}
      - {provider: b, model: l32b}
    fallbacks: [qwen3:4b]
    pricing: {input_per_mtok: 2.0, output_per_mtok: 8.0, cached_input_per_mtok: 0.5}
  - name: qwen3:4b
    deployments: [{provider: a, model: "qwen3:4b"}]
    fallbacks: [last]
  - name: last
    deployments: [{provider: b, model: last-resort}]
"""
)


def test_names_aliases_and_latest_tag_resolve() -> None:
    registry = Registry(CONFIG)
    assert registry.resolve("tiny").name == "llama3.2"
    assert registry.resolve("llama3.2:latest").name == "llama3.2"


def test_unknown_model_lists_close_matches() -> None:
    with pytest.raises(GatewayError) as caught:
        Registry(CONFIG).resolve("llama3.1")
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert caught.value.message == "model 'llama3.1' not found; did you mean 'llama3.2'?"


def test_unknown_model_without_close_match_lists_the_configured_ones() -> None:
    with pytest.raises(
        GatewayError, match=r"model 'zzz' not found \(configured: last, llama3.2, qwen3:4b, tiny\)"
    ):
        Registry(CONFIG).resolve("zzz")


def test_routes_are_deployments_then_chained_fallbacks_skipping_weight_zero() -> None:
    routes = Registry(CONFIG).routes("tiny")
    assert [(r.label, r.fallback) for r in routes] == [
        ("a/llama3.2", False),
        ("b/l32b", False),
        ("a/qwen3:4b", True),
        ("b/last-resort", True),  # the fallback's own fallback comes after it
    ]
    assert [r.label for r in Registry(CONFIG).routes("qwen3:4b")] == ["a/qwen3:4b", "b/last-resort"]


def test_routes_share_one_breaker_per_deployment_and_are_built_once() -> None:
    registry = Registry(CONFIG)
    first, second = registry.routes("tiny"), registry.routes("llama3.2")
    assert first == second and first is not second  # a fresh list of the same routes
    assert all(a is b for a, b in zip(first, second, strict=True))
    as_fallback = next(r for r in first if r.label == "a/qwen3:4b")
    as_itself = registry.routes("qwen3:4b")[0]
    assert as_fallback.fallback and not as_itself.fallback
    assert as_fallback.breaker is as_itself.breaker is not None


def test_cost_uses_cached_rate_for_cached_input() -> None:
    usage = pb.Usage(input_tokens=1_000_000, cached_input_tokens=400_000, output_tokens=500_000)
    cost = cost_of(CONFIG.models[0].pricing, usage)
    assert cost.input_usd == pytest.approx(600_000 * 2.0 / 1e6 + 400_000 * 0.5 / 1e6)
    assert cost.output_usd == pytest.approx(4.0)
    assert cost.total_usd == pytest.approx(cost.input_usd + cost.output_usd)
