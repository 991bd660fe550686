"""A provider that plays a script, in process: for table-driven tests of core (failover, stages).

Each upstream model name has a list of steps, one per call: a GatewayError to
raise before anything is produced, `CUT` to fail a stream after its first
chunk, or `OK` to answer (two deltas and a final chunk when streaming). A
model with no script answers OK. Every call is logged with the seconds it was
given, so a test can check the deadline each attempt saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.base import NO_SETTINGS, ModelSettings, Provider
from modelgateway.v1 import gateway_pb2 as pb

OK = "ok"
CUT = "cut"
HANG = "hang"  # waits out the timeout it was given, then times out as an upstream would
SLOW_FAIL = "slow-fail"  # 0.1 s, then unavailable
USAGE = pb.Usage(input_tokens=3, output_tokens=5)

Step = GatewayError | str


def unavailable(message: str = "down") -> GatewayError:
    return GatewayError(grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE, message)


def rate_limited(retry_after: float | None) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.RESOURCE_EXHAUSTED, Reason.RATE_LIMITED, "slow down", retry_after=retry_after
    )


def bad_request(message: str = "bad") -> GatewayError:
    return GatewayError(grpc.StatusCode.INVALID_ARGUMENT, Reason.UPSTREAM_BAD_REQUEST, message)


@dataclass
class Logged:
    model: str
    timeout: float
    settings: ModelSettings


@dataclass
class ScriptedProvider(Provider):
    name: str
    script: dict[str, list[Step]] = field(default_factory=dict)
    calls: list[Logged] = field(default_factory=list)
    closed_streams: int = 0
    journal: list[str] | None = None  # shared by several providers: the order of all their calls
    counts: dict[str, int | GatewayError] | None = None  # count_tokens answers by model; None: cannot count

    def __post_init__(self) -> None:
        super().__init__(self.name, ProviderConfig(kind="openai", base_url="http://127.0.0.1:9/v1"))

    def _next(self, model: str, timeout: float, settings: ModelSettings) -> Step:
        self.calls.append(Logged(model, timeout, settings))
        if self.journal is not None:
            self.journal.append(model)
        steps = self.script.get(model)
        return steps.pop(0) if steps else OK

    async def _delay(self, step: Step, timeout: float) -> None:
        if step == HANG:
            await asyncio.sleep(timeout)
            raise GatewayError(grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_TIMEOUT, "timed out")
        if step == SLOW_FAIL:
            await asyncio.sleep(0.1)
            raise unavailable("slow and down")

    async def generate(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.GenerateResponse:
        step = self._next(model, timeout, settings)
        if isinstance(step, GatewayError):
            raise step
        await self._delay(step, timeout)
        message = pb.Message(role=pb.ROLE_ASSISTANT, content=[pb.ContentPart(text=f"from {model}")])
        return pb.GenerateResponse(message=message, finish_reason=pb.FINISH_REASON_STOP, usage=USAGE)

    async def stream(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> AsyncIterator[pb.StreamChunk]:
        step = self._next(model, timeout, settings)
        if isinstance(step, GatewayError):
            raise step
        await self._delay(step, timeout)
        try:
            yield pb.StreamChunk(delta=pb.Delta(text=f"from {model}"))
            if step == CUT:
                raise GatewayError(grpc.StatusCode.UNAVAILABLE, Reason.STREAM_INTERRUPTED, "cut")
            yield pb.StreamChunk(delta=pb.Delta(text="!"))
            yield pb.StreamChunk(final=pb.FinalChunk(finish_reason=pb.FINISH_REASON_STOP, usage=USAGE))
        finally:
            self.closed_streams += 1

    async def count_tokens(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> int | None:
        if self.counts is None:
            return None
        answer = self.counts.get(model, 0)
        if isinstance(answer, GatewayError):
            raise answer
        return answer

    async def list_models(self, timeout: float) -> list[str]:
        return list(self.script)

    @property
    def address(self) -> str:
        return "http://127.0.0.1:9"
