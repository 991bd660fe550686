"""CPU per call of each policy stage on the miss path, measured in process (`python -m bench.stages`).

The stages the benchmark's config builds (a key required, limits far above
reach, the in-memory response cache, pricing, and the record stage with the
access log and the SQLite usage ledger) run in a pipeline against a provider
that answers at once, each inside a stopwatch of this thread's CPU time
(enter and leave; the stopwatch's own cost taken off). Requests are
deterministic and all different, so the cache looks up and stores every one
(its miss path). The ledger's batched writes happen on its writer thread:
they are in the whole pipeline's figure (process CPU), not in the record
stage's.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import uvloop

from model_gateway.config import GatewayConfig, parse_config
from model_gateway.core.call import Call
from model_gateway.core.context import RequestContext
from model_gateway.core.pipeline import Pipeline
from model_gateway.core.stages import PassStage, Stage
from model_gateway.deadline import Deadline
from model_gateway.obs.access_log import AccessLog
from model_gateway.obs.ledger import Ledger
from model_gateway.obs.metrics import PolicyMetrics
from model_gateway.policy import policy_stages
from model_gateway.policy.auth import KeyTable
from model_gateway.providers.base import NO_SETTINGS, ModelSettings, Provider
from model_gateway.storage.database import open_database
from model_gateway.storage.keys import KeyStore
from model_gateway_common import heap
from modelgateway.v1 import gateway_pb2 as pb

KEY = "sk-bench-static-key-0123456789abcdef"
CONFIG = f"""
providers: {{up: {{kind: openai, base_url: "http://127.0.0.1:9/v1"}}}}
models:
  - name: bench
    deployments: [{{provider: up, model: bench}}]
    pricing: {{input_per_mtok: 0.15, output_per_mtok: 0.6}}
auth: {{keys: [{{name: bench, key: "{KEY}", rpm: 1000000000, tpm: 1000000000}}]}}
limits: {{gateway: {{rpm: 1000000000, tpm: 1000000000}}}}
"""
BUDGET_MS = 0.05  # the bound per stage


class Instant(Provider):
    """Answers every call at once with a fixed reply."""

    async def generate(
        self, request: pb.GenerateRequest, model: str, timeout: float, settings: ModelSettings = NO_SETTINGS
    ) -> pb.GenerateResponse:
        message = pb.Message(role=pb.ROLE_ASSISTANT, content=[pb.ContentPart(text="Hello!")])
        usage = pb.Usage(input_tokens=14, output_tokens=10, total_tokens=24)
        return pb.GenerateResponse(message=message, finish_reason=pb.FINISH_REASON_STOP, usage=usage)

    async def stream(
        self, request: pb.GenerateRequest, model: str, timeout: float, settings: ModelSettings = NO_SETTINGS
    ) -> AsyncIterator[pb.StreamChunk]:
        nothing: tuple[pb.StreamChunk, ...] = ()  # an async generator that yields nothing
        for chunk in nothing:
            yield chunk

    async def list_models(self, timeout: float) -> list[str]:
        return ["bench"]

    @property
    def address(self) -> str:
        return "in-process"


def _request(i: int) -> pb.GenerateRequest:
    message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=f"Say hello to the benchmark {i}")])
    sampling = pb.Sampling(temperature=0, max_tokens=16)
    return pb.GenerateRequest(model="bench", messages=[message], sampling=sampling)


class Timed:
    """A stage with a stopwatch: the CPU (this thread's) of its enter and leave."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.name = stage.name
        self.ns = 0

    async def enter(self, call: Call) -> None:
        started = time.thread_time_ns()
        try:
            await self.stage.enter(call)
        finally:
            self.ns += time.thread_time_ns() - started

    async def leave(self, call: Call) -> None:
        started = time.thread_time_ns()
        try:
            await self.stage.leave(call)
        finally:
            self.ns += time.thread_time_ns() - started


async def _run(pipeline: Pipeline, calls: int, offset: int) -> float:
    """CPU ms per call of the whole process (the ledger's writer thread included)."""
    metadata = (("x-request-id", "bench-stage"), ("authorization", f"Bearer {KEY}"))
    requests = [_request(offset + i) for i in range(calls)]
    started = time.process_time()
    for request in requests:
        await pipeline.generate(request, RequestContext.from_metadata(metadata, Deadline(30)))
    await asyncio.sleep(1.2)  # the ledger's writer flushes what these calls queued (flush_interval_s: 1)
    return (time.process_time() - started) * 1000.0 / calls


async def measure(calls: int = 20_000) -> list[tuple[str, float]]:
    """(what, CPU ms per call): each stage's own (enter + leave), the stopwatch's own cost
    taken off, then the whole pipeline per call."""
    config: GatewayConfig = parse_config(CONFIG)
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        database = await open_database(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        keys = KeyTable(config.auth, KeyStore(database))
        await keys.refresh()
        ledger = Ledger(database, config.usage)
        ledger.start()
        try:
            stages = policy_stages(
                config, sinks=[AccessLog(), ledger], metrics=PolicyMetrics(), keys=keys, public=False
            )
            timed = [Timed(stage) for stage in stages]
            empty = Timed(PassStage())
            pipeline = Pipeline(config, {"up": Instant("up", config.providers["up"])}, timed)
            await _run(pipeline, 1000, offset=-1000)  # warm-up
            heap.settle()  # as the servers do once started
            for stage in timed:
                stage.ns = 0
            whole = await _run(pipeline, calls, offset=0)
            probe = Call("Generate", RequestContext.from_metadata((), Deadline(1)), _request(0), "bench")
            for _ in range(calls):  # the stopwatch alone, around a stage that does nothing
                await empty.enter(probe)
                await empty.leave(probe)
            overhead = empty.ns / calls
            results = [(stage.name, max(0.0, stage.ns - overhead * calls) / calls / 1e6) for stage in timed]
            return [*results, ("whole pipeline", whole)]
        finally:
            await ledger.close()
            await database.close()


def main() -> int:
    logging.disable(logging.INFO)  # the access log's lines: formatted, not written (as at WARNING)
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    for name, cost in uvloop.run(measure(calls)):
        mark = "" if name.startswith("whole") else (" ok" if cost < BUDGET_MS else " OVER")
        print(f"{name:<24} {cost * 1000:8.1f} us per call{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
