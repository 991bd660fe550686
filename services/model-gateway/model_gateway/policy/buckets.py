"""Token-bucket arithmetic, pure: no clock, no store, no I/O.

A bucket of `capacity` refills continuously at `rate` per second (a limit
per minute: capacity = limit, rate = limit / 60). A call is admitted when
every bucket it needs holds what it asks for — all or nothing — and then
takes it from each. A request larger than a bucket's capacity may pass
when the bucket is full (it would never pass otherwise) and leaves the
bucket below zero. Settling gives back what was over-reserved (never past
capacity), or takes what was used beyond the reservation (the level may go
negative: later calls wait for it).

The memory store (limit_store.py) runs these functions; the Redis store
runs the same steps in one Lua script, so both behave alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import inf


@dataclass(frozen=True, slots=True)
class Spec:
    """One bucket a call needs: its store key, its size and speed, what the call needs and takes."""

    key: str
    capacity: float
    rate: float  # units per second
    need: float
    take: float  # what admission takes: the need, or a whole full bucket when the need is larger

    @classmethod
    def per_minute(cls, key: str, limit: int, need: float) -> Spec:
        return cls(key, float(limit), limit / 60.0, need, min(need, float(limit)))


@dataclass(frozen=True, slots=True)
class Level:
    """A bucket's stored state: its level at `stamp` (seconds, the store's clock)."""

    level: float
    stamp: float


def level_at(state: Level | None, capacity: float, rate: float, now: float) -> float:
    """The level at `now`: a bucket never seen (or expired) is full."""
    if state is None:
        return capacity
    return min(capacity, state.level + max(0.0, now - state.stamp) * rate)


def wait_for(level: float, take: float, rate: float) -> float:
    """Seconds until `level` reaches `take` (0 when it already has)."""
    if level >= take:
        return 0.0
    return (take - level) / rate if rate > 0 else inf


def seconds_to_full(level: float, capacity: float, rate: float) -> float:
    return max(0.0, capacity - level) / rate if rate > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one admission over several buckets."""

    admitted: bool
    levels: tuple[float, ...]  # admitted: each bucket's level after taking; refused: as it is
    refused_by: int = -1  # the index of the first bucket that was short
    retry_after: float = 0.0  # seconds until that bucket holds enough


def check(specs: Sequence[Spec], states: Sequence[Level | None], now: float) -> Verdict:
    """Whether every bucket holds what the call takes, and the levels once it has taken it.

    Pure: the store writes `Level(level, now)` for each bucket when it reserves.
    """
    after = []
    for i, spec in enumerate(specs):
        level = level_at(states[i], spec.capacity, spec.rate, now)
        if level < spec.take:
            levels = tuple(
                level_at(state, s.capacity, s.rate, now) for s, state in zip(specs, states, strict=True)
            )
            return Verdict(False, levels, i, wait_for(level, spec.take, spec.rate))
        after.append(level - spec.take)
    return Verdict(True, tuple(after))


def settle(state: Level | None, capacity: float, rate: float, give_back: float, now: float) -> Level:
    """The bucket once `give_back` is returned to it (negative: taken), capped at capacity."""
    return Level(min(capacity, level_at(state, capacity, rate, now) + give_back), now)
