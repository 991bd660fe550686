"""The /api/v1 routes, one per google.api.http annotation of the ModelGateway service."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from model_gateway_bridge.client import call_generate, call_unary, open_stream
from model_gateway_bridge.framing import json_response, ndjson_response, sse_response
from model_gateway_bridge.state import state_of
from model_gateway_bridge.streaming import stream_body
from model_gateway_bridge.surfaces.native.request import parse_into
from model_gateway_bridge.surfaces.native.response import to_json
from model_gateway_bridge.surfaces.native.stream import NDJSON, SSE
from modelgateway.v1 import gateway_pb2 as pb

router = APIRouter(prefix="/api/v1")


@router.post("/generate")
async def generate(request: Request) -> Response:
    state = state_of(request)
    message = pb.GenerateRequest()
    parse_into(await state.json_body(request), message)
    ctx = state.context(request)
    if message.stream:
        opened = await open_stream(state.client, message, ctx)
        return sse_response(stream_body(opened, SSE), headers=opened.headers)
    response, headers = await call_generate(state.client, message, ctx)
    return json_response(to_json(response), headers=headers)


@router.post("/generate:stream")
async def stream_generate(request: Request) -> Response:
    state = state_of(request)
    message = pb.GenerateRequest()
    parse_into(await state.json_body(request), message)
    opened = await open_stream(state.client, message, state.context(request))
    return ndjson_response(stream_body(opened, NDJSON), headers=opened.headers)


@router.get("/models")
async def list_models(request: Request) -> Response:
    state = state_of(request)
    ctx = state.context(request)
    reply = await call_unary(
        state.client.stub.ListModels(pb.ListModelsRequest(), metadata=ctx.metadata, timeout=ctx.timeout), ctx
    )
    return json_response(to_json(reply))


@router.get("/models/{name:path}")
async def get_model(name: str, request: Request) -> Response:
    state = state_of(request)
    ctx = state.context(request)
    reply = await call_unary(
        state.client.stub.GetModel(pb.GetModelRequest(name=name), metadata=ctx.metadata, timeout=ctx.timeout),
        ctx,
    )
    return json_response(to_json(reply))


async def _health(request: Request, detailed: bool) -> Response:
    state = state_of(request)
    ctx = state.context(request)
    call = state.client.stub.Health(
        pb.HealthRequest(detailed=detailed), metadata=ctx.metadata, timeout=ctx.timeout
    )
    reply: pb.HealthResponse = await call_unary(call, ctx)
    status = 200 if reply.status != pb.HealthResponse.STATUS_NOT_SERVING else 503
    return json_response(to_json(reply), status=status)


@router.get("/health")
async def health(request: Request, detailed: bool = False) -> Response:
    return await _health(request, detailed)


@router.get("/health/detailed")
async def health_detailed(request: Request) -> Response:
    return await _health(request, True)


@router.post("/embed")
async def embed(request: Request) -> Response:
    state = state_of(request)
    message = pb.EmbedRequest()
    parse_into(await state.json_body(request), message)
    ctx = state.context(request)
    reply = await call_unary(
        state.client.stub.Embed(message, metadata=ctx.metadata, timeout=ctx.timeout), ctx
    )
    return json_response(to_json(reply))


@router.get("/usage")
async def get_usage(request: Request) -> Response:
    """rpc GetUsage: the ledger's figures by key, model, provider or day (admin keys only)."""
    state = state_of(request)
    ctx = state.context(request)
    query = request.query_params
    message = pb.GetUsageRequest(
        by=query.get("by", ""), since=query.get("since", ""), until=query.get("until", "")
    )
    reply = await call_unary(
        state.client.stub.GetUsage(message, metadata=ctx.metadata, timeout=ctx.timeout), ctx
    )
    return json_response(to_json(reply))
