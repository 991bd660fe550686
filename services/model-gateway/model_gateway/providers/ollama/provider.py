"""OllamaProvider: the translators of this package over the shared UpstreamHTTP, with errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError
from model_gateway.providers.base import NO_SETTINGS, ModelSettings, Provider
from model_gateway.providers.http import UpstreamHTTP, upstream_message
from model_gateway.providers.ollama.embed import EMBED_PATH, embed_body, embed_response
from model_gateway.providers.ollama.models import SHOW_PATH, TAGS_PATH, model_names
from model_gateway.providers.ollama.request import CHAT_PATH, request_body
from model_gateway.providers.ollama.response import response_from
from model_gateway.providers.ollama.stream import StreamTranslator
from model_gateway.providers.ollama.wire import JSON, MALFORMED, read_object
from modelgateway.v1 import gateway_pb2 as pb

PS_PATH = "/api/ps"  # the models loaded in memory now


class OllamaProvider(Provider):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        headers: dict[str, str] = {}
        if config.api_key is not None:
            # Plain local Ollama needs no key; ollama.com and proxies in front of it take a bearer token.
            headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        self.http = UpstreamHTTP(name, config, headers=headers)

    @property
    def address(self) -> str:
        return self.http.address

    async def close(self) -> None:
        await self.http.close()

    def _reply(self, reply: Any, path: str) -> JSON:
        if not isinstance(reply, dict):
            raise self.http.protocol_error(f"reply to {path} is not a JSON object")
        if "error" in reply:
            raise self.http.in_band_error(upstream_message(orjson.dumps(reply)))
        return reply

    def _malformed(self, path: str, exc: Exception) -> GatewayError:
        return self.http.protocol_error(f"reply to {path}: {exc}")

    async def generate(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.GenerateResponse:
        path, body = request_body(request, model, stream=False)
        reply = self._reply(await self.http.request_json("POST", path, timeout, body), path)
        try:
            return response_from(reply, request, chat=path == CHAT_PATH)
        except MALFORMED as exc:
            raise self._malformed(path, exc) from None

    async def stream(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> AsyncIterator[pb.StreamChunk]:
        path, body = request_body(request, model, stream=True)
        translator = StreamTranslator(request, chat=path == CHAT_PATH)
        async with self.http.open_stream(path, timeout, body) as response:
            async for line in self.http.iter_lines(response):
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise self.http.protocol_error(f"stream line is not JSON: {line[:120]!r}") from None
                if isinstance(obj, dict) and "error" in obj:
                    raise self.http.in_band_error(upstream_message(line))
                try:
                    chunks = translator.feed(read_object(obj, "stream line"))
                except MALFORMED as exc:
                    raise self._malformed(path, exc) from None
                for chunk in chunks:
                    yield chunk
                if translator.done:
                    return
        raise self.http.interrupted('the NDJSON stream ended without a "done": true line')

    async def embed(
        self,
        request: pb.EmbedRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.EmbedResponse:
        reply = self._reply(
            await self.http.request_json("POST", EMBED_PATH, timeout, embed_body(request, model)), EMBED_PATH
        )
        try:
            return embed_response(reply, request)
        except MALFORMED as exc:
            raise self._malformed(EMBED_PATH, exc) from None

    async def list_models(self, timeout: float) -> list[str]:
        reply = self._reply(await self.http.request_json("GET", TAGS_PATH, timeout), TAGS_PATH)
        try:
            return model_names(reply)
        except MALFORMED as exc:
            raise self._malformed(TAGS_PATH, exc) from None

    async def loaded_models(self, timeout: float) -> set[str] | None:
        """The models Ollama holds in memory (GET /api/ps), by name and model field."""
        reply = self._reply(await self.http.request_json("GET", PS_PATH, timeout), PS_PATH)
        listed = reply.get("models")
        if not isinstance(listed, list):
            raise self.http.protocol_error(f'reply to {PS_PATH} has no "models" list')
        names: set[str] = set()
        for entry in listed:
            if isinstance(entry, dict):
                names.update(v for k in ("name", "model") if isinstance(v := entry.get(k), str) and v)
        return names

    async def show(self, model: str, timeout: float) -> JSON:
        """The raw POST /api/show reply (details, parameters, template, capabilities)."""
        return self._reply(
            await self.http.request_json("POST", SHOW_PATH, timeout, {"model": model}), SHOW_PATH
        )
