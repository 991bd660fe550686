"""The limit stage in a pipeline: refusals, headers, settlement of unary calls and streams, refunds."""

from __future__ import annotations

import grpc
import pytest

from model_gateway.core.context import Limits
from model_gateway.errors import GatewayError, Reason
from model_gateway.policy.cache import ResponseCache
from model_gateway.policy.limit_store import Admission, MemoryLimitStore, Plan, StoreUnavailable
from model_gateway.policy.limits import Limit, prompt_estimate
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import CUT, bad_request
from tests.unit.service.policy.support import (
    CALL_COST,
    CALL_TOKENS,
    CONFIG,
    Metrics,
    build,
    chat,
    config,
    ctx,
)


def frozen() -> MemoryLimitStore:
    return MemoryLimitStore(clock=lambda: 100.0)  # no refill during a test


def limit(store: MemoryLimitStore | None = None, extra: str = "", metrics: Metrics | None = None) -> Limit:
    return Limit(config(extra), store or frozen(), metrics or Metrics(), wall=lambda: 1_750_000_000.0)


async def test_no_limits_no_refusals_and_no_headers() -> None:
    stage = limit()
    gateway, provider, _ = build(stage)
    for _ in range(50):
        response = await gateway.generate(chat(), ctx())
        assert not response.HasField("rate_limits")
    assert len(provider.calls) == 50 and stage._held == {}


async def test_requests_per_minute_per_key_refuse_with_retry_info_and_headers() -> None:
    metrics = Metrics()
    gateway, provider, sink = build(limit(metrics=metrics))
    first = await gateway.generate(chat(), ctx("team-a", Limits(rpm=2)))
    second = await gateway.generate(chat(), ctx("team-a", Limits(rpm=2)))
    assert (first.rate_limits.limit_requests, first.rate_limits.remaining_requests) == (2, 1)
    assert second.rate_limits.remaining_requests == 0
    assert second.rate_limits.reset_requests_s == pytest.approx(60.0)
    with pytest.raises(GatewayError) as refused:
        await gateway.generate(chat(), ctx("team-a", Limits(rpm=2)))
    error = refused.value
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, Reason.RATE_LIMITED)
    assert error.retry_after == pytest.approx(30.0)  # 2 per minute: one every 30 s
    assert "rate limit" in error.message and "key 'team-a'" in error.message and "budget" not in error.message
    assert error.metadata["x-ratelimit-remaining-requests"] == "0"
    assert error.metadata["x-ratelimit-limit-requests"] == "2" and error.metadata["scope"] == "key"
    assert len(provider.calls) == 2 and len(sink.calls) == 3  # the refusal is recorded too
    assert metrics.refusals == [("key", "requests")]
    # another key has its own bucket
    assert (await gateway.generate(chat(), ctx("team-b", Limits(rpm=2)))).rate_limits.remaining_requests == 1


async def test_a_project_bounds_all_of_its_keys_together() -> None:
    gateway, _, _ = build(limit())
    shared = Limits(rpm=3)
    for name in ("a", "b", "c"):
        await gateway.generate(chat(), ctx(name, Limits(rpm=10), project="p", project_limits=shared))
    with pytest.raises(GatewayError, match="project 'p'"):
        await gateway.generate(chat(), ctx("d", Limits(rpm=10), project="p", project_limits=shared))


async def test_gateway_wide_and_per_model_limits_apply_to_anonymous_callers() -> None:
    gateway, _, _ = build(limit(extra="limits: {gateway: {rpm: 3}, models: {other: {rpm: 1}}}"))
    await gateway.generate(chat("other"), ctx())
    with pytest.raises(GatewayError, match="model 'other'"):
        await gateway.generate(chat("other"), ctx())
    await gateway.generate(chat("cheap-name"), ctx())  # an alias counts as its model: not 'other'
    await gateway.generate(chat(), ctx())  # the third: the refused call above took nothing
    with pytest.raises(GatewayError, match="the gateway"):
        await gateway.generate(chat(), ctx())


async def test_tokens_are_reserved_from_the_estimate_and_settled_to_the_real_usage() -> None:
    store = frozen()
    gateway, _, _ = build(limit(store))
    request = chat(max_tokens=100)
    reserved = prompt_estimate(request) + 100
    response = await gateway.generate(request, ctx("k", Limits(tpm=1000)))
    assert response.rate_limits.limit_tokens == 1000
    assert response.rate_limits.remaining_tokens == 1000 - reserved  # as admitted
    assert store.levels["key:k:tpm"].level == 1000 - CALL_TOKENS  # as settled


@pytest.mark.parametrize("how", ["finished", "cut", "client left", "failed before"])
async def test_streams_settle_exactly_and_failed_calls_give_everything_back(how: str) -> None:
    store = frozen()
    gateway, provider, _ = build(limit(store))
    provider.script = {"m": [CUT] if how == "cut" else [bad_request()] if how == "failed before" else []}
    caller = ctx("k", Limits(tpm=1000, budget_usd=100))
    if how == "failed before":
        with pytest.raises(GatewayError):
            await gateway.stream(chat(max_tokens=50), caller)
    else:
        _, chunks = await gateway.stream(chat(max_tokens=50), caller)
        if how == "finished":
            final = [chunk async for chunk in chunks][-1].final
            assert final.rate_limits.limit_tokens == 1000 and final.cost.total_usd == CALL_COST
        elif how == "cut":
            await anext(chunks)
            with pytest.raises(GatewayError):
                await anext(chunks)
        else:
            await anext(chunks)
            await chunks.aclose()  # type: ignore[attr-defined]
    spent = how == "finished"
    assert store.levels["key:k:tpm"].level == 1000 - (CALL_TOKENS if spent else 0)
    [budget] = store.used.values()
    assert budget == (CALL_COST if spent else 0)


