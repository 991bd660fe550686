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
from model_gateway.errors import GatewayError, Reason, invalid
from model_gateway.storage.database import Database
from model_gateway.storage.usage import GROUPS, usage_report
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
    def __init__(
        self, pipeline: Pipeline, request_timeout_s: float, database: Database | None = None
    ) -> None:
        self.pipeline = pipeline
        self.request_timeout_s = request_timeout_s
        self.database = database  # the usage ledger's, for GetUsage

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
        except Exception as exc:
            await _fail(context, exc)
        try:
            route = attempt.describe(request.model)
            route.cache = ctx.cache
            route.dropped_params.extend(self.pipeline.dropped(request, attempt))
            await context.send_initial_metadata(route_metadata(route) + rate_limit_metadata(ctx.rate_limits))
            async for chunk in chunks:
                yield chunk
        except Exception as exc:
            await _fail(context, exc)
        finally:
            # Also when the client left before the first chunk: the call still ends, once.
            await chunks.aclose()

    async def CountTokens(self, request: pb.GenerateRequest, context: Context) -> pb.CountTokensResponse:
        return await _unary(context, self.pipeline.count_tokens(request, self._context(context)))

    async def ListModels(self, request: pb.ListModelsRequest, context: Context) -> pb.ListModelsResponse:
        return await _unary(context, self.pipeline.list_models(self._context(context)))

    async def GetModel(self, request: pb.GetModelRequest, context: Context) -> pb.Model:
        return await _unary(context, self.pipeline.get_model(request.name, self._context(context)))

    async def Health(self, request: pb.HealthRequest, context: Context) -> pb.HealthResponse:
        return await self.pipeline.health(request.detailed)

    async def Embed(self, request: pb.EmbedRequest, context: Context) -> pb.EmbedResponse:
        return await _unary(context, self.pipeline.embed(request, self._context(context)))

    async def GetUsage(self, request: pb.GetUsageRequest, context: Context) -> pb.GetUsageResponse:
        return await _unary(context, self._usage(request, self._context(context)))

    async def _usage(self, request: pb.GetUsageRequest, ctx: RequestContext) -> pb.GetUsageResponse:
        await self.pipeline.admit(ctx, "GetUsage")
        if not ctx.principal.admin:
            who = "an anonymous caller" if ctx.principal.anonymous else f"key '{ctx.principal.name}'"
            raise GatewayError(
                grpc.StatusCode.PERMISSION_DENIED,
                Reason.PERMISSION_DENIED,
                f"usage is for admin keys only, and {who} is not one",
            )
        by = request.by or "key"
        if by not in GROUPS:
            raise invalid("by", f"'{by}' is not one of {', '.join(GROUPS)}")
        if self.database is None:
            raise GatewayError(grpc.StatusCode.UNAVAILABLE, Reason.NOT_IMPLEMENTED, "no usage ledger here")
        try:
            rows = await usage_report(self.database, by, request.since or None, request.until or None)
        except ValueError as exc:
            field, _, problem = str(exc).partition(": ")
            raise invalid(field, problem) from None
        return pb.GetUsageResponse(
            by=by,
            rows=[
                pb.UsageRow(
                    group=row.group,
                    calls=row.calls,
                    errors=row.errors,
                    input_tokens=row.input_tokens,
                    output_tokens=row.output_tokens,
                    cached_input_tokens=row.cached_input_tokens,
                    cost_usd=row.cost_usd,
                    saved_usd=row.saved_usd,
                )
                for row in rows
            ],
        )
