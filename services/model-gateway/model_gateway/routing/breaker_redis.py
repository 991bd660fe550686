"""Breaker state shared through Redis, so every gateway instance skips the same sick deployment.

Each process keeps its breakers in memory (routing/breaker.py) and reads them
on the hot path without I/O. Redis holds, per deployment, a hash
`mgw:breaker:<provider/model>`: `until` (ms, Redis clock; 0: closed; in the
past: half-open), `cooldown` (ms), `streak` (consecutive failures across
instances), `last_at`, `probe` (lease end, ms) and `error`. Lua scripts
change it atomically, on Redis's clock (instances' clocks never compare):

- a failure adds to the shared streak and opens the breaker at `failures`,
  or at once when the instance's own error-rate window tripped (`force`);
  a failed probe re-opens it for twice the cooldown (at most the maximum);
- a success resets the shared streak (sent only when a streak is known),
  a successful probe closes it;
- a half-open breaker hands out one probe lease across all instances.

A background task reads every breaker's shared state each `breaker.sync_s`
(one round trip for all of them), so an instance learns of a breaker
another opened within that time, and of one it closed. Updates are sent
without waiting for them (a failed call is not slowed by Redis); a probe
lease is awaited (it is rare: once per cooldown). When Redis cannot be
reached the breakers go on in memory, per instance, and say so in the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from model_gateway.routing.breaker import Breaker, CircuitState

log = logging.getLogger("model_gateway.routing.breaker")

PREFIX = "mgw:breaker:"
_WARN_EVERY_S = 30.0

# Shared by the scripts: the Redis clock in ms, the hash's fields, and the reply
# {state, remaining_ms, streak, error, cooldown_ms, version} with state 0 closed, 1 open,
# 2 half-open. Every write bumps `ver`, so an instance never applies an older reply over a newer.
_HEAD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'until', 'cooldown', 'streak', 'last_at', 'probe', 'error', 'ver')
local untl = tonumber(h[1]) or 0
local cooldown = tonumber(h[2]) or 0
local streak = tonumber(h[3]) or 0
local last_at = tonumber(h[4]) or 0
local probe = tonumber(h[5]) or 0
local ver = tonumber(h[7]) or 0
local function bump()
  ver = redis.call('HINCRBY', KEYS[1], 'ver', 1)
end
local function reply()
  local state = 0
  if untl > now then state = 1 elseif untl > 0 then state = 2 end
  local err = redis.call('HGET', KEYS[1], 'error') or ''
  return {state, math.max(untl - now, 0), streak, err, cooldown, ver}
end
"""

# ARGV: failures, window_ms, cooldown_ms, max_cooldown_ms, force, probe, error, ttl_ms
_FAIL = (
    _HEAD
    + """
redis.call('HSET', KEYS[1], 'error', ARGV[7])
bump()
local base = tonumber(ARGV[3])
if ARGV[6] == '1' then
  if untl > 0 and untl <= now then
    cooldown = math.min(math.max(cooldown * 2, base), tonumber(ARGV[4]))
    untl = now + cooldown
    streak = 0
    redis.call('HSET', KEYS[1], 'until', untl, 'cooldown', cooldown, 'streak', 0, 'probe', 0)
  end
elseif untl == 0 then
  if now - last_at > tonumber(ARGV[2]) then streak = 0 end
  streak = streak + 1
  if streak >= tonumber(ARGV[1]) or ARGV[5] == '1' then
    cooldown = base
    untl = now + cooldown
    streak = 0
    redis.call('HSET', KEYS[1], 'until', untl, 'cooldown', cooldown, 'streak', 0, 'probe', 0, 'last_at', now)
  else
    redis.call('HSET', KEYS[1], 'streak', streak, 'last_at', now)
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return reply()
"""
)

# ARGV: probe ('1': the probe succeeded), ttl_ms
_OK = (
    _HEAD
    + """
if ARGV[1] == '1' then
  if untl > 0 and untl <= now then
    untl = 0
    streak = 0
    redis.call('HSET', KEYS[1], 'until', 0, 'cooldown', 0, 'streak', 0, 'probe', 0)
    bump()
  end
elseif untl == 0 and streak > 0 then
  streak = 0
  redis.call('HSET', KEYS[1], 'streak', 0)
  bump()
end
return reply()
"""
)

# ARGV: lease_ms. Reply state 3: this caller holds the probe lease; 4: another one does.
_PROBE = (
    _HEAD
    + """
if untl == 0 or untl > now then return reply() end
if probe > now then return {4, 0, streak, '', cooldown, ver} end
redis.call('HSET', KEYS[1], 'probe', now + tonumber(ARGV[1]))
return {3, 0, streak, '', cooldown, ver}
"""
)

_RELEASE = """
redis.call('HSET', KEYS[1], 'probe', 0)
return 1
"""

