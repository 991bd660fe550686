"""The bridge's one way to the gateway, and the two ways of calling it.

The bridge talks to a `Transport` (model_gateway_common.transport): the
grpc.aio stub of one channel (the sidecar topology), or the servicer in this
very process (`model-gateway up --topology inprocess`). Both take the same
messages and fail the same way (an AioRpcError), so nothing below knows
which one it has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from grpc import aio
from starlette.requests import Request

from model_gateway_bridge.errors import BridgeError, from_rpc_error
from model_gateway_common.request_ids import new_request_id
from model_gateway_common.route_headers import (
    CACHE_HEADER,
    ROUTE_HEADERS,
    rate_limit_metadata,
    route_metadata,
)
from model_gateway_common.transport import StreamCall, Transport
from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc

# Caller headers the gateway needs (auth, correlation); nothing else crosses.
FORWARDED_HEADERS = ("authorization", "x-api-key", "traceparent", "tracestate")


class GatewayClient:
    """A gRPC channel to `target`, made on first use; or, given `transport`, that transport."""

    def __init__(
        self,
        target: str,
        max_message_bytes: int,
        interceptors: Sequence[Any] = (),
        transport: Transport | None = None,
        credentials: tuple[Any, list[tuple[str, str]]] | None = None,
    ) -> None:
        self.target = target
        self._credentials = credentials  # TLS to a service on another host: (credentials, options)
        self._interceptors = list(interceptors)  # tracing: carries the trace context in metadata
        self._options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        self._channel: aio.Channel | None = None
        self._stub: Transport | None = transport

    @classmethod
    def in_process(cls, transport: Transport) -> GatewayClient:
        return cls("in-process", 0, transport=transport)

    @property
    def stub(self) -> Transport:
        # The channel is made on first use, inside the server's event loop.
        if self._stub is None:
            if self._credentials is not None:
                credentials, options = self._credentials
                self._channel = aio.secure_channel(
                    self.target,
                    credentials,
                    options=[*self._options, *options],
                    interceptors=self._interceptors or None,
                )
            else:
                self._channel = aio.insecure_channel(
                    self.target, options=self._options, interceptors=self._interceptors or None
                )
            self._stub = cast(Transport, pb_grpc.ModelGatewayStub(self._channel))
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
            self._channel, self._stub = None, None


@dataclass(frozen=True, slots=True)
class CallContext:
    """What one REST request carries into its gRPC call."""

    metadata: tuple[tuple[str, str], ...]
    timeout: float
    request_id: str
    cache_control: pb.CacheControl | None = None  # what the caller's headers ask of the response cache

    @classmethod
    def of(cls, request: Request, default_timeout: float, surface: str) -> CallContext:
        headers = request.headers
        request_id = headers.get("x-request-id") or new_request_id()
        metadata = [("x-request-id", request_id), ("x-gateway-surface", surface)]
        metadata.extend((name, headers[name]) for name in FORWARDED_HEADERS if name in headers)
        timeout = default_timeout
        # The OpenAI SDKs announce their own timeout; never wait longer than the caller.
        for name in ("x-request-timeout", "x-stainless-timeout"):
            try:
                timeout = min(timeout, float(headers[name]))
            except (KeyError, ValueError):
                continue
        return cls(tuple(metadata), max(0.001, timeout), request_id, cache_control_of(headers))


def cache_control_of(headers: Any) -> pb.CacheControl | None:
    """`Cache-Control: no-cache` / `no-store`, and `x-gateway-cache: bypass` (as no-store), or None."""
    no_cache = no_store = False
    for directive in headers.get("cache-control", "").lower().split(","):
        directive = directive.strip()
        no_cache = no_cache or directive == "no-cache"
        no_store = no_store or directive == "no-store"
    no_store = no_store or headers.get(CACHE_HEADER, "").strip().lower() == "bypass"
    return pb.CacheControl(no_cache=no_cache, no_store=no_store) if no_cache or no_store else None


def route_headers(metadata: Any, request_id: str) -> dict[str, str]:
    headers = {"x-request-id": request_id}
    for key, value in metadata or ():
        if key in ROUTE_HEADERS and isinstance(value, str):
            headers[key] = value
    return headers


async def call_generate(
    client: GatewayClient, message: pb.GenerateRequest, ctx: CallContext
) -> tuple[pb.GenerateResponse, dict[str, str]]:
    if ctx.cache_control is not None:
        message.cache_control.MergeFrom(ctx.cache_control)
    try:
        response = await client.stub.Generate(message, metadata=ctx.metadata, timeout=ctx.timeout)
    except aio.AioRpcError as error:
        raise from_rpc_error(error) from None
    limits = response.rate_limits if response.HasField("rate_limits") else None
    return response, route_headers(
        route_metadata(response.route) + rate_limit_metadata(limits), ctx.request_id
    )


@dataclass(slots=True, eq=False)  # hashed by identity: the drain keeps the open ones in a set
class OpenStream:
    """A stream whose first chunk has arrived: failures before it were plain HTTP errors."""

    first: pb.StreamChunk
    rest: AsyncIterator[pb.StreamChunk]  # raises BridgeError if the stream fails later
    headers: dict[str, str]
    cancel: Callable[[], Any] | None = None  # the gRPC call's cancel (a no-op once it has ended)

    async def chunks(self) -> AsyncIterator[pb.StreamChunk]:
        yield self.first
        async for chunk in self.rest:
            yield chunk

    async def aclose(self) -> None:
        """Ends the gRPC call however far it got: a client that went away cancels the upstream.

        `rest` may not have started (a client gone after the first chunk), and
        closing an unstarted generator runs none of its code: hence the cancel.
        """
        close = getattr(self.rest, "aclose", None)
        if close is not None:
            await close()
        if self.cancel is not None:
            self.cancel()


async def open_stream(client: GatewayClient, message: pb.GenerateRequest, ctx: CallContext) -> OpenStream:
    if ctx.cache_control is not None:
        message.cache_control.MergeFrom(ctx.cache_control)
    call = client.stub.StreamGenerate(message, metadata=ctx.metadata, timeout=ctx.timeout)
    try:
        first = await call.read()
        metadata = await call.initial_metadata()
    except aio.AioRpcError as error:
        raise from_rpc_error(error) from None
    except BaseException:
        call.cancel()
        raise
    if not isinstance(first, pb.StreamChunk):
        raise BridgeError(502, "the gateway ended the stream before the first chunk")
    return OpenStream(first, rest_of(call), route_headers(metadata, ctx.request_id), call.cancel)


async def rest_of(call: StreamCall) -> AsyncIterator[pb.StreamChunk]:
    try:
        while True:
            chunk = await call.read()
            if not isinstance(chunk, pb.StreamChunk):  # aio.EOF
                return
            yield chunk
    except aio.AioRpcError as error:
        raise from_rpc_error(error) from None
    finally:
        # A client that went away cancels the gRPC call, and so the upstream request.
        call.cancel()


async def call_unary(call: Any, ctx: CallContext) -> Any:
    """Any other unary RPC: `call` is the stub method's pending call."""
    try:
        return await call
    except aio.AioRpcError as error:
        raise from_rpc_error(error) from None
