"""What is fuzzed: each dialect's request parser (bridge surfaces) and each provider's stream parser.

A target takes the fuzzer's bytes and must either succeed or fail the way the
product fails on bad input: a BridgeError (a 4xx in the dialect's own shape)
for a request, a GatewayError (a gRPC status) for an upstream stream.
Anything else escaping is a crash: a 500 with a stack trace, or a stream
that dies without a clear status.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

Target = Callable[[bytes], None]


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str  # "request" (a JSON body) or "stream" (an SSE / NDJSON body)
    seeds: tuple[str, ...]  # globs under tests/fixtures, or "golden:<path prefix>" of the contract pairs
    build: Callable[[], Target]


# --- request parsers --------------------------------------------------------------------------------


def _body(data: bytes) -> dict[str, Any] | None:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None  # the bridge answers 400 before any parser runs
    return body if isinstance(body, dict) else None


def request_target(parse: Callable[[dict[str, Any]], object]) -> Callable[[], Target]:
    def build() -> Target:
        from model_gateway_bridge.errors import BridgeError
        from model_gateway_common.structs import TooDeep

        def run(data: bytes) -> None:
            body = _body(data)
            if body is None:
                return
            try:
                parse(body)
            except (BridgeError, TooDeep):  # the app answers TooDeep with a 400 too
                pass
            except orjson.JSONEncodeError as exc:  # and this one, when it is a nesting past 255 levels
                if "recursion" not in str(exc).lower():
                    raise

        return run

    return build


def _openai_chat(body: dict[str, Any]) -> object:
    from model_gateway_bridge.surfaces.openai.request import parse_chat

    return parse_chat(body)


def _openai_completion(body: dict[str, Any]) -> object:
    from model_gateway_bridge.surfaces.openai.request import parse_completion

    return parse_completion(body)


def _openai_embeddings(body: dict[str, Any]) -> object:
    from model_gateway_bridge.surfaces.openai.embeddings import parse_embedding

    return parse_embedding(body)


def _responses(body: dict[str, Any]) -> object:
    from model_gateway_bridge.surfaces.openai.responses.request import parse_responses

    return parse_responses(body)


def _ollama_chat(body: dict[str, Any]) -> object:
    from model_gateway_bridge.surfaces.ollama.request import chat_request

    return chat_request(body)


def _ollama_generate(body: dict[str, Any]) -> object:
    from model_gateway_bridge.surfaces.ollama.request import generate_request

    return generate_request(body)


def _ollama_embed(body: dict[str, Any]) -> object:
    from model_gateway_bridge.surfaces.ollama.embeddings import embed_request

    return embed_request(body)


def _native(body: dict[str, Any]) -> object:
    from model_gateway_bridge.surfaces.native.request import parse_into
    from modelgateway.v1 import gateway_pb2 as pb

    message = pb.GenerateRequest()
    parse_into(body, message)
    return message


def _anthropic(body: dict[str, Any]) -> object:
    from model_gateway_bridge.surfaces.anthropic.request import parse_messages

    return parse_messages(body)


# --- provider stream parsers ----------------------------------------------------------------------


class _Content:
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def iter_any(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


class _Response:
    def __init__(self, pieces: list[bytes]) -> None:
        self.content = _Content(pieces)


def _pieces(data: bytes) -> list[bytes]:
    """The body as the network may deliver it: cut at points the input itself decides."""
    if not data:
        return []
    size = 1 + data[0] % 61
    return [data[i : i + size] for i in range(0, len(data), size)]


def stream_target(kind: str, base_url: str) -> Callable[[], Target]:
    def build() -> Target:
        from model_gateway.config import ProviderConfig
        from model_gateway.errors import GatewayError
        from model_gateway.providers.registry import build_provider
        from modelgateway.v1 import gateway_pb2 as pb

        provider = build_provider("fuzzed", ProviderConfig(kind=kind, base_url=base_url, api_key="sk-fuzz"))  # type: ignore[arg-type]
        http: Any = provider.http  # type: ignore[attr-defined]
        current: list[list[bytes]] = [[]]

        @contextlib.asynccontextmanager
        async def open_stream(*_args: Any, **_kwargs: Any) -> AsyncIterator[_Response]:
            yield _Response(current[0])

        http.open_stream = open_stream
        message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="fuzz")])
        request = pb.GenerateRequest(model="m", messages=[message])
        loop = asyncio.new_event_loop()

        async def drain() -> None:
            stream: Any = provider.stream(request, "m", timeout=5)  # an async generator
            async with contextlib.aclosing(stream) as chunks:
                async for _ in chunks:
                    pass

        def run(data: bytes) -> None:
            current[0] = _pieces(data)
            with contextlib.suppress(GatewayError):
                loop.run_until_complete(drain())

        return run

    return build


SPECS: tuple[Spec, ...] = (
    Spec("openai-chat", "request", ("openai/chat_*.wire.json", "golden:/v1/chat/completions"),
         request_target(_openai_chat)),
    Spec("openai-completion", "request", ("golden:/v1/completions",), request_target(_openai_completion)),
    Spec("openai-embeddings", "request", ("openai/embed*.wire.json", "golden:/v1/embeddings"),
         request_target(_openai_embeddings)),
    Spec("openai-responses", "request", ("golden:/v1/responses",), request_target(_responses)),
    Spec("ollama-chat", "request", ("ollama/chat*.wire.json", "golden:/api/chat"),
         request_target(_ollama_chat)),
    Spec("ollama-generate", "request", ("ollama/generate*.wire.json", "golden:/api/generate"),
         request_target(_ollama_generate)),
    Spec("ollama-embed", "request", ("ollama/embed*.wire.json", "golden:/api/embed"),
         request_target(_ollama_embed)),
    Spec("native-generate", "request", ("*/*.canonical.json", "golden:/api/v1/generate"),
         request_target(_native)),
    Spec("anthropic-messages", "request", ("anthropic/*request*.wire.json", "anthropic/messages*.wire.json",
         "golden:/v1/messages"), request_target(_anthropic)),
    Spec("openai-stream", "stream", ("openai/*.wire.sse",), stream_target("openai", "http://fuzz.invalid/v1")),
    Spec("ollama-stream", "stream", ("ollama/*.wire.ndjson",), stream_target("ollama", "http://fuzz.invalid")),
    Spec("anthropic-stream", "stream", ("anthropic/*.wire.sse",), stream_target("anthropic", "http://fuzz.invalid")),
    Spec("gemini-stream", "stream", ("gemini/*.wire.sse",), stream_target("gemini", "http://fuzz.invalid")),
)  # fmt: skip

BY_NAME = {spec.name: spec for spec in SPECS}