# KEYS: every breaker's hash; a reply per key.
_SNAPSHOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  local h = redis.call('HMGET', key, 'until', 'streak', 'error', 'cooldown', 'ver')
  local untl = tonumber(h[1]) or 0
  local state = 0
  if untl > now then state = 1 elseif untl > 0 then state = 2 end
  local streak, cooldown, ver = tonumber(h[2]) or 0, tonumber(h[4]) or 0, tonumber(h[5]) or 0
  out[i] = {state, math.max(untl - now, 0), streak, h[3] or '', cooldown, ver}
end
return out
"""

_STATES = {0: CircuitState.CLOSED, 1: CircuitState.OPEN, 2: CircuitState.HALF_OPEN}


class SharedBreakers:
    """Connects a process's breakers to their shared state in Redis."""

    def __init__(self, redis: Redis, breakers: Iterable[Breaker], prefix: str = PREFIX) -> None:
        self.redis, self.prefix = redis, prefix
        self.breakers = list(breakers)
        for breaker in self.breakers:
            breaker.shared = self
        self._fail = redis.register_script(_FAIL)
        self._ok = redis.register_script(_OK)
        self._probe = redis.register_script(_PROBE)
        self._release = redis.register_script(_RELEASE)
        self._snapshot = redis.register_script(_SNAPSHOT)
        self._pending: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._warned_at = -_WARN_EVERY_S
        self.reachable = True  # False since Redis last failed to answer: breakers decide alone

    def key(self, breaker: Breaker) -> str:
        return self.prefix + breaker.label

    # --- the background sync ------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None and self.breakers:
            self._task = asyncio.get_running_loop().create_task(self._sync_forever())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _sync_forever(self) -> None:
        interval = min(breaker.settings.sync_s for breaker in self.breakers)
        while True:
            await self.sync()
            await asyncio.sleep(interval)

    async def sync(self) -> None:
        """Read every breaker's shared state (one round trip) and apply it here."""
        try:
            replies = await self._snapshot(keys=[self.key(b) for b in self.breakers])
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return
        for breaker, reply in zip(self.breakers, replies, strict=True):
            self._apply(breaker, reply)

    async def settled(self) -> None:
        """Wait for the updates sent so far (tests, and a clean stop)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # --- what the breakers call --------------------------------------------------------------

    def push(self, breaker: Breaker, op: str, probe: bool = False, force: bool = False) -> None:
        """Send an outcome without waiting for it; its reply updates the breaker when it comes."""
        task = asyncio.get_running_loop().create_task(self._send(breaker, op, probe, force))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, breaker: Breaker, op: str, probe: bool, force: bool) -> None:
        key, settings = self.key(breaker), breaker.settings
        ttl_ms = int((settings.max_cooldown_s + settings.window_s) * 2000)
        try:
            if op == "fail":
                args: list[Any] = [
                    settings.failures,
                    int(settings.window_s * 1000),
                    int(settings.cooldown_s * 1000),
                    int(settings.max_cooldown_s * 1000),
                    int(force),
                    int(probe),
                    breaker.last_error[:500],
                    ttl_ms,
                ]
                reply = await self._fail(keys=[key], args=args)
            elif op == "ok":
                reply = await self._ok(keys=[key], args=[int(probe), ttl_ms])
            else:
                await self._release(keys=[key])
                return
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            if op == "fail":
                breaker.trip_here()  # the streak Redis would have counted, counted here
            return
        self._apply(breaker, reply)

    async def admit(self, breaker: Breaker, lease_s: float) -> int | None:
        """Admission of a breaker that is not closed here: open → skip; half-open → one probe for all."""
        now = breaker.clock()
        if breaker.state is CircuitState.OPEN and now < breaker.open_until:
            return None
        if breaker.probe and now < breaker.probe_until:
            return None  # a probe is in flight here, or another instance holds the lease
        try:
            reply = await self._probe(keys=[self.key(breaker)], args=[max(1, int(lease_s * 1000))])
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return breaker.admit_here(lease_s)
        state = int(reply[0])
        if state == 3:
            return breaker.take_probe(breaker.clock(), lease_s)
        if state == 4:  # another instance probes: ask again at the next sync at the latest
            breaker.probe, breaker.probe_until = -1, breaker.clock() + min(lease_s, breaker.settings.sync_s)
            return None
        self._apply(breaker, reply)
        return 0 if breaker.closed else None

    # --- applying shared state here ----------------------------------------------------------

    def _apply(self, breaker: Breaker, reply: list[Any]) -> None:
        self.reachable = True
        version = int(reply[5])
        if version < breaker.shared_version:
            return  # an older state than one already applied (replies can overtake each other)
        breaker.shared_version = version
        state, streak, error = _STATES[int(reply[0])], int(reply[2]), reply[3]
        if error:
            breaker.last_error = error.decode() if isinstance(error, bytes) else str(error)
        breaker.mirror(state, int(reply[1]) / 1000, int(reply[4]) / 1000, streak)

    def _unreachable(self, exc: BaseException) -> None:
        self.reachable = False
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning("breaker state is not shared (Redis: %s); deciding in this process", exc)
