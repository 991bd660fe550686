"""Cache: answer a repeated request from the response cache, before it is routed.

Exact match on the canonical request's hash (cache_key.py), in memory or in
Redis (cache_store.py). Only deterministic requests (temperature 0 or a
seed) unless `cache.only_deterministic` is off. The client decides per
request with GenerateRequest.cache_control — `no_cache`: do not answer from
the cache but keep the fresh answer; `no_store`: neither — or with the
`x-gateway-cache: bypass` metadata (as no_store).

A hit answers the call (`call.answer`): the route says `cache_hit` and
`cache: "hit"`, the cost is 0 and `call.saved_usd` what the answer cost when
it was made; a stream replays it as deltas and a final chunk. A miss keeps
the answer when the call ends well (a unary reply, or a stream's chunks
assembled); errors and answers that finished with an error are never kept.
Each call's verdict — hit, miss or bypass — goes to the metrics and to the
caller (`x-gateway-cache`).
"""

from __future__ import annotations

import logging
import os
import time

from redis.asyncio import Redis

from model_gateway.cache_config import CacheConfig
from model_gateway.core.call import UNKNOWN, Call
from model_gateway.core.stages import PassStage
from model_gateway.policy.cache_answers import assemble
from model_gateway.policy.cache_key import cache_key, deterministic
from model_gateway.policy.cache_store import CacheStore, CacheUnavailable, Entry, MemoryCache, RedisCache
from model_gateway.policy.signals import NO_METRICS, CacheOutcome, PolicyMetrics
from model_gateway.pricing import cost_of
from model_gateway_common.route_headers import CACHE_HEADER
from modelgateway.v1 import gateway_pb2 as pb

log = logging.getLogger("model_gateway.cache")

WARN_EVERY_S = 10.0
_GENERATE = frozenset({"Generate", "StreamGenerate"})


class NoCache(PassStage):
    """`cache.enabled: false`: a named no-op, which costs a call nothing."""

    name = "cache"


class ResponseCache(PassStage):
    name = "cache"

    def __init__(
        self, config: CacheConfig, store: CacheStore | None = None, metrics: PolicyMetrics = NO_METRICS
    ) -> None:
        self.store: CacheStore = store or MemoryCache(config.max_entries, config.ttl_s)
        self.only_deterministic = config.only_deterministic
        self.per_key = config.per_key
        self.metrics = metrics
        self._keys: dict[int, str] = {}  # calls that missed (or skipped the lookup): where to keep the answer
        self._warned = 0.0

    def _verdict(self, call: Call, outcome: CacheOutcome) -> None:
        call.ctx.cache = outcome
        self.metrics.cache(outcome)

    async def enter(self, call: Call) -> None:
        request = call.request
        if call.rpc not in _GENERATE or not isinstance(request, pb.GenerateRequest):
            return
        control = request.cache_control
        if (
            control.no_store
            or call.model_label == UNKNOWN
            or (self.only_deterministic and not deterministic(request))
            or call.ctx.client.get(CACHE_HEADER) == "bypass"
        ):
            self._verdict(call, "bypass")
            return
        key = cache_key(request, call.model_label, call.ctx.principal.name if self.per_key else "")
        outcome: CacheOutcome = "bypass"
        if not control.no_cache:
            try:
                entry = await self.store.get(key)
            except CacheUnavailable as exc:
                self._failed("lookup", exc)
                self._verdict(call, "bypass")
                return
            if entry is not None:
                self._answer(call, request, entry)
                return
            outcome = "miss"
        self._verdict(call, outcome)
        self._keys[id(call)] = key
        if call.rpc == "StreamGenerate":
            call.chunks = []  # the pipeline collects the stream's chunks for us

    def _answer(self, call: Call, request: pb.GenerateRequest, entry: Entry) -> None:
        answer = pb.GenerateResponse.FromString(entry.answer)
        answer.id = f"chatcmpl-{os.urandom(12).hex()}"
        answer.model = request.model
        answer.created = int(time.time())
        # The original call's timings are not this one's: a hit took no upstream time (zeros, present).
        answer.ClearField("timings")
        answer.timings.SetInParent()
        route = answer.route
        route.requested_model, route.cache_hit, route.cache = request.model, True, "hit"
        call.answer = answer
        call.cache_hit = True
        call.saved_usd = entry.cost_usd
        call.cost = pb.Cost()
        call.answered(route, answer.usage)
        self._verdict(call, "hit")

    async def leave(self, call: Call) -> None:
        key = self._keys.pop(id(call), None)
        if key is None:
            return
        chunks, call.chunks = call.chunks, None
        if call.error is not None or call.usage is None:
            return
        answer = call.response if chunks is None else assemble(chunks)
        if answer is None or answer.finish_reason == pb.FINISH_REASON_ERROR:
            return
        cost = cost_of(call.served_by.model.pricing, call.usage).total_usd if call.served_by else 0.0
        try:
            await self.store.put(key, Entry(answer.SerializeToString(), cost))
        except CacheUnavailable as exc:
            self._failed("store", exc)

    def _failed(self, step: str, exc: CacheUnavailable) -> None:
        self.metrics.store_error("cache")
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY_S:
            self._warned = now
            log.warning("response cache unreachable (%s: %s): calls go to the upstream", step, exc)


def cache_stage(config: CacheConfig, redis: Redis | None, metrics: PolicyMetrics = NO_METRICS) -> PassStage:
    """The cache stage on the shared Redis (storage.redis) or in memory; a no-op when disabled."""
    if not config.enabled:
        return NoCache()
    store = RedisCache(redis, config.ttl_s) if redis is not None else None
    return ResponseCache(config, store, metrics)
