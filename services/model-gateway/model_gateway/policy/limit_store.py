"""Where rate-limit buckets and budget totals live: this process's memory, or Redis.

Both stores run one admission as one atomic step — check every bucket and
budget a call is held to, then reserve in all of them or none — and settle
a finished call in one more. In memory that is plain code with no await
in between; in Redis it is one Lua script (EVALSHA) per step, timed by the
Redis server's own clock, so any number of gateway processes sharing one
Redis admit exactly what one process would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from model_gateway.policy import buckets, budgets

log = logging.getLogger("model_gateway.limits")

PREFIX = "mg:limit:"
# After a failed Redis step, calls do not wait on Redis again for this long.
RETRY_STORE_AFTER_S = 1.0


class StoreUnavailable(Exception):
    """The store could not be reached; the limit stage fails open or closed as configured."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What one call is held to: the buckets it takes from and the budgets it spends."""

    buckets: Sequence[buckets.Spec]
    budgets: Sequence[budgets.Spec]


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    levels: tuple[float, ...]  # each bucket's level: after taking (admitted) or as it was (refused)
    refused_by: int = -1  # the refusing bucket's index, or len(buckets) + the refusing budget's index
    retry_after: float = 0.0  # a refusing bucket: seconds until it holds enough
    used: float = 0.0  # a refusing budget: what its period has used


class LimitStore(Protocol):
    async def admit(self, plan: Plan) -> Admission: ...

    async def settle(self, plan: Plan, give_back: Sequence[float], costs: Sequence[float]) -> None:
        """Per bucket what to give back (negative: take more); per budget the call's real cost."""


class MemoryLimitStore:
    """One process's buckets and budget totals; `clock` (seconds) is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.levels: dict[str, buckets.Level] = {}
        self.used: dict[str, float] = {}

    async def admit(self, plan: Plan) -> Admission:
        now = self.clock()
        verdict = buckets.check(plan.buckets, [self.levels.get(spec.key) for spec in plan.buckets], now)
        if not verdict.admitted:
            return Admission(False, verdict.levels, verdict.refused_by, verdict.retry_after)
        for j, budget in enumerate(plan.budgets):
            used = self.used.get(budget.key, 0.0)
            if not budgets.admits(used, budget.limit):
                return Admission(False, verdict.levels, len(plan.buckets) + j, used=used)
        for spec, level in zip(plan.buckets, verdict.levels, strict=True):
            self.levels[spec.key] = buckets.Level(level, now)
        for budget in plan.budgets:
            self.used[budget.key] = self.used.get(budget.key, 0.0) + budget.estimate
        return Admission(True, verdict.levels)

    async def settle(self, plan: Plan, give_back: Sequence[float], costs: Sequence[float]) -> None:
        now = self.clock()
        for spec, back in zip(plan.buckets, give_back, strict=True):
            if back:
                self.levels[spec.key] = buckets.settle(
                    self.levels.get(spec.key), spec.capacity, spec.rate, back, now
                )
        for budget, cost in zip(plan.budgets, costs, strict=True):
            used = self.used.get(budget.key, 0.0)
            self.used[budget.key] = budgets.settled(used, budget.estimate, cost)


# KEYS: the n bucket keys, then the m budget keys.
# ARGV: n, m; per bucket capacity, rate (per second), take; per budget limit, estimate, ttl (0: none).
# Returns {1, 0, level after taking...} or {0, refusing index (1-based), retry after, level or used}.
_ADMIT = """
if redis.replicate_commands then redis.replicate_commands() end  -- Redis < 5: TIME before writes
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n, m = tonumber(ARGV[1]), tonumber(ARGV[2])
local levels = {}
local function f(x) return string.format('%.17g', x) end
for i = 1, n do
  local a = 2 + (i - 1) * 3
  local cap, rate, take = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local s = redis.call('HMGET', KEYS[i], 'l', 't')
  local level = cap
  if s[1] then
    level = math.min(cap, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * rate)
  end
  if level < take then
    return {0, i, f((take - level) / rate), f(level)}
  end
  levels[i] = level - take
end
local b = 2 + n * 3
for j = 1, m do
  local limit = tonumber(ARGV[b + (j - 1) * 3 + 1])
  local used = tonumber(redis.call('GET', KEYS[n + j]) or '0')
  if used >= limit then
    return {0, n + j, '0', f(used)}
  end
