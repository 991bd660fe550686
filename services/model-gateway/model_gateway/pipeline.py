"""The gateway's request pipeline, independent of gRPC: validate → route →
call with failover → price → reply.

Later steps (auth, limits, cache, usage ledger) slot in here, once, so every
front door gets the same policy.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

from model_gateway import __version__
from model_gateway.config import GatewayConfig
from model_gateway.failover import Attempt, Deadline, call_unary, open_stream
from model_gateway.genai import chat_operation, embed_operation
from model_gateway.pricing import cost_of
from model_gateway.providers import Provider
from model_gateway.registry import Registry
from model_gateway.validation import validate_embed, validate_generate
from modelgateway.v1 import gateway_pb2 as pb

HEALTH_PROBE_TIMEOUT_S = 3.0


def _new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _system_first(request: pb.GenerateRequest) -> None:
    """`system` beside messages becomes the first message, so providers see one shape."""
    if request.system and request.messages:
        system = pb.Message(role=pb.ROLE_SYSTEM, content=[pb.ContentPart(text=request.system)])
        request.messages.insert(0, system)
        request.system = ""


class Pipeline:
    def __init__(self, config: GatewayConfig, providers: dict[str, Provider]) -> None:
        self.config = config
        self.registry = Registry(config)
        self.providers = providers

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.providers.values()), return_exceptions=True)

    async def generate(self, request: pb.GenerateRequest, deadline: Deadline) -> pb.GenerateResponse:
        validate_generate(request)
        _system_first(request)
        routes = self.registry.routes(request.model)
        response, attempt = await call_unary(
            request.model,
            routes,
            self.providers,
            deadline,
            lambda provider, route, left: provider.generate(
                request, route.deployment.model, left, route.settings
            ),
            chat_operation(request, stream=False),
        )
        response.id = response.id or _new_id()
        response.model = request.model
        response.created = response.created or int(time.time())
        response.route.CopyFrom(attempt.describe(request.model))
        response.cost.CopyFrom(cost_of(attempt.route.model.pricing, response.usage))
        return response

    async def stream(
        self, request: pb.GenerateRequest, deadline: Deadline
    ) -> tuple[Attempt, AsyncIterator[pb.StreamChunk]]:
        """The route that answered, and its chunks stamped with id, model and (final) route and cost.

        The route is known before the first chunk is sent, so a front door
        can put it in response headers.
        """
        validate_generate(request)
        _system_first(request)
        routes = self.registry.routes(request.model)
        first, rest, attempt = await open_stream(
            request.model,
            routes,
            self.providers,
            deadline,
            lambda provider, route, left: provider.stream(
                request, route.deployment.model, left, route.settings
            ),
            chat_operation(request, stream=True),
        )
        return attempt, self._stamp(request, attempt, first, rest)

    async def _stamp(
        self,
        request: pb.GenerateRequest,
        attempt: Attempt,
        first: pb.StreamChunk,
        rest: AsyncIterator[pb.StreamChunk],
    ) -> AsyncIterator[pb.StreamChunk]:
        stream_id, created = _new_id(), int(time.time())
        chunk: pb.StreamChunk | None = first
        try:
            while chunk is not None:
                chunk.id, chunk.model, chunk.created = stream_id, request.model, created
                if chunk.HasField("final"):
                    chunk.final.route.CopyFrom(attempt.describe(request.model))
                    chunk.final.cost.CopyFrom(cost_of(attempt.route.model.pricing, chunk.final.usage))
                yield chunk
                chunk = await anext(rest, None)
        finally:
            # Closes the upstream request when the client goes away mid-stream.
            close = getattr(rest, "aclose", None)
            if close is not None:
                await close()

    async def embed(self, request: pb.EmbedRequest, deadline: Deadline) -> pb.EmbedResponse:
        validate_embed(request)
        routes = self.registry.routes(request.model)
        response, attempt = await call_unary(
            request.model,
            routes,
            self.providers,
            deadline,
            lambda provider, route, left: provider.embed(
                request, route.deployment.model, left, route.settings
            ),
            embed_operation(request),
        )
        response.model = request.model
        response.route.CopyFrom(attempt.describe(request.model))
        response.cost.CopyFrom(cost_of(attempt.route.model.pricing, response.usage))
        return response

    def list_models(self) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=[self.registry.describe(m) for m in self.registry.models()])

    def get_model(self, name: str) -> pb.Model:
        return self.registry.describe(self.registry.resolve(name))

    async def health(self, detailed: bool) -> pb.HealthResponse:
        if not detailed:
            return pb.HealthResponse(status=pb.HealthResponse.STATUS_SERVING, version=__version__)
        checks = await asyncio.gather(*(self._probe(name, p) for name, p in self.providers.items()))
        healthy = all(c.healthy for c in checks)
        status = pb.HealthResponse.STATUS_SERVING if healthy else pb.HealthResponse.STATUS_DEGRADED
        return pb.HealthResponse(status=status, version=__version__, providers=checks)

    async def _probe(self, name: str, provider: Provider) -> pb.ProviderHealth:
        started = time.perf_counter()
        result = pb.ProviderHealth(name=name, kind=provider.kind, address=provider.address, healthy=True)
        try:
            await asyncio.wait_for(provider.list_models(HEALTH_PROBE_TIMEOUT_S), HEALTH_PROBE_TIMEOUT_S)
        except Exception as exc:  # any failure is a health finding, not a crash
            result.healthy = False
            result.error = str(exc) or type(exc).__name__
        result.latency_ms = (time.perf_counter() - started) * 1000
        return result