async def test_a_budget_refuses_once_spent_with_a_message_that_says_budget() -> None:
    metrics = Metrics()
    store = frozen()
    gateway, provider, _ = build(limit(store, metrics=metrics))
    caller = Limits(budget_usd=20, budget_period="day")
    await gateway.generate(chat(max_tokens=5), ctx("k", caller))  # $13
    await gateway.generate(chat(max_tokens=5), ctx("k", caller))  # $26: admitted while $13 < $20
    with pytest.raises(GatewayError) as refused:
        await gateway.generate(chat(max_tokens=5), ctx("k", caller))
    error = refused.value
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, Reason.BUDGET_EXCEEDED)
    assert "budget exceeded for key 'k'" in error.message and "$26.0000 of its $20 per day" in error.message
    assert "rate limit" not in error.message
    assert error.retry_after is not None and 0 < error.retry_after <= 86400  # until the day ends
    assert error.metadata["period"] == "day" and len(provider.calls) == 2
    assert metrics.refusals == [("key", "budget")]
    assert list(store.used) == ["key:k:usd:day:2025-06-15"]


async def test_a_budget_estimate_prices_the_prompt_and_max_tokens_at_the_dearest_rates() -> None:
    store = frozen()
    stage = limit(store)
    request = chat(max_tokens=7)
    [call_estimate] = [stage._estimate(type("C", (), {"model_label": "priced", "request": request})())]  # type: ignore[arg-type]
    prompt = prompt_estimate(request)
    assert call_estimate == (prompt + 7, prompt * 1.0 + 7 * 2.0)
    default = stage._estimate(type("C", (), {"model_label": "priced", "request": chat()})())  # type: ignore[arg-type]
    assert default[0] == prompt_estimate(chat()) + CONFIG.limits.default_max_tokens


async def test_a_cache_hit_costs_no_tokens_and_no_budget() -> None:
    store = frozen()
    gateway, provider, _ = build(limit(store), ResponseCache(CONFIG.cache))
    caller = Limits(tpm=1000, budget_usd=100)
    await gateway.generate(chat(max_tokens=5), ctx("k", caller))
    hit = await gateway.generate(chat(max_tokens=5), ctx("k", caller))
    assert hit.route.cache_hit and len(provider.calls) == 1
    assert store.levels["key:k:tpm"].level == 1000 - CALL_TOKENS
    assert list(store.used.values()) == [CALL_COST]


class DownStore:
    def __init__(self) -> None:
        self.settles = 0

    async def admit(self, plan: Plan) -> Admission:
        raise StoreUnavailable("ConnectionError: refused")

    async def settle(self, plan: Plan, give_back: object, costs: object) -> None:
        self.settles += 1
        raise StoreUnavailable("ConnectionError: refused")


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_an_unreachable_store_fails_open_or_closed_never_internal(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    stage = Limit(config(f"limits: {{on_store_error: {mode}}}"), DownStore(), metrics)  # type: ignore[arg-type]
    gateway, provider, _ = build(stage)
    for _ in range(3):
        if mode == "open":
            response = await gateway.generate(chat(), ctx("k", Limits(rpm=1)))
            assert not response.HasField("rate_limits")
        else:
            with pytest.raises(GatewayError) as refused:
                await gateway.generate(chat(), ctx("k", Limits(rpm=1)))
            assert refused.value.code == grpc.StatusCode.UNAVAILABLE
            assert "limits.on_store_error is closed" in refused.value.message
            assert refused.value.retry_after == 1.0
    assert len(provider.calls) == (3 if mode == "open" else 0)
    assert metrics.store_errors == ["limits"] * 3
    warnings = [r for r in caplog.records if "limit store unreachable" in r.getMessage()]
    assert len(warnings) == 1  # once per 10 s, not once per call


async def test_embeddings_count_against_requests_and_tokens() -> None:
    store = frozen()
    gateway, _, _ = build(limit(store))
    caller = Limits(rpm=1, tpm=1000)
    request = pb.EmbedRequest(model="priced", input=["hello world"])
    with pytest.raises(GatewayError, match="embeddings"):  # the scripted provider cannot embed
        await gateway.embed(request, ctx("k", caller))
    assert store.levels["key:k:tpm"].level == 1000  # refunded
    with pytest.raises(GatewayError, match="rate limit"):
        await gateway.embed(request, ctx("k", caller))


def test_the_prompt_estimate_is_a_quarter_of_the_size_and_images_count_as_images() -> None:
    small = chat(text="x" * 400)
    assert prompt_estimate(small) == (small.ByteSize() + 3) // 4
    image = pb.ContentPart(image=pb.ImagePart(data=b"\xff" * 200_000, mime_type="image/png"))
    big = chat(text="look")
    big.messages[0].content.append(image)
    assert 85 < prompt_estimate(big) < 120  # the image's bytes are not text
