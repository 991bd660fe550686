"""Graceful stop with a clear end: calls that outlive the grace period get UNAVAILABLE saying why.

grpc.aio's `server.stop(grace)` refuses new calls at once and, when the grace
runs out, cancels the rest with its own "Cancelling all calls". This
interceptor keeps the handler tasks in flight, so the server can cut them a
moment before that and end each with UNAVAILABLE "the gateway is shutting
down" (a status a client can act on: retry elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

SHUTTING_DOWN = "the gateway is shutting down and cut this call at the end of its grace period; retry it"


class Drain(aio.ServerInterceptor):  # type: ignore[type-arg]
    """Tracks the calls of the services named by `prefixes` (not health watches, which never end)."""

    def __init__(self, prefixes: tuple[str, ...] = ("/modelgateway.",)) -> None:
        self._prefixes = prefixes
        self._tasks: set[asyncio.Task[Any]] = set()
        self._cut: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(self._prefixes):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary), handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream), handler.request_deserializer, handler.response_serializer
            )
        return handler

    def _enter(self) -> asyncio.Task[Any]:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._idle.clear()
        return task

    def _leave(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._cut.discard(task)
        if not self._tasks:
            self._idle.set()

    def _unary(self, behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            task = self._enter()
            try:
                return await behaviour(request, context)
            except asyncio.CancelledError:
                if task in self._cut:
                    task.uncancel()
                    await context.abort(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)
                raise
            finally:
                self._leave(task)

        return call

    def _stream(self, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isasyncgenfunction(behaviour):
            return self._unary(behaviour)  # a coroutine writing with context.write()

        async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            task = self._enter()
            try:
                async for item in behaviour(request, context):
                    yield item
            except asyncio.CancelledError:
                if task in self._cut:
                    task.uncancel()
                    await context.abort(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)
                raise
            finally:
                self._leave(task)

        return call

    async def drain(self, grace_s: float) -> int:
        """Wait up to `grace_s` for the calls in flight; cut the rest (UNAVAILABLE). Returns how many."""
        try:
            await asyncio.wait_for(self._idle.wait(), grace_s)
            return 0
        except TimeoutError:
            pass
        left = list(self._tasks)
        for task in left:
            self._cut.add(task)
            task.cancel()
        # Each cut call sends its status as it unwinds.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), 1)
        return len(left)
