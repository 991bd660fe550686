"""The bridge's end of a graceful stop: calls that outlive the grace period end with a clear status.

uvicorn, stopping, lets requests in flight run for `server.shutdown_grace_s`
and then cancels them: a stream stops mid-body with no terminal frame and a
unary call gets no answer at all, a silent cut either way. A moment before
that, this cuts them itself: a stream's gateway call is cancelled and the
stream ends with the surface's own terminal error frame (streaming.py); a
call whose reply has not started is cancelled and answered 503 in the
surface's error shape (disconnects.py), both saying the gateway is shutting
down, so a client knows to retry elsewhere. The stop is noticed when uvicorn
asks each connection to shut down (slow_clients.HeadDeadlineProtocol).
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from model_gateway_bridge.errors import BridgeError

SHUTTING_DOWN = "the gateway is shutting down and cut this call at the end of its grace period; retry it"


def shutting_down() -> BridgeError:
    return BridgeError(503, SHUTTING_DOWN, code=grpc.StatusCode.UNAVAILABLE, reason="SHUTTING_DOWN")


class Drain:
    def __init__(self) -> None:
        self.cutting = False
        self.streams: set[Any] = set()  # OpenStream of bodies being sent
        self.cut_streams: set[Any] = set()
        self.requests: dict[asyncio.Task[Any], dict[str, Any]] = {}  # task -> its middleware state
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def begin(self, grace_s: float) -> None:
        """The server is stopping and gives requests `grace_s`: cut what is left a moment before."""
        loop = asyncio.get_running_loop()
        if self._timer is not None and self._loop is loop:
            return  # once per stop (every connection reports it)
        self._loop, self.cutting = loop, False
        delay = max(0.0, grace_s - min(0.25, grace_s / 4))
        self._timer = loop.call_later(delay, self.cut)

    def cut(self) -> None:
        self.cutting = True
        for opened in list(self.streams):
            self.cut_streams.add(opened)
            if opened.cancel is not None:
                opened.cancel()
        for task, state in list(self.requests.items()):
            if not state["started"] and not task.done():
                state["shutdown"] = True
                task.cancel()


DRAIN = Drain()
