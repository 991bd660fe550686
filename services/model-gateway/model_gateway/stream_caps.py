"""`server.clients.max_streams_per_key`: one API key cannot hold every stream the gateway can serve.

A stream holds an upstream connection and a slot of the provider's own
concurrency for as long as it runs; a single key (a leaked one, a runaway
agent loop) opening hundreds would starve every other caller. The count is
per process, by a hash of the key the caller presents (anonymous callers are
bounded by the connection limits instead), and covers both doors: the gRPC
port and the bridge, which call the same servicer.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

from model_gateway.service import ModelGatewayService
from modelgateway.v1 import gateway_pb2 as pb

CREDENTIAL_HEADERS = ("authorization", "x-api-key")


def key_of(metadata: Sequence[tuple[str, Any]] | None) -> str | None:
    for name, value in metadata or ():
        if name in CREDENTIAL_HEADERS and value:
            text = value if isinstance(value, str) else value.decode(errors="replace")
            return hashlib.sha256(text.removeprefix("Bearer ").strip().encode()).hexdigest()[:32]
    return None


class StreamCappedService(ModelGatewayService):
    """The servicer, with StreamGenerate refused (RESOURCE_EXHAUSTED) past the key's open streams."""

    def __init__(self, *args: Any, max_streams_per_key: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_streams_per_key = max_streams_per_key
        self.open_streams: dict[str, int] = {}

    async def StreamGenerate(
        self, request: pb.GenerateRequest, context: Any
    ) -> AsyncIterator[pb.StreamChunk]:
        limit = self.max_streams_per_key
        key = key_of(context.invocation_metadata()) if limit is not None else None
        if key is None or limit is None:
            async for chunk in super().StreamGenerate(request, context):
                yield chunk
            return
        held = self.open_streams.get(key, 0)
        if held >= limit:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"this API key already has {held} streams open, the most allowed "
                "(server.clients.max_streams_per_key); finish or cancel one, then retry",
            )
        self.open_streams[key] = held + 1
        try:
            async for chunk in super().StreamGenerate(request, context):
                yield chunk
        finally:
            left = self.open_streams[key] - 1
            if left:
                self.open_streams[key] = left
            else:
                del self.open_streams[key]
