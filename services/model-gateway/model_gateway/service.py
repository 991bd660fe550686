"""The ModelGateway gRPC servicer: adapts the pipeline to grpc.aio.

Here, and only here, gRPC metadata becomes a RequestContext (request id,
surface, credential, deadline), and errors become gRPC statuses (with
ErrorInfo and RetryInfo details).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any, NoReturn, TypeVar

import grpc
from grpc import aio

from model_gateway.core.context import RequestContext
from model_gateway.core.pipeline import Pipeline
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from model_gateway_common.route_headers import rate_limit_metadata, route_metadata
from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc

log = logging.getLogger("model_gateway.service")

Context = aio.ServicerContext[Any, Any]
T = TypeVar("T")


async def _abort(context: Context, error: GatewayError) -> NoReturn:
    status = error.to_status()
    await context.abort(
        error.code,
        error.message,
        trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),),
    )


async def _fail(context: Context, exc: Exception) -> NoReturn:
    """Any failure as a gRPC status; an unexpected one is logged, never shown."""
    if isinstance(exc, GatewayError):
        await _abort(context, exc)
    incident = uuid.uuid4().hex[:12]
    log.error("internal error %s: %r", incident, exc, exc_info=exc)
    await _abort(
        context,
        GatewayError(grpc.StatusCode.INTERNAL, Reason.INTERNAL, f"internal error (incident {incident})"),
    )


async def _unary(context: Context, call: Awaitable[T]) -> T:
    try:
        return await call
    except Exception as exc:
        await _fail(context, exc)


class ModelGatewayService(pb_grpc.ModelGatewayServicer):
    def __init__(self, pipeline: Pipeline, request_timeout_s: float) -> None:
        self.pipeline = pipeline
        self.request_timeout_s = request_timeout_s

    def _context(self, context: Context) -> RequestContext:
        left = context.time_remaining()
        seconds = self.request_timeout_s if left is None else min(left, self.request_timeout_s)
        return RequestContext.from_metadata(context.invocation_metadata(), Deadline(seconds))

    async def Generate(self, request: pb.GenerateRequest, context: Context) -> pb.GenerateResponse:
        # The route travels in the response itself; separate initial metadata
        # would cost unary calls an extra round through gRPC's completion queue.
        return await _unary(context, self.pipeline.generate(request, self._context(context)))

    async def StreamGenerate(
        self, request: pb.GenerateRequest, context: Context
    ) -> AsyncIterator[pb.StreamChunk]:
        try:
            ctx = self._context(context)
            attempt, chunks = await self.pipeline.stream(request, ctx)
            route = attempt.describe(request.model)
            route.cache = ctx.cache
            await context.send_initial_metadata(route_metadata(route) + rate_limit_metadata(ctx.rate_limits))
            async for chunk in chunks:
                yield chunk
        except Exception as exc:
            await _fail(context, exc)

    async def CountTokens(self, request: pb.GenerateRequest, context: Context) -> pb.CountTokensResponse:
        return await _unary(context, self.pipeline.count_tokens(request, self._context(context)))

    async def ListModels(self, request: pb.ListModelsRequest, context: Context) -> pb.ListModelsResponse:
        return self.pipeline.list_models()

    async def GetModel(self, request: pb.GetModelRequest, context: Context) -> pb.Model:
        return await _unary(context, self._get_model(request.name))

    async def _get_model(self, name: str) -> pb.Model:
        return self.pipeline.get_model(name)

    async def Health(self, request: pb.HealthRequest, context: Context) -> pb.HealthResponse:
        return await self.pipeline.health(request.detailed)

    async def Embed(self, request: pb.EmbedRequest, context: Context) -> pb.EmbedResponse:
        return await _unary(context, self.pipeline.embed(request, self._context(context)))
