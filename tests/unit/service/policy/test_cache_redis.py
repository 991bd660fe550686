"""The response cache on a real redis-server: shared by every client, and skipped when Redis is down."""

from __future__ import annotations

import pytest

from model_gateway.cache_config import CacheConfig
from model_gateway.policy.cache import ResponseCache
from model_gateway.policy.cache_store import PREFIX, CacheUnavailable, Entry, RedisCache
from model_gateway.storage.redis import connect_redis
from tests.integration.conftest import free_port
from tests.unit.service.policy.support import CALL_COST, Metrics, build, chat, ctx


async def test_answers_in_redis_are_shared_between_instances(redis_url: str) -> None:
    one, two = connect_redis(redis_url), connect_redis(redis_url)
    try:
        settings = CacheConfig(ttl_s=30)
        first, provider_one, _ = build(ResponseCache(settings, RedisCache(one, 30)))
        second, provider_two, sink = build(ResponseCache(settings, RedisCache(two, 30)))
        request = chat(text="shared across instances")
        assert (await first.generate(request, ctx())).route.cache == "miss"
        hit = await second.generate(request, ctx())
        assert hit.route.cache_hit and len(provider_one.calls) == 1 and provider_two.calls == []
        assert sink.calls[0].saved_usd == CALL_COST
        keys = [key async for key in one.scan_iter(match=PREFIX + "*")]
        assert keys and 0 < await one.pttl(keys[0]) <= 30_000
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_redis_that_is_down_is_skipped_and_calls_flow(caplog: pytest.LogCaptureFixture) -> None:
    client = connect_redis(f"redis://127.0.0.1:{free_port()}/0")
    try:
        metrics = Metrics()
        store = RedisCache(client, 30)
        gateway, provider, _ = build(ResponseCache(CacheConfig(), store, metrics))
        for _ in range(3):
            response = await gateway.generate(chat(), ctx())
            assert response.route.cache == "bypass" and response.message.content[0].text == "from m"
        assert len(provider.calls) == 3
        assert metrics.cached == ["bypass"] * 3 and metrics.store_errors == ["cache"] * 3
        assert len([r for r in caplog.records if "cache unreachable" in r.getMessage()]) == 1
        with pytest.raises(CacheUnavailable):
            await store.put("k", Entry(b"", 0.0))
    finally:
        await client.aclose()
