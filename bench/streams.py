"""Streaming scenarios: a small asyncio client timing the first and the last chunk.

wrk and h2load only see whole replies, so streams are driven from Python:
aiohttp for SSE and NDJSON, grpc.aio for StreamGenerate. The client's own
cost is the same for the direct upstream and for the gateway paths, so the
added time (path minus direct) is still the gateway's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import aiohttp
import grpc

from bench.measure import LoadResult, percentile
from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc

Call = Callable[[], Awaitable[float]]  # one streamed request; returns when its first chunk came
TAIL = 2048  # bytes of a stream kept to check how it ended


class BadReply(Exception):
    """A reply that arrived but is not a complete, successful stream."""


@dataclass
class _Tally:
    first: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None


async def _drive(calls: list[Call], duration_s: float) -> LoadResult:
    """One worker per connection, each calling back to back until the deadline."""
    tally = _Tally()
    started = time.perf_counter()
    deadline = started + duration_s

    async def worker(call: Call) -> None:
        while time.perf_counter() < deadline:
            begin = time.perf_counter()
            try:
                first = await call()
            except (BadReply, aiohttp.ClientError, grpc.RpcError, OSError) as exc:
                tally.errors += 1
                tally.first_error = tally.first_error or f"{type(exc).__name__}: {exc}"[:300]
                await asyncio.sleep(0.01)  # a dead endpoint must not become a busy loop
                continue
            end = time.perf_counter()
            tally.first.append((first - begin) * 1000.0)
            tally.last.append((end - begin) * 1000.0)

    await asyncio.gather(*(worker(call) for call in calls))
    return LoadResult(
        requests=len(tally.last),
        errors=tally.errors,
        duration_s=time.perf_counter() - started,
        p50_ms=percentile(tally.last, 50),
        p99_ms=percentile(tally.last, 99),
        ttfc_p50_ms=percentile(tally.first, 50),
        ttfc_p99_ms=percentile(tally.first, 99),
        first_error=tally.first_error,
    )


def _http_call(
    session: aiohttp.ClientSession, url: str, body: bytes, end_marker: bytes, extra: Mapping[str, str]
) -> Call:
    headers = {"Content-Type": "application/json", **extra}

    async def call() -> float:
        async with session.post(url, data=body, headers=headers) as response:
            if response.status != 200:
                detail = (await response.read())[:200]
                raise BadReply(f"HTTP {response.status}: {detail!r}")
            first = 0.0
            tail = b""
            async for chunk in response.content.iter_any():
                if not first:
                    first = time.perf_counter()
                tail = (tail + chunk)[-TAIL:]
            if end_marker not in tail:
                raise BadReply(f"stream ended without {end_marker!r}: ...{tail[-200:]!r}")
            return first

    return call


async def http_streams(
    url: str,
    body: bytes,
    end_marker: bytes,
    connections: int,
    duration_s: float,
    headers: Mapping[str, str] | None = None,
) -> LoadResult:
    """SSE or NDJSON over HTTP/1.1 keep-alive, `connections` sockets at once."""
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        calls = [_http_call(session, url, body, end_marker, headers or {}) for _ in range(connections)]
        return await _drive(calls, duration_s)


def _grpc_call(
    stub: pb_grpc.ModelGatewayAsyncStub, request: pb.GenerateRequest, metadata: tuple[tuple[str, str], ...]
) -> Call:
    async def call() -> float:
        first = 0.0
        final = False
        async for chunk in stub.StreamGenerate(request, metadata=metadata, timeout=30):
            if not first:
                first = time.perf_counter()
            final = chunk.HasField("final")
        if not final:
            raise BadReply("stream ended without a final chunk")
        return first

    return call


async def grpc_streams(
    target: str,
    request: pb.GenerateRequest,
    connections: int,
    duration_s: float,
    metadata: tuple[tuple[str, str], ...] = (),
) -> LoadResult:
    # A local subchannel pool gives each channel its own TCP connection.
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(target, options=options) for _ in range(connections)]
    try:
        calls = [_grpc_call(pb_grpc.ModelGatewayStub(channel), request, metadata) for channel in channels]
        return await _drive(calls, duration_s)
    finally:
        await asyncio.gather(*(channel.close(None) for channel in channels))
