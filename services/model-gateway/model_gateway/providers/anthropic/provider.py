"""AnthropicProvider: the translators of this package over a pooled HTTP client, with timing and errors."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from model_gateway.config import ProviderConfig
from model_gateway.providers.anthropic.errors import AnthropicHTTP, error_fields
from model_gateway.providers.anthropic.request import (
    COUNT_TOKENS_PATH,
    MESSAGES_PATH,
    count_tokens_body,
    dropped,
    translate,
)
from model_gateway.providers.anthropic.response import response_from_message
from model_gateway.providers.anthropic.stream import StreamError, StreamState
from model_gateway.providers.base import NO_SETTINGS, ModelSettings, Provider
from model_gateway.providers.estimate import estimate_missing_usage, output_text
from model_gateway.providers.readers import WireError
from model_gateway.providers.sse import SSEDecoder, SSEEvent
from model_gateway.tokens import estimate_usage
from modelgateway.v1 import gateway_pb2 as pb

API_VERSION = "2023-06-01"
MODELS_PATH = "/v1/models"
_MODEL_PAGES = 50  # 1000 models a page: far more than Anthropic lists
BETA_HEADER = "anthropic-beta"


class AnthropicProvider(Provider):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        # The SDKs' base URL has no /v1 (the paths carry it); accept one ending in /v1 too.
        if config.url.endswith("/v1"):
            config = config.model_copy(update={"base_url": config.url.removesuffix("/v1")})
        super().__init__(name, config)
        configured = {key.lower() for key in config.headers}
        headers: dict[str, str] = {}
        if "anthropic-version" not in configured:
            headers["anthropic-version"] = API_VERSION
        if config.api_key:
            headers["x-api-key"] = config.api_key.get_secret_value()
        self.http = AnthropicHTTP(name, config, headers)
        self._config_betas = [
            flag.strip()
            for key, value in config.headers.items()
            if key.lower() == BETA_HEADER
            for flag in value.split(",")
            if flag.strip()
        ]

    @property
    def address(self) -> str:
        return self.http.address

    async def close(self) -> None:
        await self.http.close()

    def _headers(self, betas: list[str]) -> Mapping[str, str] | None:
        """The anthropic-beta header when the request adds flags to the configured ones."""
        if not betas:
            return None
        return {BETA_HEADER: ",".join(dict.fromkeys([*self._config_betas, *betas]))}

    def _raise_in_band(self, obj: Any) -> None:
        # A compatible proxy may answer 200 with Anthropic's error object.
        if isinstance(obj, dict) and obj.get("type") == "error":
            raise self.http.stream_error(*error_fields(obj))

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
        translation = translate(request, model, settings, stream=False)
        started = time.perf_counter_ns()
        obj = await self.http.request_json(
            "POST", MESSAGES_PATH, timeout, translation.body, self._headers(translation.betas)
        )
        total = time.perf_counter_ns() - started
        self._raise_in_band(obj)
        try:
            response = response_from_message(obj, translation.answer_tool)
        except WireError as exc:
            raise self.http.protocol_error(str(exc)) from None
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
        translation = translate(request, model, settings, stream=True)
        state = StreamState(translation.answer_tool)
        decoder = SSEDecoder()
        started = time.perf_counter_ns()
        first_chunk = 0
        headers = self._headers(translation.betas)
        async with self.http.open_stream(MESSAGES_PATH, timeout, translation.body, headers) as response:
            lines = self.http.iter_lines(response)
            try:
                async for line in lines:
                    event = decoder.feed(line)
                    if event is None:
                        continue
                    delta = self._consume(state, event, terminated=True)
                    if delta is not None:
                        first_chunk = first_chunk or time.perf_counter_ns() - started
                        yield pb.StreamChunk(delta=delta)
                    if state.stopped:
                        break
                else:
                    # The body ended: an event left without its blank line still counts if whole.
                    tail = decoder.flush()
                    if tail is not None:
                        delta = self._consume(state, tail, terminated=False)
                        if delta is not None:
                            first_chunk = first_chunk or time.perf_counter_ns() - started
                            yield pb.StreamChunk(delta=delta)
            finally:
                # Close the line reader now, not at garbage collection, when the client goes away.
                close = getattr(lines, "aclose", None)
                if close is not None:
                    await close()
        if not state.finished:
            raise self.http.interrupted("the body ended before message_delta with a stop_reason")
        final = state.final()
        if not final.HasField("usage"):
            final.usage.CopyFrom(estimate_usage(request, output_text(state.message())))
        total = time.perf_counter_ns() - started
        final.timings.total_ns = total
        final.timings.first_chunk_ns = first_chunk
        if first_chunk:
            final.timings.eval_ns = total - first_chunk
        yield pb.StreamChunk(final=final)

    def _consume(self, state: StreamState, event: SSEEvent, terminated: bool) -> pb.Delta | None:
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            if not terminated:
                raise self.http.interrupted("the body ended in the middle of an event") from None
            if event.event == "error":
                raise self.http.stream_error("api_error", event.data) from None
            raise self.http.protocol_error(f"a stream event is not JSON: {event.data[:80]!r}") from None
        if not isinstance(obj, dict):
            raise self.http.protocol_error(f"a stream event is not a JSON object: {event.data[:80]!r}")
        if event.event == "error" and obj.get("type") != "error":
            obj = {"type": "error", "error": obj.get("error", obj)}  # named an error, shaped otherwise
        try:
            return state.consume(obj)
        except StreamError as exc:
            raise self.http.stream_error(exc.error_type, exc.message) from None

    async def list_models(self, timeout: float) -> list[str]:
        """Every model id of `GET /v1/models`, following its pages."""
        names: list[str] = []
        query: dict[str, str] = {"limit": "1000"}
        deadline = time.monotonic() + timeout
        for _ in range(_MODEL_PAGES):
            left = deadline - time.monotonic()
            obj = await self.http.request_json("GET", f"{MODELS_PATH}?{urlencode(query)}", left)
            data = obj.get("data") if isinstance(obj, dict) else None
            if not isinstance(data, list):
                raise self.http.protocol_error("the /v1/models reply has no data list")
            names += [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
            last = obj.get("last_id")
            if not obj.get("has_more") or not isinstance(last, str) or not last:
                break
            query["after_id"] = last
        return names

    async def count_tokens(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> int:
        """The prompt's input tokens by `POST /v1/messages/count_tokens`: no completion, nothing billed."""
        translation = translate(request, model, settings, stream=False)
        obj = await self.http.request_json(
            "POST",
            COUNT_TOKENS_PATH,
            timeout,
            count_tokens_body(translation.body),
            self._headers(translation.betas),
        )
        self._raise_in_band(obj)
        tokens = obj.get("input_tokens") if isinstance(obj, dict) else None
        if not isinstance(tokens, int) or isinstance(tokens, bool):
            raise self.http.protocol_error("the count_tokens reply has no input_tokens")
        return tokens
