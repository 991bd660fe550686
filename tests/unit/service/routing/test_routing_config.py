"""The routing section and model overrides: defaults, merging, and one-line errors naming the key path."""

from __future__ import annotations

import pytest

from model_gateway.config import ConfigError, parse_config
from model_gateway.routing.registry import Registry

BASE = """
providers: {a: {kind: openai}, b: {kind: openai}}
models:
  - name: one
    deployments: [{provider: a, model: m1}]
  - name: two
    deployments: [{provider: b, model: m2}]
"""


def test_defaults() -> None:
    routing = parse_config(BASE).routing
    assert (routing.strategy, routing.retries, routing.backoff.initial_s, routing.backoff.max_s) == (
        "ordered",
        1,
        0.25,
        8.0,
    )
    breaker = routing.breaker
    assert breaker.enabled and (breaker.failures, breaker.window_s, breaker.cooldown_s) == (5, 30.0, 30.0)
    assert routing.auto.rules == [] and routing.auto.default is None


def test_a_model_overrides_single_keys_and_keeps_the_rest() -> None:
    config = parse_config(
        BASE
        + """
  - name: own
    strategy: weighted
    routing: {retries: 0, backoff: {max_s: 2}}
    deployments: [{provider: a, model: o1, weight: 3}, {provider: b, model: o2, weight: 1}]
routing: {retries: 2, backoff: {initial_s: 0.1, max_s: 4}}
"""
    )
    registry = Registry(config)
    own = registry.routes("own")[0].policy
    assert (own.retries, own.initial_s, own.max_s) == (0, 0.1, 2)
    one = registry.routes("one")[0].policy
    assert (one.retries, one.initial_s, one.max_s) == (2, 0.1, 4)
    assert registry.strategies == {"one": "ordered", "two": "ordered", "own": "weighted"}


def test_breakers_can_be_switched_off() -> None:
    registry = Registry(parse_config(BASE + "routing: {breaker: {enabled: false}}\n"))
    assert all(r.breaker is None for r in registry.routes("one"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "routing: {auto: {rules: [{when: {code: true}, model: coder}], default: one}}",
            "routing.auto.rules[0].model: 'coder' is not a configured model",
        ),
        ("routing: {auto: {default: nope}}", "routing.auto.default: 'nope' is not a configured model"),
        (
            "routing: {auto: {rules: [{when: {code: true}, model: one}]}}",
            "routing.auto.default: required when rules are given",
        ),
        (
            "routing: {auto: {rules: [{when: {}, model: one}], default: one}}",
            "routing.auto.rules[0].when: Value error",
        ),
        ("routing: {strategy: fastest}", "routing.strategy: Input should be"),
        ("routing: {retries: -1}", "routing.retries: Input should be greater than or equal to 0"),
        ("routing: {backoff: {initial_s: 5, max_s: 1}}", "routing.backoff.max_s: 1 is below initial_s (5)"),
        (
            "routing: {breaker: {cooldown_s: 60, max_cooldown_s: 10}}",
            "routing.breaker.max_cooldown_s: 10 is below",
        ),
        ("routing: {breaker: {failurs: 3}}", "routing.breaker.failurs: unknown key"),
    ],
)
def test_routing_errors_name_the_key(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + extra + "\n", "cfg.yaml")
    assert str(caught.value).startswith(f"cfg.yaml: {message}"), str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (
            """
  - name: x
    deployments: [{provider: a, model: x}]
    fallbacks: [y]
  - name: y
    deployments: [{provider: a, model: y}]
    fallbacks: [z]
  - name: z
    deployments: [{provider: a, model: z}]
    fallbacks: [x]
""",
            "models[2].fallbacks[0]: a cycle: x → y → z → x",
        ),
        (
            """
  - name: c1
    kind: cascade
    cascade: {models: [one, c2]}
  - name: c2
    kind: cascade
    cascade: {models: [two, c1]}
""",
            "models[2].cascade.models[1]: a cycle: c1 → c2 → c1",
        ),
        (
            """
  - name: zero
    deployments: [{provider: a, model: z, weight: 0}, {provider: b, model: z, weight: 0}]
""",
            "models[2].deployments: the weights sum to zero",
        ),
        (
            """
  - name: ab
    split: [{model: one, percent: 60}, {model: two, percent: 30}]
""",
            "models[2].split: the percentages sum to 90, not 100",
        ),
        (
            """
  - name: ab
    split: [{model: one, percent: 50}, {model: three, percent: 50}]
""",
            "models[2].split[1].model: 'three' is not a configured model",
        ),
        (
            """
  - name: ab
    deployments: [{provider: a, model: ab}]
    split: [{deployment: a/ab, percent: 50}, {deployment: b/ab, percent: 50}]
""",
            "models[2].split[1].deployment: 'b/ab' is not one of this model's deployments (a/ab)",
        ),
        (
            """
  - name: ab
    split: [{model: one, deployment: a/m1, percent: 100}]
""",
            "models[2].split[0]: Value error, give exactly one of `model` and `deployment`",
        ),
        (
            """
  - name: nothing
""",
            "models[2].deployments: required (at least one), unless the model is a cascade or a split",
        ),
        (
            """
  - name: casc
    kind: cascade
""",
            "models[2].cascade: required for kind cascade",
        ),
        (
            """
  - name: casc
    kind: cascade
    cascade: {models: [one, two], stream_from: three}
""",
            "models[2].cascade.stream_from: 'three' is not one of cascade.models",
        ),
        (
            """
  - name: both
    strategy: weighted
    routing: {strategy: cost}
    deployments: [{provider: a, model: b}]
""",
            "models[2].strategy: given twice",
        ),
        (
            """
  - name: same-deployment
    routing: {breaker: {failures: 9}}
    deployments: [{provider: a, model: m1}]
""",
            "models[2].routing.breaker: deployment 'a/m1' is also used by models[0] with other breaker",
        ),
        (
            """
  - name: auto
    deployments: [{provider: a, model: m}]
routing: {auto: {default: one}}
""",
            "models[2].name: 'auto' is reserved for routing.auto",
        ),
    ],
)
def test_model_routing_errors_name_the_key(models: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + models, "cfg.yaml")
    assert str(caught.value).startswith(f"cfg.yaml: {message}"), str(caught.value)


def test_a_model_named_auto_is_fine_without_auto_rules() -> None:
    config = parse_config(BASE + "  - name: auto\n    deployments: [{provider: a, model: m}]\n")
    assert Registry(config).resolve("auto").name == "auto"
