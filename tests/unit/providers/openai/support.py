"""A real OpenAI-compatible upstream on loopback, and helpers shared by the OpenAI provider tests.

Streams are served by a tiny aiohttp server that writes the body in
odd-sized pieces, so lines and events arrive split at awkward places.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from google.protobuf import json_format

from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases

DIALECT = "openai"
KEY = "sk-test-9f8e7d6c5b4a"
ODD_PIECES = (1, 5, 17, 3, 64, 11, 2, 129, 7)


def fixture_bytes(name: str) -> bytes:
    return cases.read_bytes(DIALECT, name)


def fixture_json(name: str) -> Any:
    return cases.read_json(DIALECT, name)


def canonical_request(data: dict[str, Any]) -> pb.GenerateRequest:
    return json_format.ParseDict(data, pb.GenerateRequest())


def user_request(text: str = "Why is the sky blue?") -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model="m", messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])]
    )


@dataclass
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "text/event-stream"
    headers: dict[str, str] = field(default_factory=dict)
    pieces: Sequence[int] = ODD_PIECES  # sizes of the successive writes, cycled
    first_byte_delay: float = 0.0
    piece_delay: float = 0.0
    abort: bool = False  # drop the connection after the body instead of ending it


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class Upstream:
    """Serves scripted replies by "METHOD /path" (without /v1) and records what it was sent."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.seen: list[Seen] = []
        self.client_went_away = asyncio.Event()

    def on(self, route: str, reply: Reply) -> None:
        self.replies[route] = reply

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        path = request.path.removeprefix("/v1")
        self.seen.append(
            Seen(request.method, path, dict(request.headers), orjson.loads(raw) if raw else None)
        )
        reply = self.replies[f"{request.method} {path}"]
        if reply.first_byte_delay:
            await asyncio.sleep(reply.first_byte_delay)
        response = web.StreamResponse(
            status=reply.status, headers={"Content-Type": reply.content_type, **reply.headers}
        )
        await response.prepare(request)
        offset, sizes = 0, itertools.cycle(reply.pieces)
        try:
            while offset < len(reply.body):
                size = next(sizes)
                await response.write(reply.body[offset : offset + size])
                offset += size
                await asyncio.sleep(reply.piece_delay)
        except (ConnectionResetError, asyncio.CancelledError):
            self.client_went_away.set()
            raise
        if reply.abort:
            assert request.transport is not None
            request.transport.abort()
            return response
        await response.write_eof()
        return response


async def collect(stream: AsyncIterator[pb.StreamChunk]) -> tuple[list[pb.Delta], pb.FinalChunk]:
    deltas: list[pb.Delta] = []
    finals: list[pb.FinalChunk] = []
    async for chunk in stream:
        assert not finals, "nothing may follow the final chunk"
        if chunk.HasField("final"):
            finals.append(chunk.final)
        else:
            deltas.append(chunk.delta)
    assert len(finals) == 1
    return deltas, finals[0]


def tool_calls_from(deltas: list[pb.Delta]) -> dict[int, pb.ToolCall]:
    calls: dict[int, pb.ToolCall] = {}
    for delta in deltas:
        for fragment in delta.tool_calls:
            call = calls.setdefault(fragment.index, pb.ToolCall())
            call.id = call.id or fragment.id
            call.name = call.name or fragment.name
            call.arguments += fragment.arguments
    return calls
