"""Where cached answers live: an LRU in this process's memory, or Redis shared by every instance.

An entry is the answer's bytes (a serialized GenerateResponse) and what the
answer cost when it was made (what a hit saves). Memory is bounded by
`cache.max_entries` and `cache.ttl_s`; Redis by `ttl_s` (and its own
maxmemory policy). A Redis that fails is left alone for a second, then
tried again; meanwhile the cache is skipped and calls flow to the upstream.
"""

from __future__ import annotations

import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

PREFIX = "mg:cache:"
RETRY_STORE_AFTER_S = 1.0
MAX_ENTRY_BYTES = 1 << 20  # answers larger than this are not kept
_COST = struct.Struct("<d")


class CacheUnavailable(Exception):
    """The shared store failed: this call goes without the cache."""


@dataclass(frozen=True, slots=True)
class Entry:
    answer: bytes  # a serialized GenerateResponse
    cost_usd: float  # what it cost when it was made


class CacheStore(Protocol):
    async def get(self, key: str) -> Entry | None: ...

    async def put(self, key: str, entry: Entry) -> None: ...


class MemoryCache:
    """Least recently used first out, each entry for `ttl_s` at most; `clock` is injectable."""

    def __init__(self, max_entries: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, Entry]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> Entry | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires, entry = found
        if self.clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    async def put(self, key: str, entry: Entry) -> None:
        if len(entry.answer) > MAX_ENTRY_BYTES:
            return
        self._entries[key] = (self.clock() + self.ttl_s, entry)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class RedisCache:
    def __init__(self, redis: Redis, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.redis = redis
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.clock = clock
        self._down_until = 0.0

    def _check(self) -> None:
        if self.clock() < self._down_until:
            raise CacheUnavailable("Redis failed less than a second ago")

    def _failed(self, exc: BaseException) -> CacheUnavailable:
        self._down_until = self.clock() + RETRY_STORE_AFTER_S
        return CacheUnavailable(f"{type(exc).__name__}: {exc}")

    async def get(self, key: str) -> Entry | None:
        self._check()
        try:
            value = await self.redis.get(PREFIX + key)
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        if not isinstance(value, bytes) or len(value) < _COST.size:
            return None
        return Entry(value[_COST.size :], _COST.unpack_from(value)[0])

    async def put(self, key: str, entry: Entry) -> None:
        if len(entry.answer) > MAX_ENTRY_BYTES:
            return
        self._check()
        try:
            await self.redis.set(PREFIX + key, _COST.pack(entry.cost_usd) + entry.answer, px=self.ttl_ms)
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc
