"""The paths under test, each a way to run load and a way to check one reply first.

A path is benchmarked only after a check proves it answers correctly: wrk
and h2load count replies, not what is in them.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bench import payloads
from bench.load import run_h2load, run_wrk
from bench.measure import LoadResult
from bench.stack import AUTH, Stack
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


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> str:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"POST {url}: HTTP {exc.code}: {exc.read()[:300]!r}") from None
    except OSError as exc:
        raise RuntimeError(f"POST {url}: {exc}") from None


def check_http(url: str, body: bytes, headers: Mapping[str, str]) -> None:
    text = _post(url, body, headers)
    # The answer text must come through, JSON-escaped or not.
    if payloads.ANSWER not in text and json.dumps(payloads.ANSWER)[1:-1] not in text:
        raise RuntimeError(f"POST {url}: the reply lacks the upstream's answer: {text[:300]}")


def stream_text(raw: str, ollama: bool) -> str:
    """The text deltas of an OpenAI SSE or an Ollama NDJSON stream, joined."""
    parts: list[str] = []
    for line in raw.splitlines():
        if not ollama and not line.startswith("data:"):
            continue  # SSE event:, id: and comment lines
        payload = line.removeprefix("data:").strip()
        if not payload or payload == "[DONE]":
            continue
        event = json.loads(payload)
        if ollama:
            parts.append((event.get("message") or {}).get("content") or "")
        else:
            parts += [(c.get("delta") or {}).get("content") or "" for c in event.get("choices") or []]
    return "".join(parts)


def check_http_stream(url: str, body: bytes, headers: Mapping[str, str], ollama: bool) -> None:
    raw = _post(url, body, headers)
    try:
        text = stream_text(raw, ollama)
    except (ValueError, AttributeError) as exc:
        raise RuntimeError(f"POST {url}: not a well-formed stream ({exc}): {raw[:300]}") from None
    if text != payloads.ANSWER:
        raise RuntimeError(f"POST {url}: the stream carried {text!r}, not {payloads.ANSWER!r}")


METADATA = tuple((name.lower(), value) for name, value in AUTH.items())  # gRPC callers send the key too


def check_grpc_stream(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.ModelGatewayStub(channel)
        request = payloads.grpc_request(payloads.STREAM_MODEL)
        try:
            chunks = list(stub.StreamGenerate(request, metadata=METADATA, timeout=30))
        except grpc.RpcError as exc:
            raise RuntimeError(f"gRPC StreamGenerate on {target}: {exc}") from None
    text = "".join(chunk.delta.text for chunk in chunks if chunk.HasField("delta"))
    if text != payloads.ANSWER or not chunks[-1].HasField("final"):
        raise RuntimeError(f"gRPC StreamGenerate on {target}: {text!r} and no final chunk")


def check_grpc(target: str) -> int:
    """One Generate; returns the size of a good reply frame (for h2load's byte check)."""
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.ModelGatewayStub(channel)
        try:
            request = payloads.grpc_request(payloads.UNARY_MODEL)
            reply = stub.Generate(request, metadata=METADATA, timeout=30)
        except grpc.RpcError as exc:
            raise RuntimeError(f"gRPC Generate on {target}: {exc}") from None
    text = "".join(part.text for part in reply.message.content)
    if text != payloads.ANSWER:
        raise RuntimeError(f"gRPC Generate on {target}: unexpected answer {text!r}")
    return 5 + reply.ByteSize()


@dataclass(frozen=True)
class Rest:
    """An HTTP endpoint: where unary and streamed calls go, in which dialect, with which headers."""

    key: str
    label: str
    url: str
    stream_url: str
    ollama: bool = False  # Ollama bodies and NDJSON streams instead of OpenAI's and SSE
    headers: Mapping[str, str] = field(default_factory=dict)
    deterministic: bool = False  # temperature 0: an answer the response cache keeps (the cache-hit path)
    modes: tuple[str, ...] = ("unary", "stream")


def rest_targets(rest: Rest, wrk: str, workdir: Path) -> list[Target]:
    request = payloads.ollama_request if rest.ollama else payloads.openai_request
    unary_body = request(payloads.UNARY_MODEL, False, rest.deterministic)
    stream_body = request(payloads.STREAM_MODEL, True, rest.deterministic)
    end = NDJSON_END if rest.ollama else SSE_END

    def unary(connections: int, seconds: float) -> LoadResult:
        return run_wrk(wrk, rest.url, unary_body, connections, seconds, workdir, rest.headers)

    def stream(connections: int, seconds: float) -> LoadResult:
        return asyncio.run(
            http_streams(rest.stream_url, stream_body, end, connections, seconds, rest.headers)
        )

    targets = [
        Target(
            rest.key,
            rest.label,
            "unary",
            "wrk",
            unary,
            lambda: check_http(rest.url, unary_body, rest.headers),
        ),
        Target(
            rest.key,
            rest.label,
            "stream",
            "aiohttp",
            stream,
            lambda: check_http_stream(rest.stream_url, stream_body, rest.headers, rest.ollama),
        ),
    ]
    return [target for target in targets if target.mode in rest.modes]


def _grpc_targets(stack: Stack, h2load: str, workdir: Path, key: str, suffix: str) -> list[Target]:
    frame = payloads.grpc_frame(payloads.grpc_request(payloads.UNARY_MODEL).SerializeToString())
    url = f"http://{stack.grpc_target}{GENERATE}"
    reply_bytes = [1]
    headers = {name.lower(): value for name, value in AUTH.items()}

    def check() -> None:
        # Minus a little slack: ids and timestamps may differ in length between replies.
        reply_bytes[0] = max(1, check_grpc(stack.grpc_target) - 8)

    def unary(connections: int, seconds: float) -> LoadResult:
        return run_h2load(h2load, url, frame, connections, seconds, workdir, reply_bytes[0], headers)

    def stream(connections: int, seconds: float) -> LoadResult:
        request = payloads.grpc_request(payloads.STREAM_MODEL)
        return asyncio.run(grpc_streams(stack.grpc_target, request, connections, seconds, METADATA))

    return [
        Target(key, f"gRPC Generate{suffix}", "unary", "h2load", unary, check),
        Target(
            key,
            f"gRPC StreamGenerate{suffix}",
            "stream",
            "grpc.aio",
            stream,
            lambda: check_grpc_stream(stack.grpc_target),
        ),
    ]


def stack_targets(stack: Stack, tools: dict[str, str], workdir: Path, default: bool) -> list[Target]:
    """gRPC and the bridge's surfaces of one topology; keys are prefixed unless it is the default."""
    prefix = "" if default else f"{stack.topology}-"
    suffix = "" if default else f" ({stack.topology})"
    chat = stack.bridge_url + "/v1/chat/completions"
    ollama = stack.bridge_url + "/api/chat"
    rests = [
        Rest(f"{prefix}openai", f"REST /v1/chat/completions{suffix}", chat, chat, headers=AUTH),
        Rest(f"{prefix}ollama", f"REST Ollama /api/chat{suffix}", ollama, ollama, ollama=True, headers=AUTH),
    ]
    if default:
        label = "REST /v1/chat/completions, cache hit"
        rests.append(Rest("cache", label, chat, chat, headers=AUTH, deterministic=True, modes=("unary",)))
    workdir = workdir / stack.topology
    workdir.mkdir(parents=True, exist_ok=True)
    targets = _grpc_targets(stack, tools["h2load"], workdir, f"{prefix}grpc", suffix)
    for rest in rests:
        targets += rest_targets(rest, tools["wrk"], workdir)
    return targets


def build_targets(
    tools: dict[str, str], upstream: Upstream, stacks: list[Stack], workdir: Path, extra: list[Rest]
) -> list[Target]:
    """The direct upstream first (the floor), then each topology (the default first), then any extras."""
    direct = Rest("direct", "direct upstream (nginx)", upstream.unary_url, upstream.stream_url)
    targets = rest_targets(direct, tools["wrk"], workdir)
    for i, stack in enumerate(stacks):
        targets += stack_targets(stack, tools, workdir, default=i == 0)
    for rest in extra:
        targets += rest_targets(rest, tools["wrk"], workdir)
    return targets
