"""OpenAIProvider: the translators of this package over the shared UpstreamHTTP, with timing and errors."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError, invalid
from model_gateway.providers.base import NO_SETTINGS, ModelSettings, Provider
from model_gateway.providers.estimate import estimate_missing_usage
from model_gateway.providers.http import UpstreamHTTP
from model_gateway.providers.openai.embed import EMBEDDINGS_PATH, embed_response, embed_translation
from model_gateway.providers.openai.errors import error_in_body
from model_gateway.providers.openai.flavors import flavor_of
from model_gateway.providers.openai.models import MODELS_PATH, model_ids
from model_gateway.providers.openai.request import COMPLETIONS_PATH, dropped_params, translate
from model_gateway.providers.openai.response import response_from_chat, response_from_completion
from model_gateway.providers.openai.stream import DONE, StreamState
from model_gateway.providers.readers import JSON, WireError
from model_gateway.providers.sse import SSEDecoder, SSEEvent
from modelgateway.v1 import gateway_pb2 as pb


class OpenAIProvider(Provider):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        key = config.api_key.get_secret_value() if config.api_key else ""
        self.http = UpstreamHTTP(name, config, headers={"Authorization": f"Bearer {key}"} if key else {})
        # Which OpenAI-compatible server this is: what is sent beyond OpenAI's own parameters.
        self.flavor = flavor_of(config)

    @property
    def address(self) -> str:
        return self.http.address

    async def close(self) -> None:
        await self.http.close()

    def _wire_error(self, exc: WireError) -> GatewayError:
        return self.http.protocol_error(str(exc))

    def _raise_in_band(self, obj: Any) -> None:
        error = error_in_body(obj)
        if error is not None:
            raise self.http.in_band_error(*error)

    def dropped_params(
        self,
        request: pb.GenerateRequest | pb.EmbedRequest,
        model: str,
        settings: ModelSettings = NO_SETTINGS,
    ) -> list[str]:
        if isinstance(request, pb.EmbedRequest):
            return embed_translation(request, model, self.flavor)[1]
        return dropped_params(request, model, self.flavor, settings)

    async def generate(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.GenerateResponse:
        translation = translate(request, model, False, self.flavor, settings)
        path, body = translation.path, translation.body
        started = time.perf_counter_ns()
        obj = await self.http.request_json("POST", path, timeout, body)
        total = time.perf_counter_ns() - started
        self._raise_in_band(obj)
        try:
            response = response_from_completion(obj) if path == COMPLETIONS_PATH else response_from_chat(obj)
        except WireError as exc:
            raise self._wire_error(exc) from None
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
        translation = translate(request, model, True, self.flavor, settings)
        path, body = translation.path, translation.body
        state = StreamState()
        decoder = SSEDecoder()
        saw_done = False
        started = time.perf_counter_ns()
        first_chunk = 0
        async with self.http.open_stream(path, timeout, body) as response:
            lines = self.http.iter_lines(response)
            try:
                async for line in lines:
                    event = decoder.feed(line)
                    if event is None:
                        continue
                    if event.data.strip() == DONE:
                        saw_done = True
                        break
                    delta = state.consume(self._parse(event, terminated=True))
                    if delta is not None:
                        first_chunk = first_chunk or time.perf_counter_ns() - started
                        yield pb.StreamChunk(delta=delta)
                else:
                    # The body ended: an event left without its blank line still counts if whole.
                    tail = decoder.flush()
                    if tail is not None and tail.data.strip() == DONE:
                        saw_done = True
                    elif tail is not None:
                        delta = state.consume(self._parse(tail, terminated=False))
                        if delta is not None:
                            first_chunk = first_chunk or time.perf_counter_ns() - started
                            yield pb.StreamChunk(delta=delta)
            finally:
                # Close the line reader now, not at garbage collection, when the client goes away.
                close = getattr(lines, "aclose", None)
                if close is not None:
                    await close()
        # llama.cpp and some others omit [DONE]; a finish_reason is then the proof of a whole answer.
        if not saw_done and state.finish_reason is None:
            raise self.http.interrupted("the body ended before a finish_reason or [DONE]")
        final = state.final(request)
        total = time.perf_counter_ns() - started
        final.timings.total_ns = total
        final.timings.first_chunk_ns = first_chunk
        if first_chunk:
            final.timings.eval_ns = total - first_chunk
        yield pb.StreamChunk(final=final)

    def _parse(self, event: SSEEvent, terminated: bool) -> JSON:
        """One event's JSON object; errors in band, cut and non-JSON events raise GatewayError."""
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            if not terminated:
                raise self.http.interrupted("the body ended in the middle of an event") from None
            if event.event == "error":
                raise self.http.in_band_error(event.data) from None
            raise self.http.protocol_error(f"a stream event is not JSON: {event.data[:80]!r}") from None
        self._raise_in_band(obj)
        if event.event == "error":
            raise self.http.in_band_error(event.data)
        if not isinstance(obj, dict):
            raise self.http.protocol_error(f"a stream event is not a JSON object: {event.data[:80]!r}")
        return obj

    async def embed(
        self,
        request: pb.EmbedRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.EmbedResponse:
        if not request.input:
            raise invalid("input", "must not be empty")
        body, _ = embed_translation(request, model, self.flavor)
        obj = await self.http.request_json("POST", EMBEDDINGS_PATH, timeout, body)
        self._raise_in_band(obj)
        try:
            return embed_response(obj, request)
        except WireError as exc:
            raise self._wire_error(exc) from None

    async def list_models(self, timeout: float) -> list[str]:
        obj = await self.http.request_json("GET", MODELS_PATH, timeout)
        try:
            return model_ids(obj)
        except WireError as exc:
            raise self._wire_error(exc) from None
