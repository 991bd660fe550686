"""The REST port's guard against slow clients: a deadline for every request head.

uvicorn arms no timer on a new connection, and its keep-alive timer is
cancelled by any byte that arrives, so a client sending its head a byte at a
time (slowloris) holds a connection for as long as it likes; a few hundred
such clients hold every connection a process can take. Here the head must be
complete within `server.clients.header_timeout_s` of the connection opening
(or of the previous reply on a kept-alive connection), else the connection is
closed. The body has its own bound (`bodies.read_json`, 408).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from model_gateway_bridge.drain import DRAIN


class HeadDeadlineProtocol(HttpToolsProtocol):
    head_timeout_s: float = 10.0
    grace_s: float = 10.0  # uvicorn's timeout_graceful_shutdown: the drain cuts just before it
    _head_timer: asyncio.TimerHandle | None = None

    def shutdown(self) -> None:
        """uvicorn is stopping: requests in flight get the grace, then the drain ends them clearly."""
        DRAIN.begin(self.grace_s)
        super().shutdown()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()  # the next request's head, on a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def protocol_with_head_deadline(seconds: float, grace_s: float = 10.0) -> type[HeadDeadlineProtocol]:
    attributes: dict[str, Any] = {"head_timeout_s": seconds, "grace_s": grace_s}
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), attributes)
