"""Limit: rate limits and budgets, before a call is routed; settled once its outcome is known.

Token buckets for requests and tokens per minute — per key and per project
(the principal's limits, set by the authenticate stage), per model and
gateway-wide (the `limits` section) — and budgets in USD per key and per
project and period. One atomic step of the store (limit_store.py: memory,
or one Lua script in Redis shared by every instance) checks every bucket
and budget the call is held to and reserves in all of them or none:

- requests: 1;
- tokens: the prompt's estimate (a quarter of its size in bytes: cheap,
  and settled to the real usage anyway) plus max_tokens (or the model's
  max_output_tokens, or `limits.default_max_tokens`);
- budgets: that estimate priced at the model's (or its dearest fallback's)
  rates.

When the call ends the real usage and cost replace the estimates (streams
included, at their final chunk); a failed call gives everything back, a
cache hit costs nothing. A refusal is RESOURCE_EXHAUSTED: reason
RATE_LIMITED with RetryInfo (when the bucket holds enough again), or
BUDGET_EXCEEDED (until the period ends). Admitted calls carry their
standing (pb.RateLimits, the x-ratelimit-* headers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import grpc
from redis.asyncio import Redis

from model_gateway.config import GatewayConfig
from model_gateway.core.call import Call
from model_gateway.core.context import Limits
from model_gateway.core.stages import PassStage
from model_gateway.errors import GatewayError, Reason
from model_gateway.policy import buckets, budgets
from model_gateway.policy.limit_store import (
    Admission,
    LimitStore,
    MemoryLimitStore,
    Plan,
    RedisLimitStore,
    StoreUnavailable,
)
from model_gateway.policy.signals import NO_METRICS, PolicyMetrics, Scope
from model_gateway.pricing import cost_of
from model_gateway_common.route_headers import duration, rate_limit_metadata
from modelgateway.v1 import gateway_pb2 as pb

log = logging.getLogger("model_gateway.limits")

Unit = Literal["requests", "tokens"]
WARN_EVERY_S = 10.0  # a failing store is logged at most this often
_WALK_OVER = 64 * 1024  # larger requests are walked part by part (images are not text)


@dataclass(frozen=True, slots=True)
class _Price:
    input: float = 0.0  # USD per million tokens
    output: float = 0.0
    max_output: int | None = None


_FREE = _Price()


@dataclass(frozen=True, slots=True)
class _Owner:
    """Whose limit a bucket or budget is, for messages and metrics."""

    scope: Scope
    name: str

    def __str__(self) -> str:
        return "the gateway" if self.scope == "gateway" else f"{self.scope} '{self.name}'"


@dataclass(frozen=True, slots=True)
class _Held:
    """What an admitted call reserved, until it is settled."""

    plan: Plan
    units: tuple[Unit, ...]  # per bucket


def _limited(limits: Limits) -> bool:
    return limits.rpm is not None or limits.tpm is not None or limits.budget_usd is not None


def _prices(config: GatewayConfig) -> dict[str, _Price]:
    """Per model, the dearest rates of it and its fallbacks: what an estimate must assume."""
    by_name = {model.name: model for model in config.models}
    for model in config.models:
        for alias in model.aliases:
            by_name.setdefault(alias, model)
    prices: dict[str, _Price] = {}
    for model in config.models:
        chain = [model, *(by_name[name] for name in model.fallbacks if name in by_name)]
        prices[model.name] = _Price(
            max(m.pricing.input_per_mtok for m in chain),
            max(m.pricing.output_per_mtok for m in chain),
            model.max_output_tokens,
        )
    return prices


class Limit(PassStage):
    name = "limit"

    def __init__(
        self,
        config: GatewayConfig,
        store: LimitStore | None = None,
        metrics: PolicyMetrics = NO_METRICS,
        wall: Callable[[], float] = time.time,
    ) -> None:
        limits = config.limits
        self.store: LimitStore = store or MemoryLimitStore()
        self.metrics = metrics
        self.wall = wall  # budget periods are calendar periods: wall-clock time
        self.closed = limits.on_store_error == "closed"
        self.default_max_tokens = limits.default_max_tokens
        self.gateway = limits.gateway if limits.gateway.rpm or limits.gateway.tpm else None
        self.models = {name: rate for name, rate in limits.models.items() if rate.rpm or rate.tpm}
        known = {model.name for model in config.models}
        for name in self.models:
            if name not in known:
                log.warning(
                    "limits.models: '%s' is not a configured model name; its limits never apply", name
                )
        self.prices = _prices(config)
        self.windows = budgets.Windows()
        self._held: dict[int, _Held] = {}
        # Per owner and limit: the requests bucket (the same every call) and the tokens bucket's
        # key, made once instead of per call (a hot path: every admitted call builds its plan).
        self._request_specs: dict[tuple[str, str, int], buckets.Spec] = {}
        self._token_keys: dict[tuple[str, str], str] = {}
        self._warned = 0.0

    # -- admission -------------------------------------------------------------------------------

    async def enter(self, call: Call) -> None:
        principal = call.ctx.principal
        key, project = principal.limits, principal.project_limits
        model = self.models.get(call.model_label)
        if not (_limited(key) or _limited(project) or model or self.gateway):
            return  # the common case with no limits: a few attribute reads
        estimate: tuple[int, float] | None = None

        def estimated() -> tuple[int, float]:
            nonlocal estimate
            if estimate is None:
                estimate = self._estimate(call)
            return estimate

        specs: list[buckets.Spec] = []
        owners: list[_Owner] = []
        units: list[Unit] = []

        def rates(owner: _Owner, rpm: int | None, tpm: int | None) -> None:
            if rpm:
                spec = self._request_specs.get((owner.scope, owner.name, rpm))
                if spec is None:
                    spec = buckets.Spec.per_minute(f"{owner.scope}:{owner.name}:rpm", rpm, 1)
                    self._request_specs[owner.scope, owner.name, rpm] = spec
                specs.append(spec)
                owners.append(owner)
                units.append("requests")
            if tpm:
                key = self._token_keys.get((owner.scope, owner.name))
                if key is None:
                    key = self._token_keys[owner.scope, owner.name] = f"{owner.scope}:{owner.name}:tpm"
                specs.append(buckets.Spec.per_minute(key, tpm, estimated()[0]))
                owners.append(owner)
                units.append("tokens")

        spends: list[budgets.Spec] = []
        spenders: list[tuple[_Owner, str]] = []

        def budget(owner: _Owner, limits: Limits) -> None:
            if limits.budget_usd is not None:
                now = self.wall()
                window = self.windows.at(limits.budget_period, now)
                key = f"{owner.scope}:{owner.name}:usd:{limits.budget_period}:{window.id}"
                spends.append(budgets.Spec(key, limits.budget_usd, estimated()[1], window.ends_in(now)))
                spenders.append((owner, limits.budget_period))

        if _limited(key):
            owner = _Owner("key", principal.name)
            rates(owner, key.rpm, key.tpm)
            budget(owner, key)
        if _limited(project) and principal.project:
            owner = _Owner("project", principal.project)
            rates(owner, project.rpm, project.tpm)
            budget(owner, project)
        if model is not None:
            rates(_Owner("model", call.model_label), model.rpm, model.tpm)
        if self.gateway is not None:
            rates(_Owner("gateway", "all"), self.gateway.rpm, self.gateway.tpm)
        if not specs and not spends:
            return
        plan = Plan(specs, spends)
        try:
            admission = await self.store.admit(plan)
        except StoreUnavailable as exc:
            self._store_failed("admit", exc)
            if self.closed:
                raise GatewayError(
                    grpc.StatusCode.UNAVAILABLE,
                    Reason.RATE_LIMITED,
                    "rate limits and budgets cannot be checked (the limit store is unreachable) "
                    "and limits.on_store_error is closed",
                    retry_after=1.0,
                ) from None
            return  # fail open: admitted, nothing reserved
        standing = _standing(specs, units, admission.levels) if specs else None
        if not admission.admitted:
            raise self._refusal(admission, plan, owners, units, spenders, standing)
        call.ctx.rate_limits = standing
        self._held[id(call)] = _Held(plan, tuple(units))

    def _estimate(self, call: Call) -> tuple[int, float]:
        """The tokens and the cost (USD) to reserve for a call before it runs."""
        price = self.prices.get(call.model_label, _FREE)
        request = call.request
        if isinstance(request, pb.EmbedRequest):
            prompt, output = _bytes_to_tokens(request.ByteSize()), 0
        else:
            prompt = prompt_estimate(request)
            output = self.default_max_tokens
            if request.sampling.HasField("max_tokens"):
                output = request.sampling.max_tokens
            elif price.max_output is not None:
                output = price.max_output
        return prompt + output, (prompt * price.input + output * price.output) / 1e6

    def _refusal(
        self,
        admission: Admission,
        plan: Plan,
        owners: list[_Owner],
        units: list[Unit],
        spenders: list[tuple[_Owner, str]],
        standing: pb.RateLimits | None,
    ) -> GatewayError:
        index = admission.refused_by
        metadata = dict(rate_limit_metadata(standing))
        if index < len(plan.buckets):
            spec, owner, unit = plan.buckets[index], owners[index], units[index]
            self.metrics.refused(owner.scope, unit)
            wait = admission.retry_after
            asked = f"; this call needs {spec.need:g}" if unit == "tokens" else ""
            return GatewayError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                Reason.RATE_LIMITED,
                f"rate limit reached for {owner}: {spec.capacity:g} {unit} per minute{asked}; "
                f"retry in {duration(wait)}",
                retry_after=wait,
                metadata={"scope": owner.scope, "limit": "rpm" if unit == "requests" else "tpm", **metadata},
            )
        spent = plan.budgets[index - len(plan.buckets)]
        owner, period = spenders[index - len(plan.buckets)]
        self.metrics.refused(owner.scope, "budget")
        per = "in total" if period == "total" else f"per {period}"
        resets = "" if spent.ends_in is None else f"; it resets in {duration(spent.ends_in)}"
        return GatewayError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            Reason.BUDGET_EXCEEDED,
            f"budget exceeded for {owner}: ${admission.used:.4f} of its ${spent.limit:g} {per} "
            f"is spent{resets}",
            retry_after=spent.ends_in,
            metadata={"scope": owner.scope, "limit": "budget", "period": period, **metadata},
        )

    # -- settlement ------------------------------------------------------------------------------

    async def leave(self, call: Call) -> None:
        held = self._held.pop(id(call), None)
        if held is None:
            return
        tokens, cost = _spent(call)
        give_back = [
            spec.take - tokens if unit == "tokens" else 0.0
            for spec, unit in zip(held.plan.buckets, held.units, strict=True)
        ]
        if not held.plan.budgets and not any(give_back):
            return
        try:
            await self.store.settle(held.plan, give_back, [cost] * len(held.plan.budgets))
        except StoreUnavailable as exc:
            self._store_failed("settle", exc)

    def _store_failed(self, step: str, exc: StoreUnavailable) -> None:
        self.metrics.store_error("limits")
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY_S:
            self._warned = now
            action = "refusing calls" if self.closed else "admitting calls unchecked"
            log.warning("limit store unreachable (%s: %s): %s (limits.on_store_error)", step, exc, action)


def _bytes_to_tokens(size: int) -> int:
    return (size + 3) // 4


def prompt_estimate(request: pb.GenerateRequest) -> int:
    """The prompt's tokens as admission guesses them: a quarter of its serialized size.

    The reservation is settled to the real usage when the call ends, so this
    needs to be cheap (one C call) rather than exact: about 4 bytes a token
    for English and code, more tokens than that for other scripts. Requests
    over 64 KiB are walked instead, so that inline image bytes count as an
    image (85 tokens, as OpenAI bills a low-detail one) and not as text.
    """
    size = request.ByteSize()
    if size <= _WALK_OVER:
        return _bytes_to_tokens(size)
    return count_request_bytes(request)


def count_request_bytes(request: pb.GenerateRequest) -> int:
    size = len(request.system.encode()) + len(request.prompt.encode())
    images = 0
    for message in request.messages:
        for part in message.content:
            if part.HasField("image"):
                images += 1
            else:
                size += part.ByteSize()
        for tool_call in message.tool_calls:
            size += tool_call.ByteSize()
    size += sum(tool.ByteSize() for tool in request.tools)
    return _bytes_to_tokens(size) + 85 * images + 4 * len(request.messages)


def _spent(call: Call) -> tuple[int, float]:
    """The tokens and cost a finished call really used: nothing when it failed or hit the cache."""
    usage = call.usage
    if call.cache_hit or usage is None:
        return 0, 0.0
    cost = cost_of(call.served_by.model.pricing, usage).total_usd if call.served_by is not None else 0.0
    return usage.input_tokens + usage.output_tokens, cost


def _standing(specs: list[buckets.Spec], units: list[Unit], levels: tuple[float, ...]) -> pb.RateLimits:
    """The most constraining requests bucket and tokens bucket, as the x-ratelimit-* headers say it."""
    standing = pb.RateLimits()
    least: dict[Unit, int] = {}
    for spec, unit, level in zip(specs, units, levels, strict=True):
        remaining = max(0, int(level))
        if unit in least and remaining >= least[unit]:
            continue
        least[unit] = remaining
        reset = buckets.seconds_to_full(level, spec.capacity, spec.rate)
        if unit == "requests":
            standing.limit_requests, standing.remaining_requests = int(spec.capacity), remaining
            standing.reset_requests_s = reset
        else:
            standing.limit_tokens, standing.remaining_tokens = int(spec.capacity), remaining
            standing.reset_tokens_s = reset
    return standing


def limit_stage(config: GatewayConfig, redis: Redis | None, metrics: PolicyMetrics = NO_METRICS) -> Limit:
    """The limit stage on the shared Redis (storage.redis), or on this process's memory."""
    store = RedisLimitStore(redis) if redis is not None else MemoryLimitStore()
    return Limit(config, store, metrics)
