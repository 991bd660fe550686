"""An in-process provider for the auto phases that call a model: deterministic embeddings (a bag of
hashed words, so prompts sharing words are near) and scripted chat answers (text, an error, or a hang)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError
from model_gateway.providers.base import NO_SETTINGS, ModelSettings, Provider
from modelgateway.v1 import gateway_pb2 as pb

DIMENSIONS = 64
HANG = "<hang>"


def bag_of_words(text: str) -> list[float]:
    vector = [0.0] * DIMENSIONS
    for word in re.findall(r"[a-z]+", text.lower()):
        vector[hashlib.blake2b(word.encode(), digest_size=2).digest()[0] % DIMENSIONS] += 1.0
    return vector


@dataclass
class AnsweringProvider(Provider):
    name: str
    answers: list[str | GatewayError] = field(default_factory=list)  # one per generate call; then "ok"
    embed_error: GatewayError | None = None
    embed_hang: bool = False
    embedded: list[list[str]] = field(default_factory=list)  # the texts of every embed call
    asked: list[pb.GenerateRequest] = field(default_factory=list)
    loaded: set[str] | None = None  # what loaded_models answers
    ps_calls: int = 0

    def __post_init__(self) -> None:
        super().__init__(self.name, ProviderConfig(kind="openai", base_url="http://127.0.0.1:9/v1"))

    async def embed(
        self, request: pb.EmbedRequest, model: str, timeout: float, settings: ModelSettings = NO_SETTINGS
    ) -> pb.EmbedResponse:
        self.embedded.append(list(request.input))
        if self.embed_hang:
            await asyncio.sleep(timeout + 1)
        if self.embed_error is not None:
            raise self.embed_error
        return pb.EmbedResponse(
            model=model, embeddings=[pb.Embedding(values=bag_of_words(t)) for t in request.input]
        )

    async def generate(
        self, request: pb.GenerateRequest, model: str, timeout: float, settings: ModelSettings = NO_SETTINGS
    ) -> pb.GenerateResponse:
        self.asked.append(request)
        answer = self.answers.pop(0) if self.answers else "ok"
        if isinstance(answer, GatewayError):
            raise answer
        if answer == HANG:
            await asyncio.sleep(timeout + 1)
        return pb.GenerateResponse(
            model=model,
            message=pb.Message(role=pb.ROLE_ASSISTANT, content=[pb.ContentPart(text=answer)]),
            finish_reason=pb.FINISH_REASON_STOP,
        )

    async def stream(
        self, request: pb.GenerateRequest, model: str, timeout: float, settings: ModelSettings = NO_SETTINGS
    ) -> AsyncIterator[pb.StreamChunk]:
        reply = await self.generate(request, model, timeout, settings)
        yield pb.StreamChunk(final=pb.FinalChunk(finish_reason=reply.finish_reason))

    async def list_models(self, timeout: float) -> list[str]:
        return []

    async def loaded_models(self, timeout: float) -> set[str] | None:
        self.ps_calls += 1
        return None if self.loaded is None else set(self.loaded)

    @property
    def address(self) -> str:
        return "http://127.0.0.1:9"


def user(text: str) -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model="auto", messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])]
    )
