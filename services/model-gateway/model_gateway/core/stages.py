"""The stage list every call goes through:

    authenticate → limit → cache → [route → call with failover] → price → record

Each stage is entered in order before the call is routed (a stage may refuse
the call by raising a GatewayError, or answer it by setting `call.answer`),
and left in the same order once its outcome is known — for a unary call when
the reply is ready, for a stream when the final chunk arrives, and on any
failure or cancellation — so a limiter can settle what it reserved and the
record stage sees every call exactly once. Stages that do not exist yet are
named no-ops: the pipeline skips hooks a stage does not override.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from model_gateway.core.call import Call
from model_gateway.core.observers import OutcomeSink

log = logging.getLogger("model_gateway.stages")

ORDER = ("authenticate", "limit", "cache", "price", "record")  # route and call sit between cache and price


class Stage(Protocol):
    name: str

    async def enter(self, call: Call) -> None:
        """Before routing: raise to refuse the call, or set `call.answer` to answer it."""

    async def leave(self, call: Call) -> None:
        """Once the outcome is known (answered, failed or abandoned); must not raise."""


class PassStage:
    """A stage that does nothing: the base of the named no-ops and of stages with one hook."""

    name = "pass"

    async def enter(self, call: Call) -> None:
        return None

    async def leave(self, call: Call) -> None:
        return None


class Record(PassStage):
    """The last stage: hands every finished call to the outcome sinks (access log, metrics, ledger)."""

    name = "record"

    def __init__(self, sinks: Sequence[OutcomeSink]) -> None:
        self.sinks = tuple(sinks)

    async def leave(self, call: Call) -> None:
        for sink in self.sinks:
            try:
                sink.record(call)
            except Exception:  # a broken sink must not fail a served call
                log.exception("outcome sink %s failed", type(sink).__name__)


class StageList:
    """The stages in order, with the hooks each actually implements picked out once."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        names = [stage.name for stage in stages]
        known = [name for name in ORDER if name in names]
        if names != known:
            raise ValueError(f"stages must come in the order {' → '.join(ORDER)}, got {' → '.join(names)}")
        self.stages = tuple(stages)
        self._entering = tuple(s for s in stages if _overrides(s, "enter"))
        self._leaving = tuple(s for s in stages if _overrides(s, "leave"))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)

    async def enter(self, call: Call) -> None:
        for stage in self._entering:
            await stage.enter(call)
            if call.answer is not None:
                return

    async def leave(self, call: Call) -> None:
        for stage in self._leaving:
            try:
                await stage.leave(call)
            except Exception:
                log.exception("stage %s failed while leaving", stage.name)


def _overrides(stage: Stage, hook: str) -> bool:
    return getattr(type(stage), hook, None) is not getattr(PassStage, hook)
