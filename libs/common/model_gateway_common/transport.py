"""How the bridge calls the gateway: one small interface, two implementations.

The interface is the shape of the generated `ModelGateway` stub (Generate,
StreamGenerate, ListModels, GetModel, Health, Embed, CountTokens, GetUsage;
each taking the request message with `metadata=` and `timeout=`), so the
same request and response messages cross it, and a failure is the same
thing either way: a `grpc.aio.AioRpcError` with a status code, the details
and the trailing metadata (`grpc-status-details-bin`: a `google.rpc.Status`
with ErrorInfo and RetryInfo).

- **Over a channel** (the sidecar topology): the bridge's grpc.aio stub is
  the implementation (bridge/client.py).
- **In process** (`model-gateway up --topology inprocess`, in the spirit of
  grpc-gateway's `Register…HandlerServer`): `InProcessTransport` calls a
  `ModelGatewayServicer` in the same event loop, with no socket, no HTTP/2
  and no serialisation. A small servicer context stands in for grpc.aio's:
  `abort()` raises `TransportError` (an `AioRpcError`) carrying the code,
  details and trailing metadata, so the bridge maps it exactly as it maps a
  status from the wire; the deadline is the call's `timeout` (enforced, and
  what `time_remaining()` reports); `invocation_metadata()` is the call's
  metadata; a stream's `send_initial_metadata()` is kept for the caller's
  `initial_metadata()`; a caller that goes away cancels the servicer.

Traces keep their two services: given the bridge's tracer and the
gateway's, each call gets the bridge's CLIENT span and, under it, the
gateway's SERVER span, named and attributed as the gRPC instrumentation
names them, with the servicer running inside the server span.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NoReturn, Protocol, TypeVar

import grpc
from grpc import aio
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc

Metadata = Sequence[tuple[str, str | bytes]]
Request = TypeVar("Request")
Reply = TypeVar("Reply")

SERVICE = pb.DESCRIPTOR.services_by_name["ModelGateway"].full_name  # modelgateway.v1.ModelGateway
EOF: Any = aio.EOF  # type: ignore[attr-defined]  # what StreamCall.read() returns at the end of a stream


class StreamCall(Protocol):
    """A started StreamGenerate: read chunk by chunk (EOF at the end), or cancel it."""

    async def read(self) -> Any:
        """The next pb.StreamChunk, or EOF; raises AioRpcError when the call failed."""

    async def initial_metadata(self) -> Metadata | None:
        """What the gateway sent before its first chunk: the route and rate-limit headers."""

    def cancel(self) -> bool:
        """Ends the call now (the upstream request too); False once it had ended."""

    def __aiter__(self) -> AsyncIterator[pb.StreamChunk]: ...


class Transport(Protocol):
    """The calls the bridge makes. A failure raises grpc.aio.AioRpcError (TransportError in process)."""

    def Generate(
        self, request: pb.GenerateRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.GenerateResponse]: ...

    def StreamGenerate(
        self, request: pb.GenerateRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> StreamCall: ...

    def CountTokens(
        self, request: pb.GenerateRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.CountTokensResponse]: ...

    def ListModels(
        self, request: pb.ListModelsRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.ListModelsResponse]: ...

    def GetModel(
        self, request: pb.GetModelRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.Model]: ...

    def Health(
        self, request: pb.HealthRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.HealthResponse]: ...

    def Embed(
        self, request: pb.EmbedRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.EmbedResponse]: ...

    def GetUsage(
        self, request: pb.GetUsageRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.GetUsageResponse]: ...


class TransportError(aio.AioRpcError):
    """A call that ended with a non-OK status in process: what the wire would have carried."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing_metadata: Metadata = ()) -> None:
        super().__init__(code, aio.Metadata(), aio.Metadata(*trailing_metadata), details, None)


def _deadline_exceeded() -> TransportError:
    return TransportError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")


def _unexpected(exc: BaseException) -> TransportError:
    # grpc.aio's own words for a servicer that raised instead of aborting.
    return TransportError(grpc.StatusCode.UNKNOWN, f"Unexpected {type(exc)}: {exc}")


