"""GeminiProvider: the translators of this package over UpstreamHTTP, with timing and errors.

The API key travels in the `x-goog-api-key` header (never in the URL, where
it would reach logs); the base URL defaults to
https://generativelanguage.googleapis.com and `/v1beta` is added unless the
configured URL already names a version.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import grpc
import orjson

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError, Reason, invalid
from model_gateway.providers.base import NO_SETTINGS, ModelSettings, Provider
from model_gateway.providers.estimate import estimate_missing_usage
from model_gateway.providers.gemini.embed import embed_body, embed_response
from model_gateway.providers.gemini.errors import GeminiHTTP, status_of
from model_gateway.providers.gemini.models import MAX_PAGES, MODELS_PATH, PAGE_SIZE, models_page
from model_gateway.providers.gemini.request import count_tokens_body, dropped, generate_body
from model_gateway.providers.gemini.response import response_from
from model_gateway.providers.gemini.stream import StreamState
from model_gateway.providers.gemini.wire import JSON, FailedFinish, WireError, api_root, method_path, read_int
from model_gateway.providers.sse import SSEDecoder, SSEEvent
from modelgateway.v1 import gateway_pb2 as pb


class GeminiProvider(Provider):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        key = config.api_key.get_secret_value() if config.api_key else ""
        self.http = GeminiHTTP(name, config, headers={"x-goog-api-key": key} if key else {})
        self.http.base_url = api_root(config.url)

    @property
    def address(self) -> str:
        return self.http.address

    async def close(self) -> None:
        await self.http.close()

    def _check(self, obj: Any) -> None:
        """An error Gemini put inside a 200 (a stream chunk or body that is a google.rpc.Status)."""
        rpc = status_of(obj)
        if rpc is not None:
            raise self.http.rpc_error(rpc, None)

    def dropped_params(
        self,
        request: pb.GenerateRequest | pb.EmbedRequest,
        model: str,
        settings: ModelSettings = NO_SETTINGS,
    ) -> list[str]:
        return [] if isinstance(request, pb.EmbedRequest) else dropped(request)

    async def generate(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.GenerateResponse:
        body = generate_body(request, settings)
        started = time.perf_counter_ns()
        obj = await self.http.request_json("POST", method_path(model, "generateContent"), timeout, body)
        total = time.perf_counter_ns() - started
        self._check(obj)
        try:
            response = response_from(obj)
        except WireError as exc:
            raise self.http.protocol_error(str(exc)) from None
        except FailedFinish as exc:
            raise self.http.failed_finish(exc.reason, exc.message) from None
        estimate_missing_usage(response, request)
        response.timings.total_ns = total
        return response

    async def stream(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> AsyncIterator[pb.StreamChunk]:
        body = generate_body(request, settings)
        path = method_path(model, "streamGenerateContent") + "?alt=sse"
        state = StreamState()
        decoder = SSEDecoder()
        started = time.perf_counter_ns()
        first_chunk = 0
        async with self.http.open_stream(path, timeout, body) as response:
            lines = self.http.iter_lines(response)
            try:
                async for line in lines:
                    event = decoder.feed(line)
                    if event is None:
                        continue
                    for delta in self._consume(state, event, terminated=True):
                        first_chunk = first_chunk or time.perf_counter_ns() - started
                        yield pb.StreamChunk(delta=delta)
                tail = decoder.flush()  # the last event, when the body ended without its blank line
                if tail is not None:
                    for delta in self._consume(state, tail, terminated=False):
                        first_chunk = first_chunk or time.perf_counter_ns() - started
                        yield pb.StreamChunk(delta=delta)
            finally:
                # Close the line reader now, not at garbage collection, when the client goes away.
                close = getattr(lines, "aclose", None)
                if close is not None:
                    await close()
        if not state.finished:
            raise self.http.interrupted("the body ended before a chunk with a finishReason")
        final = state.final(request)
        total = time.perf_counter_ns() - started
        final.timings.total_ns = total
        final.timings.first_chunk_ns = first_chunk
        if first_chunk:
            final.timings.eval_ns = total - first_chunk
        yield pb.StreamChunk(final=final)

    def _consume(self, state: StreamState, event: SSEEvent, terminated: bool) -> list[pb.Delta]:
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            if not terminated:
                raise self.http.interrupted("the body ended in the middle of an event") from None
            raise self.http.protocol_error(f"a stream event is not JSON: {event.data[:80]!r}") from None
        self._check(obj)
        if not isinstance(obj, dict):
            raise self.http.protocol_error(f"a stream event is not a JSON object: {event.data[:80]!r}")
        try:
            return state.consume(obj)
        except WireError as exc:
            raise self.http.protocol_error(str(exc)) from None
        except FailedFinish as exc:
            raise self.http.failed_finish(exc.reason, exc.message) from None

    async def count_tokens(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> int:
        """Input tokens of `request` as Gemini counts them (system instruction and tools included)."""
        body = count_tokens_body(request, model, settings)
        obj = await self.http.request_json("POST", method_path(model, "countTokens"), timeout, body)
        self._check(obj)
        if not isinstance(obj, dict) or "totalTokens" not in obj:
            raise self.http.protocol_error("the countTokens reply has no totalTokens")
        return read_int(obj["totalTokens"])

    async def embed(
        self,
        request: pb.EmbedRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.EmbedResponse:
        if not request.input:
            raise invalid("input", "must not be empty")
        body = embed_body(request, model, settings)
        obj = await self.http.request_json("POST", method_path(model, "batchEmbedContents"), timeout, body)
        self._check(obj)
        try:
            return embed_response(obj, request)
        except WireError as exc:
            raise self.http.protocol_error(str(exc)) from None

    async def list_models(self, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        ids: list[str] = []
        token = ""
        for _ in range(MAX_PAGES):
            query: JSON = {"pageSize": PAGE_SIZE}
            if token:
                query["pageToken"] = token
            left = deadline - time.monotonic()
            if left <= 0:
                raise GatewayError(
                    grpc.StatusCode.UNAVAILABLE,
                    Reason.UPSTREAM_TIMEOUT,
                    f"provider '{self.name}' ({self.address}) timed out listing models",
                    metadata={"provider": self.name},
                )
            obj = await self.http.request_json("GET", f"{MODELS_PATH}?{urlencode(query)}", left)
            self._check(obj)
            try:
                page, token = models_page(obj)
            except WireError as exc:
                raise self.http.protocol_error(str(exc)) from None
            ids += page
            if not token:
                break
        return ids
