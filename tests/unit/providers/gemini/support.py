"""Helpers shared by the Gemini provider tests: fixtures, a scripted upstream on loopback, collectors.

The scripted upstream writes each body in odd-sized pieces, so SSE lines,
events and UTF-8 sequences arrive split at awkward byte boundaries.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import orjson
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from model_gateway.providers.base import ModelSettings
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases as shared

DIALECT = "gemini"
FIXTURES = shared.FIXTURES / DIALECT
KEY = "AIzaSyPLANTED-test-key-000000000000000"  # also quoted by error_api_key_invalid.wire.json
ODD_PIECES = (1, 7, 3, 64, 2, 13, 129, 5, 31)
SETTINGS = ModelSettings(name="gemini-golden")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return orjson.loads(fixture_bytes(name))


def cases(prefix: str, kind: Literal["request", "response", "stream"]) -> list[str]:
    """The dialect's cases of one kind (tests/unit/providers/cases.py) whose names start with `prefix`."""
    return [case for case in shared.cases(DIALECT, kind) if case.startswith(prefix)]


M = TypeVar("M", bound=Message)


def parse(data: Any, message: type[M]) -> M:
    return json_format.ParseDict(data, message())


def canonical_chunks(case: str) -> list[pb.StreamChunk]:
    return [parse(chunk, pb.StreamChunk) for chunk in fixture_json(f"{case}.canonical.json")]


def without_timings(chunks: Sequence[pb.StreamChunk]) -> list[pb.StreamChunk]:
    out = []
    for chunk in chunks:
        copy = pb.StreamChunk()
        copy.CopyFrom(chunk)
        if copy.HasField("final"):
            copy.final.ClearField("timings")
        out.append(copy)
    return out


def user_request(text: str = "Why is the sky blue?") -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model="m", messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])]
    )


@dataclass
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "text/event-stream"
    pieces: Sequence[int] = ODD_PIECES  # sizes of the successive writes, cycled
    abort: bool = False  # drop the connection after the body instead of ending it


@dataclass
class Seen:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: Any


@dataclass
class Upstream:
    """Serves scripted replies by "METHOD /path?query" (under /v1beta) and records what it was sent."""

    replies: dict[str, Reply] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def on(self, route: str, reply: Reply) -> None:
        self.replies[route] = reply

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        path = request.path_qs.removeprefix("/v1beta")
        self.seen.append(
            Seen(request.method, path, dict(request.headers), orjson.loads(raw) if raw else None)
        )
        reply = self.replies[f"{request.method} {path}"]
        response = web.StreamResponse(status=reply.status, headers={"Content-Type": reply.content_type})
        await response.prepare(request)
        offset, sizes = 0, itertools.cycle(reply.pieces)
        while offset < len(reply.body):
            size = next(sizes)
            await response.write(reply.body[offset : offset + size])
            offset += size
            await asyncio.sleep(0)
        if reply.abort:
            assert request.transport is not None
            request.transport.abort()
            return response
        await response.write_eof()
        return response


async def collect(stream: AsyncIterator[pb.StreamChunk]) -> list[pb.StreamChunk]:
    """Every chunk; exactly one final, and nothing after it."""
    chunks = [chunk async for chunk in stream]
    finals = [i for i, chunk in enumerate(chunks) if chunk.HasField("final")]
    assert finals == [len(chunks) - 1], "exactly one final chunk, and last"
    return chunks
