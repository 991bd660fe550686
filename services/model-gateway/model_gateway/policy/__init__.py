"""Policy stages: authenticate, limit, cache, price — one file each, in the stage list's order.

`policy_stages` builds the list the pipeline runs (see core/stages.py);
stages that do not exist yet are named no-ops.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from model_gateway.config import GatewayConfig
from model_gateway.core.call import Call
from model_gateway.core.observers import OutcomeSink
from model_gateway.core.stages import Record, Stage
from model_gateway.policy.auth import Authenticate, KeyTable
from model_gateway.policy.cache import cache_stage
from model_gateway.policy.cache_answers import assemble
from model_gateway.policy.limits import limit_stage
from model_gateway.policy.price import Price
from model_gateway.policy.signals import NO_METRICS, PolicyMetrics
from modelgateway.v1 import gateway_pb2 as pb


class RecordWithContent(Record):
    """The record stage when `usage.capture_content` is on: a stream keeps its chunks, so the
    sinks (the ledger) see its whole answer in `call.response`, as they do a unary call's."""

    def __init__(self, sinks: Sequence[OutcomeSink]) -> None:
        super().__init__(sinks)
        self._streams: dict[int, list[pb.StreamChunk]] = {}

    async def enter(self, call: Call) -> None:
        if call.rpc == "StreamGenerate":
            if call.chunks is None:
                call.chunks = []  # the pipeline collects the stream's chunks (shared with the cache)
            self._streams[id(call)] = call.chunks

    async def leave(self, call: Call) -> None:
        chunks = self._streams.pop(id(call), None)
        if chunks and call.response is None:
            call.response = assemble(chunks)
        await super().leave(call)


def policy_stages(
    config: GatewayConfig,
    sinks: Sequence[OutcomeSink] = (),
    redis: Redis | None = None,  # storage.redis: limits and cache shared by every instance
    metrics: PolicyMetrics = NO_METRICS,
    keys: KeyTable | None = None,
    public: bool = False,
) -> list[Stage]:
    """`keys`: the key table (the config's keys only when None); `public`: bound beyond loopback."""
    return [
        Authenticate(config, keys, public),
        limit_stage(config, redis, metrics),
        cache_stage(config.cache, redis, metrics),
        Price(),
        RecordWithContent(sinks) if config.usage.capture_content else Record(sinks),
    ]
