"""Strategies and the router: which deployment goes first, and what the decision says."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from model_gateway.config import parse_config
from model_gateway.routing.registry import Registry
from model_gateway.routing.router import Router
from model_gateway.routing.strategy import Latency, LeastBusy, Ordered, Weighted

CONFIG = parse_config(
    """
providers: {a: {kind: openai}, b: {kind: openai}, c: {kind: openai}}
models:
  - name: plain
    deployments: [{provider: a, model: m}, {provider: b, model: m}]
    fallbacks: [cheap]
  - name: split
    strategy: weighted
    deployments: [{provider: a, model: m, weight: 3}, {provider: b, model: m, weight: 1}]
  - name: busy
    strategy: least_busy
    deployments: [{provider: a, model: m}, {provider: b, model: m}, {provider: c, model: m}]
  - name: fast
    routing: {strategy: latency}
    deployments: [{provider: a, model: s}, {provider: b, model: s}]
  - name: priced
    strategy: cost
    deployments: [{provider: a, model: dear}]
    pricing: {input_per_mtok: 5, output_per_mtok: 15}
    fallbacks: [cheap]
  - name: cheap
    deployments: [{provider: c, model: cheap}]
    pricing: {input_per_mtok: 0.1, output_per_mtok: 0.4}
"""
)


def router(seed: int = 1) -> Router:
    return Router(Registry(CONFIG), random.Random(seed))


def labels(plan_routes: list) -> list[str]:  # type: ignore[type-arg]
    return [r.label for r in plan_routes]


def test_ordered_keeps_the_configured_order_then_fallbacks() -> None:
    plan = router().plan("plain")
    assert labels(plan.routes) == ["a/m", "b/m", "c/cheap"] and plan.decision == "ordered"


def test_weighted_splits_by_weight_within_statistical_bounds() -> None:
    r = router(seed=42)
    firsts = Counter(r.plan("split").routes[0].label for _ in range(2000))
    # 3:1 → 1500 expected; 5 standard deviations of a binomial(2000, 0.75) is ±97.
    assert abs(firsts["a/m"] - 1500) < 97 and firsts["a/m"] + firsts["b/m"] == 2000
    plan = r.plan("split")
    assert plan.decision == "weighted" and sorted(labels(plan.routes)) == ["a/m", "b/m"]  # the other follows


def test_weighted_is_reproducible_with_a_seeded_rng() -> None:
    one, two = router(seed=3), router(seed=3)
    assert [labels(one.plan("split").routes) for _ in range(20)] == [
        labels(two.plan("split").routes) for _ in range(20)
    ]


def test_least_busy_prefers_fewest_in_flight() -> None:
    r = router()
    registry = r.registry
    registry.stats["a/m"].in_flight = 4
    registry.stats["b/m"].in_flight = 1
    registry.stats["c/m"].in_flight = 2
    plan = r.plan("busy")
    assert labels(plan.routes) == ["b/m", "c/m", "a/m"] and plan.decision == "least_busy"


def test_least_busy_spreads_ties_at_random() -> None:
    r = router(seed=5)
    firsts = Counter(r.plan("busy").routes[0].label for _ in range(300))
    assert set(firsts) == {"a/m", "b/m", "c/m"} and min(firsts.values()) > 60


def test_latency_prefers_the_faster_once_both_are_measured() -> None:
    r = router(seed=9)
    stats = r.registry.stats
    for _ in range(5):
        stats["a/s"].answered(0.80, stream=True)
        stats["b/s"].answered(0.20, stream=True)
    firsts = Counter(r.plan("fast", stream=True).routes[0].label for _ in range(1000))
    assert firsts["b/s"] > 900  # exploration sends a few to the slower one
    assert firsts["a/s"] > 10


def test_latency_tries_unmeasured_deployments_first() -> None:
    r = router(seed=9)
    for _ in range(5):
        r.registry.stats["a/s"].answered(0.05, stream=False)
    firsts = Counter(r.plan("fast").routes[0].label for _ in range(100))
    assert firsts["b/s"] > 85  # b has no samples yet


def test_latency_keeps_unary_and_stream_apart() -> None:
    stats = router().registry.stats["a/s"]
    stats.answered(1.0, stream=False)
    stats.answered(0.1, stream=True)
    stats.answered(0.3, stream=True)
    assert stats.speed(stream=False) == (1, 1.0)
    samples, seconds = stats.speed(stream=True)
    assert samples == 2 and seconds == pytest.approx(0.1 + 0.3 * 0.2)


def test_cost_puts_the_cheapest_first_across_fallbacks() -> None:
    plan = router().plan("priced")
    assert labels(plan.routes) == ["c/cheap", "a/dear"] and plan.decision == "cost"


def test_strategies_without_enough_routes_return_them() -> None:
    one = Registry(CONFIG).routes("cheap")
    rng = random.Random(1)
    for strategy in (Ordered(), Weighted(rng), LeastBusy(rng), Latency(rng)):
        assert strategy.order(one) == one


def test_a_strategy_given_to_the_router_replaces_every_models() -> None:
    r = Router(Registry(CONFIG), random.Random(1), Ordered())
    assert r.plan("priced").decision == "ordered"
    assert labels(r.plan("priced").routes) == ["a/dear", "c/cheap"]
