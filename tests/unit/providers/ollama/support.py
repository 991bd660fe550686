"""Helpers shared by the Ollama provider tests, and a fake Ollama on loopback.

The fake serves the golden bytes of tests/fixtures/ollama/ per path, every
NDJSON line in two writes, so the provider has to reassemble lines across reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from google.protobuf import json_format

from model_gateway.errors import GatewayError
from model_gateway.providers.ollama import OllamaProvider
from model_gateway.providers.ollama.stream import StreamTranslator
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers import cases

DIALECT = "ollama"
GENERATED_ID = re.compile(r"call_[0-9a-f]{24}")


def load(name: str) -> Any:
    return cases.read_json(DIALECT, name)


def lines(name: str) -> list[bytes]:
    return cases.read_bytes(DIALECT, name).splitlines()


def canonical_request(case: str) -> pb.GenerateRequest:
    return json_format.ParseDict(load(f"{case}.canonical.json"), pb.GenerateRequest())


def masked(calls: Iterable[pb.ToolCall | pb.ToolCallDelta]) -> None:
    """Ids the provider made up are random: check their shape, then compare them as '<generated>'."""
    for call in calls:
        if GENERATED_ID.fullmatch(call.id):
            call.id = "<generated>"


def expected_chunks(case: str) -> list[pb.StreamChunk]:
    return [json_format.ParseDict(chunk, pb.StreamChunk()) for chunk in load(f"{case}.canonical.json")]


def translate_stream(request: pb.GenerateRequest, raw_lines: list[bytes], chat: bool) -> list[pb.StreamChunk]:
    translator = StreamTranslator(request, chat=chat)
    chunks = [chunk for line in raw_lines for chunk in translator.feed(orjson.loads(line))]
    for chunk in chunks:
        masked(chunk.delta.tool_calls)
    return chunks


def user_request(text: str = "What is the weather in Tokyo?") -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model="tiny", messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])]
    )


# --- a fake Ollama over HTTP ----------------------------------------------------------


@dataclass
class Reply:
    body: bytes
    status: int = 200
    ndjson: bool = False


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeOllama:
    """Serves canned bytes per path and records what the provider sent."""

    replies: dict[str, Reply] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.seen.append(
            Seen(request.method, request.path, dict(request.headers), orjson.loads(raw) if raw else None)
        )
        reply = self.replies[request.path]
        if not reply.ndjson:
            return web.Response(status=reply.status, body=reply.body, content_type="application/json")
        response = web.StreamResponse(status=reply.status, headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        # Every line in two writes, so the provider has to reassemble lines across reads.
        for line in reply.body.splitlines(keepends=True):
            await response.write(line[: len(line) // 2])
            await response.write(line[len(line) // 2 :])
        await response.write_eof()
        return response


def serve(upstream: FakeOllama, path: str, fixture: str, status: int = 200) -> None:
    raw = cases.read_bytes(DIALECT, fixture)
    upstream.replies[path] = Reply(raw, status, ndjson=fixture.endswith(".ndjson"))


async def collect(
    provider: OllamaProvider, request: pb.GenerateRequest, model: str = "llama3.2"
) -> tuple[list[pb.StreamChunk], GatewayError | None]:
    chunks: list[pb.StreamChunk] = []
    try:
        async for chunk in provider.stream(request, model, timeout=5):
            masked(chunk.delta.tool_calls)
            chunks.append(chunk)
    except GatewayError as exc:
        return chunks, exc
    return chunks, None
