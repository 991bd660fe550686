"""The paths under test, each a way to run load and a way to check one reply first.

A path is benchmarked only after a check proves it answers correctly: wrk
and h2load count replies, not what is in them.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from bench import payloads
from bench.load import run_h2load, run_wrk
from bench.measure import LoadResult
from bench.stack import Stack
from bench.streams import grpc_streams, http_streams
from bench.upstream import Upstream
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc

Runner = Callable[[int, float], LoadResult]  # (connections, seconds) -> result

SSE_END = b"data: [DONE]"
NDJSON_END = b'"done":true'
GENERATE = "/modelgateway.v1.ModelGateway/Generate"


@dataclass(frozen=True)
class Target:
    key: str  # direct | grpc | openai | ollama | litellm
    label: str
    mode: str  # unary | stream
    tool: str
    run: Runner
    check: Callable[[], None]


def _no_check() -> None:
    """Streams are checked by the client itself: status 200 and a proper ending."""


def check_http(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"POST {url}: HTTP {exc.code}: {exc.read()[:300]!r}") from None
    except OSError as exc:
        raise RuntimeError(f"POST {url}: {exc}") from None
    # The answer text must come through, JSON-escaped or not.
    if payloads.ANSWER not in text and json.dumps(payloads.ANSWER)[1:-1] not in text:
        raise RuntimeError(f"POST {url}: the reply lacks the upstream's answer: {text[:300]}")


def check_grpc(target: str) -> int:
    """One Generate; returns the size of a good reply frame (for h2load's byte check)."""
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.ModelGatewayStub(channel)
        try:
            reply = stub.Generate(payloads.grpc_request(payloads.UNARY_MODEL), timeout=30)
        except grpc.RpcError as exc:
            raise RuntimeError(f"gRPC Generate on {target}: {exc}") from None
    text = "".join(part.text for part in reply.message.content)
    if text != payloads.ANSWER:
        raise RuntimeError(f"gRPC Generate on {target}: unexpected answer {text!r}")
    return 5 + reply.ByteSize()


def _wrk(wrk: str, url: str, body: bytes, workdir: Path) -> Runner:
    return lambda connections, seconds: run_wrk(wrk, url, body, connections, seconds, workdir)


def _http_stream(url: str, body: bytes, end: bytes) -> Runner:
    return lambda connections, seconds: asyncio.run(http_streams(url, body, end, connections, seconds))


def _rest_targets(
    key: str, label: str, url: str, stream_url: str, wrk: str, workdir: Path, ollama: bool = False
) -> list[Target]:
    request = payloads.ollama_request if ollama else payloads.openai_request
    unary_body = request(payloads.UNARY_MODEL, False)
    stream_body = request(payloads.STREAM_MODEL, True)
    return [
        Target(
            key,
            label,
            "unary",
            "wrk",
            _wrk(wrk, url, unary_body, workdir),
            lambda: check_http(url, unary_body),
        ),
        Target(
            key,
            label,
            "stream",
            "aiohttp",
            _http_stream(stream_url, stream_body, NDJSON_END if ollama else SSE_END),
            _no_check,
        ),
    ]


def _grpc_targets(stack: Stack, h2load: str, workdir: Path) -> list[Target]:
    frame = payloads.grpc_frame(payloads.grpc_request(payloads.UNARY_MODEL).SerializeToString())
    url = f"http://{stack.grpc_target}{GENERATE}"
    reply_bytes = [1]

    def check() -> None:
        # Minus a little slack: ids and timestamps may differ in length between replies.
        reply_bytes[0] = max(1, check_grpc(stack.grpc_target) - 8)

    def unary(connections: int, seconds: float) -> LoadResult:
        return run_h2load(h2load, url, frame, connections, seconds, workdir, reply_bytes[0])

    def stream(connections: int, seconds: float) -> LoadResult:
        request = payloads.grpc_request(payloads.STREAM_MODEL)
        return asyncio.run(grpc_streams(stack.grpc_target, request, connections, seconds))

    return [
        Target("grpc", "gRPC Generate", "unary", "h2load", unary, check),
        Target("grpc", "gRPC StreamGenerate", "stream", "grpc.aio", stream, _no_check),
    ]


def build_targets(
    tools: dict[str, str], upstream: Upstream, stack: Stack, workdir: Path, litellm_url: str | None
) -> list[Target]:
    wrk = tools["wrk"]
    chat = stack.bridge_url + "/v1/chat/completions"
    ollama = stack.bridge_url + "/api/chat"
    targets = [
        *_rest_targets(
            "direct", "direct upstream (nginx)", upstream.unary_url, upstream.stream_url, wrk, workdir
        ),
        *_grpc_targets(stack, tools["h2load"], workdir),
        *_rest_targets("openai", "REST /v1/chat/completions", chat, chat, wrk, workdir),
        *_rest_targets("ollama", "REST Ollama /api/chat", ollama, ollama, wrk, workdir, ollama=True),
    ]
    if litellm_url:
        url = litellm_url + "/v1/chat/completions"
        targets += _rest_targets("litellm", "LiteLLM proxy /v1/chat/completions", url, url, wrk, workdir)
    return targets