class InProcessContext:
    """grpc.aio.ServicerContext, as far as a servicer in the same process needs it."""

    __slots__ = ("_code", "_deadline", "_details", "_metadata", "_trailing", "initial")

    def __init__(self, metadata: Metadata | None, deadline: float | None) -> None:
        self._metadata = tuple(metadata) if metadata else ()
        self._deadline = deadline  # time.monotonic() based, or None
        self.initial: Metadata | None = None
        self._code: grpc.StatusCode | None = None
        self._details: str | None = None
        self._trailing: Metadata = ()

    def invocation_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._metadata

    def time_remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    async def send_initial_metadata(self, metadata: Metadata) -> None:
        self.initial = tuple(metadata)

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Metadata = ()
    ) -> NoReturn:
        raise TransportError(code, details, tuple(trailing_metadata) or self._trailing)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def set_trailing_metadata(self, metadata: Metadata) -> None:
        self._trailing = tuple(metadata)

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str | None:
        return self._details

    def trailing_metadata(self) -> Metadata:
        return self._trailing

    def peer(self) -> str:
        return "in-process"

    def cancelled(self) -> bool:
        return False

    def done(self) -> bool:
        return False

    def set_error(self) -> TransportError | None:
        """The status a handler set without aborting (set_code / set_details), as an error."""
        if self._code is None or self._code == grpc.StatusCode.OK:
            return None
        return TransportError(self._code, self._details or "", self._trailing)


class _Spans:
    """The bridge's CLIENT span and the gateway's SERVER span of one in-process call."""

    __slots__ = ("client", "current", "server")

    def __init__(self, client_tracer: trace.Tracer, server_tracer: trace.Tracer | None, method: str) -> None:
        name = f"/{SERVICE}/{method}"
        attributes = {
            "rpc.system": "grpc",
            "rpc.service": SERVICE,
            "rpc.method": method,
            "rpc.grpc.status_code": grpc.StatusCode.OK.value[0],
        }
        self.client = client_tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        self.server: trace.Span | None = None
        inner = trace.set_span_in_context(self.client)
        if server_tracer is not None:
            self.server = server_tracer.start_span(
                name, context=inner, kind=SpanKind.SERVER, attributes=attributes
            )
            inner = trace.set_span_in_context(self.server)
        self.current = inner  # the context the servicer runs in

    def end(self, error: BaseException | None = None) -> None:
        for span in (self.server, self.client):
            if span is None:
                continue
            if isinstance(error, aio.AioRpcError):
                span.set_attribute("rpc.grpc.status_code", error.code().value[0])
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error.details()}"))
            elif error is not None:
                span.set_attribute("rpc.grpc.status_code", grpc.StatusCode.CANCELLED.value[0])
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()


