"""The limit store on a real redis-server: one atomic Lua step shared by all clients; a Redis that is down."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from redis.asyncio import Redis

from model_gateway.core.context import Limits
from model_gateway.errors import GatewayError
from model_gateway.policy import buckets, budgets
from model_gateway.policy.limit_store import PREFIX, MemoryLimitStore, Plan, RedisLimitStore, StoreUnavailable
from model_gateway.policy.limits import Limit
from model_gateway.storage.redis import connect_redis
from tests.integration.conftest import free_port
from tests.unit.service.policy.support import CALL_TOKENS, Metrics, build, chat, config, ctx


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[list[Redis]]:
    """Several clients, each with its own connection pool: as separate gateway processes would be.

    Patient ones: a burst opens dozens of connections at once, which on a busy
    test machine can take longer than the gateway's 0.5 s connect timeout.
    """
    made = [Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=10) for _ in range(6)]
    yield made
    for client in made:
        await client.aclose()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def test_a_concurrent_burst_from_several_clients_admits_exactly_the_limit(clients: list[Redis]) -> None:
    stores = [RedisLimitStore(client) for client in clients]
    key = unique("burst")
    plan = Plan([buckets.Spec.per_minute(f"key:{key}:rpm", 25, 1)], [])
    verdicts = await asyncio.gather(*(stores[i % len(stores)].admit(plan) for i in range(150)))
    admitted = sum(v.admitted for v in verdicts)
    # 25 per minute refill 0.42 a second: a burst this short earns at most one more.
    assert 25 <= admitted <= 26
    refused = [v for v in verdicts if not v.admitted]
    assert all(0 < v.retry_after <= 2.4 for v in refused)  # one request at 25/min: 2.4 s at most


async def test_buckets_and_budgets_are_all_or_nothing_in_redis_too(clients: list[Redis]) -> None:
    store = RedisLimitStore(clients[0])
    wide, narrow = unique("wide"), unique("narrow")
    plan = Plan([buckets.Spec.per_minute(wide, 10, 1), buckets.Spec.per_minute(narrow, 1, 1)], [])
    assert (await store.admit(plan)).admitted
    refused = await store.admit(plan)
    assert (
        not refused.admitted and refused.refused_by == 1 and refused.retry_after == pytest.approx(60, abs=0.5)
    )
    level = float(await clients[0].hget(PREFIX + wide, "l") or 0)
    assert level == pytest.approx(9, abs=0.01)  # the refused call took nothing from `wide`


async def test_settling_in_redis_matches_the_memory_arithmetic(clients: list[Redis]) -> None:
    redis_store, memory = RedisLimitStore(clients[0]), MemoryLimitStore(clock=lambda: 0.0)
    key = unique("tpm")
    spec = buckets.Spec.per_minute(key, 6000, 500)  # 100 tokens a second
    budget = budgets.Spec(unique("usd"), 5.0, 0.5, None)
    plan = Plan([spec], [budget])
    for store in (redis_store, memory):
        admission = await store.admit(plan)
        assert admission.admitted and admission.levels[0] == pytest.approx(5500, abs=1)
        await store.settle(plan, [spec.take - 120], [0.2])
    assert memory.levels[key].level == 6000 - 120
    redis_level = float(await clients[0].hget(PREFIX + key, "l") or 0)
    assert redis_level == pytest.approx(6000 - 120, abs=2)  # refill of the few ms between the steps
    assert float(await clients[0].get(PREFIX + budget.key) or 0) == pytest.approx(0.2)
    assert await clients[0].ttl(PREFIX + budget.key) == -1  # a total budget never expires


async def test_a_budget_under_concurrency_is_overrun_by_at_most_one_estimate(clients: list[Redis]) -> None:
    stores = [RedisLimitStore(client) for client in clients]
    estimate, limit = 0.07, 1.0
    budget = budgets.Spec(
        unique("usd"), limit, estimate, budgets.window("day", time.time()).ends_in(time.time())
    )
    plan = Plan([], [budget])

    async def one_call(store: RedisLimitStore) -> bool:
        admission = await store.admit(plan)
        if admission.admitted:
            await asyncio.sleep(0.01)  # in flight
            await store.settle(plan, [], [estimate])  # it cost what was estimated
        return admission.admitted

    admitted = sum(await asyncio.gather(*(one_call(stores[i % len(stores)]) for i in range(100))))
    spent = float(await clients[0].get(PREFIX + budget.key) or 0)
    assert spent == pytest.approx(admitted * estimate)
    assert limit <= spent <= limit + estimate + 1e-9
    ttl = await clients[0].ttl(PREFIX + budget.key)
    assert 0 < ttl <= 86400 + 3600


async def test_the_limit_stage_on_redis_settles_exactly(redis_url: str) -> None:
    client = connect_redis(redis_url)
    try:
        stage = Limit(config(), RedisLimitStore(client), Metrics())
        gateway, _, _ = build(stage)
        name = unique("key")
        caller = Limits(tpm=60_000, rpm=100)
        response = await gateway.generate(chat(max_tokens=1000), ctx(name, caller))
        assert response.rate_limits.remaining_requests == 99
        assert response.rate_limits.remaining_tokens < 59_000
        level = float(await client.hget(f"{PREFIX}key:{name}:tpm", "l") or 0)
        assert level == pytest.approx(60_000 - CALL_TOKENS, abs=50)  # plus the refill of a few ms
    finally:
        await client.aclose()


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_a_redis_that_is_down_fails_open_or_closed_and_quickly(mode: str) -> None:
    client = connect_redis(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        metrics = Metrics()
        store = RedisLimitStore(client)
        stage = Limit(config(f"limits: {{on_store_error: {mode}}}"), store, metrics)
        gateway, provider, _ = build(stage)
        started = time.perf_counter()
        for _ in range(5):
            if mode == "open":
                await gateway.generate(chat(), ctx("k", Limits(rpm=1)))
            else:
                with pytest.raises(GatewayError) as refused:
                    await gateway.generate(chat(), ctx("k", Limits(rpm=1)))
                assert refused.value.code == grpc.StatusCode.UNAVAILABLE
        assert time.perf_counter() - started < 1.0  # after one failure Redis is left alone for a second
        assert len(provider.calls) == (5 if mode == "open" else 0)
        assert metrics.store_errors == ["limits"] * 5
        with pytest.raises(StoreUnavailable):
            await store.admit(Plan([buckets.Spec.per_minute("x", 1, 1)], []))
    finally:
        await client.aclose()
