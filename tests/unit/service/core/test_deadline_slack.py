"""An upstream timer that fires a few milliseconds before the call's deadline is still the deadline.

uvloop's clock is cached per loop turn, so aiohttp's timeout (the attempt's
bound, set from what was left of the call) can fire just before the call's
own Deadline passes; the call must still end DEADLINE_EXCEEDED, not as that
route's UNAVAILABLE "timed out" (seen in the integration suite under load).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
import pytest

from model_gateway.config import parse_config
from model_gateway.core.context import RequestContext
from model_gateway.core.pipeline import Pipeline
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import ScriptedProvider

CONFIG = parse_config(
    """
providers: {a: {kind: openai}}
models: [{name: solo, deployments: [{provider: a, model: m}]}]
"""
)
EARLY = "early-timeout"


@dataclass
class EarlyTimer(ScriptedProvider):
    """Times out 5 ms before the bound it was given, as a timer on a stale clock does."""

    async def _delay(self, step: object, timeout: float) -> None:
        if step == EARLY:
            await asyncio.sleep(max(0.0, timeout - 0.005))
            raise GatewayError(grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_TIMEOUT, "timed out")
        await super()._delay(step, timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
async def test_a_timeout_just_before_the_deadline_is_deadline_exceeded(stream: bool) -> None:
    provider = EarlyTimer("a")
    provider.script = {"m": [EARLY, EARLY]}  # type: ignore[list-item]
    gateway = Pipeline(CONFIG, {"a": provider})
    message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hi")])
    request = pb.GenerateRequest(model="solo", messages=[message])
    ctx = RequestContext.from_metadata((), Deadline(0.3))
    with pytest.raises(GatewayError) as raised:
        if stream:
            await gateway.stream(request, ctx)
        else:
            await gateway.generate(request, ctx)
    assert raised.value.code == grpc.StatusCode.DEADLINE_EXCEEDED, raised.value.message
    assert "timed out" in raised.value.message  # the last failure is still named