class InProcessStream:
    """A StreamGenerate running the servicer's generator in the reader's own task, chunk by chunk.

    The deadline is one timer for the whole call (not one per read): when it
    fires during a read, the reading task is cancelled, which unwinds the
    servicer where it waits (as gRPC cancels the handler), and the read
    raises DEADLINE_EXCEEDED; between reads, the servicer is closed and the
    next read raises it.
    """

    __slots__ = (
        "_chunks",
        "_closing",
        "_context",
        "_ended",
        "_error",
        "_expired",
        "_reader",
        "_spans",
        "_timer",
    )

    def __init__(
        self,
        handler: Callable[[pb.GenerateRequest, Any], AsyncIterator[pb.StreamChunk]],
        request: pb.GenerateRequest,
        context: InProcessContext,
        deadline: float | None,
        spans: _Spans | None,
    ) -> None:
        self._context = context
        self._spans = spans
        self._chunks = handler(request, context)  # an async generator: nothing runs before the first read
        self._ended = False
        self._error: BaseException | None = None
        self._closing: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[Any] | None = None
        self._expired = False
        self._timer: asyncio.TimerHandle | None = None
        if deadline is not None:  # loop.time() based
            self._timer = asyncio.get_running_loop().call_at(deadline, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self._ended:
            return
        self._expired = True
        if self._reader is not None:
            self._reader.cancel()  # read() turns this into DEADLINE_EXCEEDED
        else:
            self._end(_deadline_exceeded())
            self._close()

    async def read(self) -> Any:
        if self._ended:
            if self._error is not None:
                raise self._error
            return EOF
        reader = self._reader = asyncio.current_task()
        cancelling = reader.cancelling() if reader is not None else 0
        token = otel_context.attach(self._spans.current) if self._spans is not None else None
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            error = self._context.set_error()
            self._end(error)
            if error is not None:
                raise error from None
            return EOF
        except aio.AioRpcError as failed:
            self._end(failed)
            raise
        except asyncio.CancelledError as cancelled:
            if self._expired and reader is not None and reader.uncancel() <= cancelling:
                late = _deadline_exceeded()  # our timer's cancel, not the caller's
                self._end(late)
                raise late from None
            self._end(cancelled)  # the generator has unwound: the upstream request is closed
            raise
        except Exception as exc:
            unexpected = _unexpected(exc)
            self._end(unexpected)
            raise unexpected from None
        finally:
            self._reader = None
            if token is not None:
                otel_context.detach(token)
        return chunk

    async def initial_metadata(self) -> Metadata | None:
        return self._context.initial or ()

    def cancel(self) -> bool:
        if self._ended:
            return False
        self._end(TransportError(grpc.StatusCode.CANCELLED, "Locally cancelled by application!"))
        self._close()
        return True

    def _close(self) -> None:
        """Closes the servicer's generator (its upstream request with it), unless it is mid-read:
        then the reading task's own cancellation has unwound it already, or is about to."""
        if not self._chunks.ag_running and self._chunks.ag_frame is not None:  # type: ignore[attr-defined]
            self._closing = asyncio.get_running_loop().create_task(self._chunks.aclose())  # type: ignore[attr-defined]

    def _end(self, error: BaseException | None) -> None:
        self._ended = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._error = error if isinstance(error, aio.AioRpcError) else None
        if self._spans is not None:
            spans, self._spans = self._spans, None
            spans.end(error)

    def __aiter__(self) -> AsyncIterator[pb.StreamChunk]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[pb.StreamChunk]:
        while True:
            chunk = await self.read()
            if chunk is EOF:
                return
            yield chunk


class InProcessTransport:
    """The Transport of a servicer in this process and event loop (see the module's docstring).

    `client_tracer` (the bridge's) and `server_tracer` (the gateway's) give
    each call its two spans; without a client tracer there are none.
    """

    def __init__(
        self,
        servicer: pb_grpc.ModelGatewayServicer,
        *,
        client_tracer: trace.Tracer | None = None,
        server_tracer: trace.Tracer | None = None,
    ) -> None:
        self.servicer = servicer
        self._client_tracer = client_tracer
        self._server_tracer = server_tracer

    async def close(self) -> None:
        """Nothing to close: the servicer belongs to whoever built it."""

    async def _unary(
        self,
        method: str,
        handler: Callable[[Request, Any], Awaitable[Reply]],
        request: Request,
        metadata: Metadata | None,
        timeout: float | None,
    ) -> Reply:
        context = InProcessContext(metadata, None if timeout is None else time.monotonic() + timeout)
        spans = None
        token = None
        if self._client_tracer is not None:
            spans = _Spans(self._client_tracer, self._server_tracer, method)
            token = otel_context.attach(spans.current)
        error: BaseException | None = None
        try:
            if timeout is None:
                reply = await handler(request, context)
            else:
                async with asyncio.timeout(timeout):
                    reply = await handler(request, context)
            failed = context.set_error()
            if failed is not None:
                raise failed
            return reply
        except aio.AioRpcError as exc:
            error = exc
            raise
        except TimeoutError:
            error = _deadline_exceeded()
            raise error from None
        except asyncio.CancelledError as exc:
            error = exc
            raise
        except Exception as exc:
            error = _unexpected(exc)
            raise error from None
        finally:
            if spans is not None:
                otel_context.detach(token)  # type: ignore[arg-type]
                spans.end(error)

    def Generate(
        self, request: pb.GenerateRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.GenerateResponse]:
        return self._unary("Generate", self.servicer.Generate, request, metadata, timeout)  # type: ignore[arg-type]

    def StreamGenerate(
        self, request: pb.GenerateRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> InProcessStream:
        context = InProcessContext(metadata, None if timeout is None else time.monotonic() + timeout)
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        spans = None
        if self._client_tracer is not None:
            spans = _Spans(self._client_tracer, self._server_tracer, "StreamGenerate")
        handler: Any = self.servicer.StreamGenerate
        return InProcessStream(handler, request, context, deadline, spans)

    def CountTokens(
        self, request: pb.GenerateRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.CountTokensResponse]:
        return self._unary("CountTokens", self.servicer.CountTokens, request, metadata, timeout)  # type: ignore[arg-type]

    def ListModels(
        self, request: pb.ListModelsRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.ListModelsResponse]:
        return self._unary("ListModels", self.servicer.ListModels, request, metadata, timeout)  # type: ignore[arg-type]

    def GetModel(
        self, request: pb.GetModelRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.Model]:
        return self._unary("GetModel", self.servicer.GetModel, request, metadata, timeout)  # type: ignore[arg-type]

    def Health(
        self, request: pb.HealthRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.HealthResponse]:
        return self._unary("Health", self.servicer.Health, request, metadata, timeout)  # type: ignore[arg-type]

    def Embed(
        self, request: pb.EmbedRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.EmbedResponse]:
        return self._unary("Embed", self.servicer.Embed, request, metadata, timeout)  # type: ignore[arg-type]

    def GetUsage(
        self, request: pb.GetUsageRequest, *, metadata: Metadata | None = None, timeout: float | None = None
    ) -> Awaitable[pb.GetUsageResponse]:
        return self._unary("GetUsage", self.servicer.GetUsage, request, metadata, timeout)  # type: ignore[arg-type]
