"""POST /v1/chat: parse → (a provider's model) → gRPC → the reply or its stream."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from model_gateway_bridge.client import call_generate, open_stream
from model_gateway_bridge.framing import json_response, sse_response
from model_gateway_bridge.state import state_of
from model_gateway_bridge.streaming import stream_body
from model_gateway_bridge.surfaces.simple.models import model_for
from model_gateway_bridge.surfaces.simple.request import parse_chat
from model_gateway_bridge.surfaces.simple.response import reply
from model_gateway_bridge.surfaces.simple.stream import SimpleStream

router = APIRouter(prefix="/v1")


@router.post("/chat")
async def chat(request: Request) -> Response:
    state = state_of(request)
    parsed = parse_chat(await state.json_body(request))
    ctx = state.context(request)
    message = parsed.request
    if not message.model:
        message.model = await model_for(state, ctx, parsed.provider)
    if parsed.stream:
        opened = await open_stream(state.client, message, ctx)
        return sse_response(stream_body(opened, SimpleStream(message.model)), headers=opened.headers)
    response, headers = await call_generate(state.client, message, ctx)
    return json_response(reply(response), headers=headers)
