"""A streamed /v1/messages whose first chunk is slow to come starts anyway, with `ping` events.

Anthropic sends `message_start` at once and `ping` events while the model
works; clients and the proxies between wait on that. The gateway's first
chunk comes only once the upstream answered (failover happens before it),
which on a local model loading its weights can take a minute. So:

- the first chunk (or the gateway's error) within FIRST_PING_S: the usual
  path, where an error before the first chunk is a plain HTTP error;
- later: the 200 goes out with `message_start` and a `ping`, then a `ping`
  every PING_INTERVAL_S until the first chunk comes; from there the one
  end-of-stream loop (streaming.py) takes over, and a failure, even before
  the first chunk, is the surface's `error` event.

Either way a client that goes away cancels the gRPC call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from grpc import aio
from starlette.responses import Response

from model_gateway_bridge.client import CallContext, GatewayClient, OpenStream, rest_of, route_headers
from model_gateway_bridge.errors import BridgeError, from_rpc_error
from model_gateway_bridge.framing import sse_response
from model_gateway_bridge.streaming import stream_body
from model_gateway_bridge.surfaces.anthropic.stream import PING, MessageStream
from modelgateway.v1 import gateway_pb2 as pb

FIRST_PING_S = 3.0  # how long an error may still be an HTTP status
PING_INTERVAL_S = 5.0


async def stream_messages(
    client: GatewayClient,
    message: pb.GenerateRequest,
    ctx: CallContext,
    framer: MessageStream,
    headers: Callable[[dict[str, str]], dict[str, str]],
) -> Response:
    """`headers` merges the route's headers (none when the stream starts before the route is known)
    with the front door's own."""
    call = client.stub.StreamGenerate(message, metadata=ctx.metadata, timeout=ctx.timeout)
    first = asyncio.ensure_future(call.read())
    try:
        done, _ = await asyncio.wait({first}, timeout=FIRST_PING_S)
    except BaseException:
        first.cancel()
        call.cancel()
        raise
    if done:
        opened = await _opened(call, first, ctx)  # raises the HTTP error, if the gateway refused
        merged = {**headers(opened.headers), "request-id": ctx.request_id}
        return sse_response(stream_body(opened, framer), headers=merged)
    body = _waiting(call, first, ctx, framer)
    merged = {**headers({"x-request-id": ctx.request_id}), "request-id": ctx.request_id}
    return sse_response(body, headers=merged)


async def _opened(call: Any, first: asyncio.Future[Any], ctx: CallContext) -> OpenStream:
    try:
        chunk = await first
        metadata = await call.initial_metadata()
    except aio.AioRpcError as error:
        raise from_rpc_error(error) from None
    except BaseException:
        call.cancel()
        raise
    if not isinstance(chunk, pb.StreamChunk):
        raise BridgeError(502, "the gateway ended the stream before the first chunk")
    return OpenStream(chunk, rest_of(call), route_headers(metadata, ctx.request_id), call.cancel)


async def _waiting(
    call: Any, first: asyncio.Future[Any], ctx: CallContext, framer: MessageStream
) -> AsyncIterator[bytes]:
    try:
        yield framer.start("") + PING
        while not first.done():
            await asyncio.wait({first}, timeout=PING_INTERVAL_S)
            if not first.done():
                yield PING
        try:
            opened = await _opened(call, first, ctx)
        except BridgeError as err:
            yield framer.error(err)
            return
        async for piece in stream_body(opened, framer):
            yield piece
    finally:
        first.cancel()
        call.cancel()  # a no-op once the call has ended
