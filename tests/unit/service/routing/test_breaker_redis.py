"""Breakers shared through Redis: two instances (two SharedBreakers, two clients) on one real redis-server.

Each test uses its own key prefix, so tests never see each other's state.
Cooldowns are short and real: Redis keeps time with its own clock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from model_gateway.routing.breaker import Breaker, CircuitState
from model_gateway.routing.breaker_redis import SharedBreakers
from model_gateway.routing_settings import BreakerSettings
from model_gateway.storage.redis import connect_redis

SETTINGS = BreakerSettings(failures=3, window_s=10, cooldown_s=0.3, max_cooldown_s=2, sync_s=0.05)
LABEL = "cloud/fail-500"


@dataclass
class Instance:
    breaker: Breaker
    shared: SharedBreakers

    async def fail(self, times: int = 1) -> None:
        for _ in range(times):
            self.breaker.failed(0, "HTTP 500")
        await self.shared.settled()


@pytest.fixture
async def pair(redis_url: str) -> AsyncIterator[tuple[Instance, Instance]]:
    prefix = f"test:{uuid.uuid4().hex}:"
    instances = []
    clients = []
    for _ in range(2):
        client = connect_redis(redis_url)
        clients.append(client)
        breaker = Breaker(LABEL, SETTINGS)
        instances.append(Instance(breaker, SharedBreakers(client, [breaker], prefix=prefix)))
    yield instances[0], instances[1]
    for instance in instances:
        await instance.shared.close()
    for client in clients:
        await client.aclose()


async def test_a_breaker_opened_by_one_instance_is_open_for_the_other(
    pair: tuple[Instance, Instance],
) -> None:
    one, two = pair
    await one.fail(3)
    assert one.breaker.state is CircuitState.OPEN
    assert await two.breaker.admit(1) == 0  # not yet known there...
    await two.shared.sync()
    assert two.breaker.state is CircuitState.OPEN and await two.breaker.admit(1) is None  # ...now skipped
    assert two.breaker.view().last_error == "HTTP 500"
    assert 0 < two.breaker.view().retry_in_s <= SETTINGS.cooldown_s


async def test_failures_are_counted_across_instances(pair: tuple[Instance, Instance]) -> None:
    one, two = pair
    await one.fail(2)
    await two.fail(1)  # the shared streak reaches 3: open, though neither saw 3 itself
    await one.shared.sync()
    assert one.breaker.state is CircuitState.OPEN and two.breaker.state is CircuitState.OPEN


async def test_a_success_anywhere_breaks_the_shared_streak(pair: tuple[Instance, Instance]) -> None:
    one, two = pair
    await one.fail(2)
    await two.shared.sync()  # two learns of the streak, so its next success is sent
    two.breaker.succeeded(0)
    await two.shared.settled()
    await one.fail(1)
    assert one.breaker.state is CircuitState.CLOSED


async def test_half_open_admits_one_probe_across_instances(pair: tuple[Instance, Instance]) -> None:
    one, two = pair
    await one.fail(3)
    await two.shared.sync()
    await asyncio.sleep(SETTINGS.cooldown_s + 0.05)
    tickets = await asyncio.gather(one.breaker.admit(5), two.breaker.admit(5))
    probes = [t for t in tickets if t]
    assert len(probes) == 1 and tickets.count(None) == 1


async def test_a_failed_probe_reopens_for_longer_everywhere(pair: tuple[Instance, Instance]) -> None:
    one, two = pair
    await one.fail(3)
    await asyncio.sleep(SETTINGS.cooldown_s + 0.05)
    ticket = await one.breaker.admit(5)
    assert ticket
    one.breaker.failed(ticket, "still down")
    await one.shared.settled()
    await two.shared.sync()
    for instance in (one, two):
        view = instance.breaker.view()
        assert view.state is CircuitState.OPEN
        assert SETTINGS.cooldown_s < view.retry_in_s <= 2 * SETTINGS.cooldown_s  # doubled, from now


async def test_a_successful_probe_closes_it_everywhere(pair: tuple[Instance, Instance]) -> None:
    one, two = pair
    await one.fail(3)
    await two.shared.sync()
    await asyncio.sleep(SETTINGS.cooldown_s + 0.05)
    ticket = await two.breaker.admit(5)
    assert ticket
    two.breaker.succeeded(ticket)
    await two.shared.settled()
    await one.shared.sync()
    assert one.breaker.state is CircuitState.CLOSED and await one.breaker.admit(1) == 0


async def test_the_background_sync_spreads_the_state(pair: tuple[Instance, Instance]) -> None:
    one, two = pair
    two.shared.start()
    await one.fail(3)
    for _ in range(40):
        if two.breaker.state is CircuitState.OPEN:
            break
        await asyncio.sleep(0.02)
    assert two.breaker.state is CircuitState.OPEN


async def test_without_redis_the_breaker_decides_in_process(caplog: pytest.LogCaptureFixture) -> None:
    client = connect_redis("redis://127.0.0.1:9/0")  # nothing listens there
    breaker = Breaker(LABEL, SETTINGS)
    shared = SharedBreakers(client, [breaker], prefix=f"test:{uuid.uuid4().hex}:")
    with caplog.at_level(logging.WARNING, "model_gateway.routing.breaker"):
        for _ in range(3):
            breaker.failed(0, "HTTP 500")
        await shared.settled()
        assert breaker.state is CircuitState.OPEN
        await asyncio.sleep(SETTINGS.cooldown_s + 0.05)
        assert await breaker.admit(5)  # the probe, decided here
    assert sum("not shared" in r.getMessage() for r in caplog.records) == 1  # said once, not per call
    await shared.close()
    await client.aclose()
