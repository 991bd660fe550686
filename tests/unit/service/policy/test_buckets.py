"""Token-bucket and budget arithmetic with a fake clock, and the memory store's all-or-nothing step."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from model_gateway.policy import buckets, budgets
from model_gateway.policy.limit_store import MemoryLimitStore, Plan


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rpm(limit: int, key: str = "k") -> buckets.Spec:
    return buckets.Spec.per_minute(key, limit, 1)


def test_a_full_bucket_admits_its_capacity_then_says_how_long_to_wait() -> None:
    spec, state, now = rpm(60), None, 0.0
    for _ in range(60):
        verdict = buckets.check([spec], [state], now)
        assert verdict.admitted
        state = buckets.Level(verdict.levels[0], now)
    refused = buckets.check([spec], [state], now)
    assert not refused.admitted and refused.refused_by == 0
    assert refused.retry_after == pytest.approx(1.0)  # 60 per minute: one a second
    assert buckets.check([spec], [state], now + 1.0).admitted


def test_refill_is_continuous_and_capped_at_capacity() -> None:
    empty = buckets.Level(0.0, 10.0)
    assert buckets.level_at(empty, 60, 1.0, 10.5) == pytest.approx(0.5)
    assert buckets.level_at(empty, 60, 1.0, 1000.0) == 60
    assert buckets.level_at(None, 60, 1.0, 0.0) == 60  # never seen: full
    assert buckets.level_at(empty, 60, 1.0, 9.0) == 0.0  # a clock that went back adds nothing
    assert buckets.seconds_to_full(15.0, 60, 1.0) == 45.0


def test_a_need_larger_than_the_bucket_passes_only_when_full_and_leaves_it_negative() -> None:
    spec = buckets.Spec.per_minute("t", 100, 250)
    assert spec.take == 100
    verdict = buckets.check([spec], [None], 0.0)
    assert verdict.admitted and verdict.levels == (0.0,)
    settled = buckets.settle(buckets.Level(0.0, 0.0), 100, spec.rate, spec.take - 250, 0.0)
    assert settled.level == -150  # the real use is charged: later calls wait for it
    assert buckets.check([buckets.Spec.per_minute("t", 100, 1)], [settled], 0.0).retry_after == pytest.approx(
        151 / (100 / 60)
    )


def test_settling_gives_back_what_was_over_reserved_but_never_past_capacity() -> None:
    assert buckets.settle(buckets.Level(10.0, 0.0), 100, 1.0, 50, 0.0).level == 60
    assert buckets.settle(buckets.Level(90.0, 0.0), 100, 1.0, 50, 0.0).level == 100
    assert buckets.settle(None, 100, 1.0, -30, 5.0) == buckets.Level(70, 5.0)


async def test_the_memory_store_takes_from_every_bucket_or_from_none() -> None:
    clock = Clock()
    store = MemoryLimitStore(clock)
    wide, narrow = rpm(10, "wide"), rpm(1, "narrow")
    assert (await store.admit(Plan([wide, narrow], []))).admitted
    refused = await store.admit(Plan([wide, narrow], []))
    assert not refused.admitted and refused.refused_by == 1
    assert store.levels["wide"].level == 9  # the refused call took nothing from `wide`
    clock.now += 60
    assert (await store.admit(Plan([wide, narrow], []))).admitted


@pytest.mark.parametrize(
    ("period", "at", "window_id", "ends_in"),
    [
        ("day", datetime(2025, 6, 1, 23, 0, tzinfo=UTC), "2025-06-01", 3600.0),
        ("month", datetime(2025, 6, 30, 12, 0, tzinfo=UTC), "2025-06", 12 * 3600.0),
        ("month", datetime(2025, 12, 31, 23, 59, tzinfo=UTC), "2025-12", 60.0),
        ("total", datetime(2025, 6, 1, tzinfo=UTC), "total", None),
    ],
)
def test_budget_periods_are_utc_calendar_periods(
    period: str, at: datetime, window_id: str, ends_in: float | None
) -> None:
    window = budgets.window(period, at.timestamp())
    assert (window.id, window.ends_in(at.timestamp())) == (window_id, ends_in)
    spec = budgets.Spec("k", 1.0, 0.1, window.ends_in(at.timestamp()))
    assert spec.ttl_s is None if ends_in is None else spec.ttl_s == int(ends_in) + 3600


def test_windows_are_worked_out_again_only_when_they_end() -> None:
    windows = budgets.Windows()
    end_of_day = datetime(2025, 6, 2, tzinfo=UTC).timestamp()
    first = windows.at("day", end_of_day - 10)
    assert windows.at("day", end_of_day - 1) is first
    assert windows.at("day", end_of_day).id == "2025-06-02"
    assert windows.at("total", 0) is windows.at("total", 1e12)


def test_a_budget_admits_while_anything_is_left_and_settles_estimate_for_cost() -> None:
    assert budgets.admits(9.99, 10) and not budgets.admits(10.0, 10)
    assert budgets.settled(5.0, estimate=2.0, cost=0.5) == 3.5
    assert budgets.settled(0.1, estimate=0.2, cost=0.0) == 0.0  # never below zero
    with pytest.raises(ValueError, match="week"):
        budgets.window("week", 0)


async def test_concurrent_reservations_overrun_a_budget_by_at_most_one_estimate() -> None:
    store = MemoryLimitStore(Clock())
    plan = Plan([], [budgets.Spec("b", limit=1.0, estimate=0.3, ends_in=None)])
    admitted = [await store.admit(plan) for _ in range(10)]
    assert sum(a.admitted for a in admitted) == 4  # 0, 0.3, 0.6, 0.9 are below 1.0
    assert store.used["b"] == pytest.approx(1.2) and store.used["b"] <= 1.0 + 0.3
    refused = admitted[-1]
    assert refused.refused_by == 0 and refused.used == pytest.approx(1.2)
    for _ in range(4):
        await store.settle(plan, [], [0.1])  # each cost less than its estimate
    assert store.used["b"] == pytest.approx(0.4)
    assert (await store.admit(plan)).admitted
