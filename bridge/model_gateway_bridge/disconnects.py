"""A client that goes away before its answer has started cancels the handler, and so the upstream call.

Starlette runs a handler to its end even when the client has left: a unary
call would keep its gRPC call (and the provider's HTTP request, and the
tokens it costs) going for nobody. Once the request body has been read, this
middleware waits for `http.disconnect` beside the handler; if it comes before
the response has started, the handler is cancelled (the gRPC call with it).
After the response has started, streams see the disconnect themselves: the
message is kept and handed to whoever asks `receive()` next. At the end of a
stop's grace period, a call whose reply has not started is cut here and
answered 503 saying so (drain.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_gateway_bridge.drain import DRAIN, shutting_down
from model_gateway_bridge.surfaces.registry import SURFACES


class CancelOnDisconnect:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        state: dict[str, Any] = {"started": False, "cancelled": False, "watch": None, "shutdown": False}
        DRAIN.requests[task] = state  # a stop's end-of-grace cut answers it 503 (drain.py)

        async def watch() -> Message:
            message = await receive()  # http.disconnect: the client left, or the response is done
            if message["type"] == "http.disconnect" and not state["started"]:
                state["cancelled"] = True
                task.cancel()
            return message

        async def receive_body() -> Message:
            if state["watch"] is not None:
                return await asyncio.shield(state["watch"])
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                state["watch"] = asyncio.ensure_future(watch())
            elif message["type"] == "http.disconnect":
                state["started"] = True  # nothing left to cancel for
            return message

        async def send_watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, receive_body, send_watched)
        except asyncio.CancelledError:
            if state["shutdown"] and not state["started"]:
                task.uncancel()  # cut by the drain: answered in the surface's shape, saying why
                response = SURFACES.of(scope).render_error(shutting_down())
                await response(scope, receive, send_watched)
                return
            if not state["cancelled"]:
                raise
            task.uncancel()  # our own cancel: the client is gone, nobody to answer
            # Seen by the access log and metrics as 499 (client closed request); the server drops it.
            await send({"type": "http.response.start", "status": 499, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        finally:
            DRAIN.requests.pop(task, None)
            watcher = state["watch"]
            if watcher is not None and not watcher.done():
                watcher.cancel()
