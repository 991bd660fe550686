"""The Messages API routes: each moves one request through parse → gRPC → render, nothing more.

/v1/models is the OpenAI surface's path too: these two routes match only a
request that carries `anthropic-version` (as the registry resolves it), so
the OpenAI routes answer every other.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from model_gateway_bridge.client import call_generate, call_unary, route_headers
from model_gateway_bridge.framing import json_response
from model_gateway_bridge.state import state_of
from model_gateway_bridge.surfaces.anthropic.errors import FIELDS as read
from model_gateway_bridge.surfaces.anthropic.keepalive import stream_messages
from model_gateway_bridge.surfaces.anthropic.models import DEFAULT_LIMIT, MAX_LIMIT, model_info, model_page
from model_gateway_bridge.surfaces.anthropic.request import Parsed, beta_flags, parse_messages
from model_gateway_bridge.surfaces.anthropic.response import message_object
from model_gateway_bridge.surfaces.anthropic.stream import MessageStream
from model_gateway_common.route_headers import route_metadata
from modelgateway.v1 import gateway_pb2 as pb

VERSION_HEADER = b"anthropic-version"
ESTIMATED_HEADER = "x-gateway-usage-estimated"


class _Versioned(APIRoute):
    """A route that only a request with `anthropic-version` reaches."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not any(name == VERSION_HEADER for name, _ in scope.get("headers", ())):
            return Match.NONE, {}
        return super().matches(scope)


_messages = APIRouter(prefix="/v1")
_models = APIRouter(prefix="/v1", route_class=_Versioned)


async def _parse(request: Request, counting: bool = False) -> Parsed:
    body = await state_of(request).json_body(request)
    return parse_messages(body, beta_flags(request.headers.get("anthropic-beta")), counting=counting)


@_messages.post("/messages")
async def create_message(request: Request) -> Response:
    """`?beta=true` (the SDKs' beta client, Claude Code) is the same endpoint; unknown betas are ignored."""
    state = state_of(request)
    parsed = await _parse(request)
    ctx = state.context(request)
    model = parsed.request.model
    if parsed.stream:
        framer = MessageStream(model)
        return await stream_messages(state.client, parsed.request, ctx, framer, parsed.headers)
    response, headers = await call_generate(state.client, parsed.request, ctx)
    headers = {**parsed.headers(headers), "request-id": ctx.request_id}
    return json_response(message_object(response, model), headers=headers)


@_messages.post("/messages/count_tokens")
async def count_tokens(request: Request) -> Response:
    """The provider's own count, or the gateway's estimate (said so in a header); never a completion."""
    state = state_of(request)
    parsed = await _parse(request, counting=True)
    ctx = state.context(request)
    call = state.client.stub.CountTokens(parsed.request, metadata=ctx.metadata, timeout=ctx.timeout)
    reply: pb.CountTokensResponse = await call_unary(call, ctx)
    headers = route_headers(route_metadata(reply.route), ctx.request_id)
    headers["request-id"] = ctx.request_id
    if reply.estimated:
        headers[ESTIMATED_HEADER] = "true"
    return json_response({"input_tokens": reply.input_tokens}, headers=parsed.headers(headers))


def _query_limit(request: Request) -> int:
    raw: Any = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    with contextlib.suppress(ValueError):
        raw = int(raw)
    return read.integer(raw, "limit", (1, MAX_LIMIT))


@_models.get("/models")
async def list_models(request: Request) -> Response:
    state = state_of(request)
    ctx = state.context(request)
    limit = _query_limit(request)
    call = state.client.stub.ListModels(pb.ListModelsRequest(), metadata=ctx.metadata, timeout=ctx.timeout)
    reply: pb.ListModelsResponse = await call_unary(call, ctx)
    params = request.query_params
    page = model_page(reply, limit, params.get("after_id", ""), params.get("before_id", ""))
    return json_response(page, headers={"x-request-id": ctx.request_id, "request-id": ctx.request_id})


@_models.get("/models/{model:path}")
async def retrieve_model(model: str, request: Request) -> Response:
    state = state_of(request)
    ctx = state.context(request)
    call = state.client.stub.GetModel(
        pb.GetModelRequest(name=model), metadata=ctx.metadata, timeout=ctx.timeout
    )
    reply: pb.Model = await call_unary(call, ctx)
    headers = {"x-request-id": ctx.request_id, "request-id": ctx.request_id}
    return json_response(model_info(model, reply), headers=headers)


router = APIRouter()
router.include_router(_messages)
router.include_router(_models)