end
local out = {1, 0}
for i = 1, n do
  local a = 2 + (i - 1) * 3
  local cap, rate = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  redis.call('HSET', KEYS[i], 'l', f(levels[i]), 't', f(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((cap - levels[i]) / rate * 1000) + 1000)
  out[#out + 1] = f(levels[i])
end
for j = 1, m do
  local o = b + (j - 1) * 3
  redis.call('INCRBYFLOAT', KEYS[n + j], ARGV[o + 2])
  local ttl = tonumber(ARGV[o + 3])
  if ttl > 0 then redis.call('EXPIRE', KEYS[n + j], ttl) end
end
return out
"""

# KEYS: the bucket keys to settle, then the budget keys.
# ARGV: n, m; per bucket capacity, rate, give back; per budget cost - estimate, ttl (0: none).
_SETTLE = """
if redis.replicate_commands then redis.replicate_commands() end  -- Redis < 5: TIME before writes
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n, m = tonumber(ARGV[1]), tonumber(ARGV[2])
local function f(x) return string.format('%.17g', x) end
for i = 1, n do
  local a = 2 + (i - 1) * 3
  local cap, rate, back = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local s = redis.call('HMGET', KEYS[i], 'l', 't')
  local level = cap
  if s[1] then
    level = math.min(cap, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * rate)
  end
  level = math.min(cap, level + back)
  redis.call('HSET', KEYS[i], 'l', f(level), 't', f(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((cap - level) / rate * 1000) + 1000)
end
local b = 2 + n * 3
for j = 1, m do
  local o = b + (j - 1) * 2
  redis.call('INCRBYFLOAT', KEYS[n + j], ARGV[o + 1])
  local ttl = tonumber(ARGV[o + 2])
  if ttl > 0 then redis.call('EXPIRE', KEYS[n + j], ttl) end
end
return 1
"""


class RedisLimitStore:
    """Buckets and budget totals in Redis, shared by every gateway process that uses it."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.monotonic) -> None:
        self.redis = redis
        self.clock = clock
        self._admit = redis.register_script(_ADMIT)
        self._settle = redis.register_script(_SETTLE)
        self._down_until = 0.0

    def _check(self) -> None:
        if self.clock() < self._down_until:
            raise StoreUnavailable("Redis failed less than a second ago")

    def _failed(self, exc: BaseException) -> StoreUnavailable:
        self._down_until = self.clock() + RETRY_STORE_AFTER_S
        return StoreUnavailable(f"{type(exc).__name__}: {exc}")

    async def admit(self, plan: Plan) -> Admission:
        self._check()
        keys = [PREFIX + s.key for s in plan.buckets] + [PREFIX + b.key for b in plan.budgets]
        args: list[float | int | str] = [len(plan.buckets), len(plan.budgets)]
        for spec in plan.buckets:
            args += [repr(spec.capacity), repr(spec.rate), repr(spec.take)]
        for budget in plan.budgets:
            args += [repr(budget.limit), repr(budget.estimate), budget.ttl_s or 0]
        try:
            reply = await self._admit(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        if int(reply[0]) == 1:
            return Admission(True, tuple(float(level) for level in reply[2:]))
        index = int(reply[1]) - 1
        if index < len(plan.buckets):
            # Only the refusing bucket's level is known; the others are reported full.
            levels = [s.capacity for s in plan.buckets]
            levels[index] = float(reply[3])
            return Admission(False, tuple(levels), index, float(reply[2]))
        return Admission(False, (), index, used=float(reply[3]))

    async def settle(self, plan: Plan, give_back: Sequence[float], costs: Sequence[float]) -> None:
        self._check()
        keys: list[str] = []
        bucket_args: list[float | int | str] = []
        for spec, back in zip(plan.buckets, give_back, strict=True):
            if back:
                keys.append(PREFIX + spec.key)
                bucket_args += [repr(spec.capacity), repr(spec.rate), repr(back)]
        settled = len(keys)
        budget_args: list[float | int | str] = []
        for budget, cost in zip(plan.budgets, costs, strict=True):
            keys.append(PREFIX + budget.key)
            budget_args += [repr(cost - budget.estimate), budget.ttl_s or 0]
        if not keys:
            return
        try:
            await self._settle(keys=keys, args=[settled, len(plan.budgets), *bucket_args, *budget_args])
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc
