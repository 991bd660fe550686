"""The /v1 routes: each moves one request through parse → gRPC → render, nothing more."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from model_gateway_bridge.client import call_generate, call_unary, open_stream
from model_gateway_bridge.framing import json_response, sse_response
from model_gateway_bridge.state import state_of
from model_gateway_bridge.streaming import stream_body
from model_gateway_bridge.surfaces.openai.embeddings import embedding_response, parse_embedding
from model_gateway_bridge.surfaces.openai.models import model_list, model_object
from model_gateway_bridge.surfaces.openai.request import Parsed, parse_chat, parse_completion
from model_gateway_bridge.surfaces.openai.response import chat_completion, text_completion
from model_gateway_bridge.surfaces.openai.responses.request import parse_responses
from model_gateway_bridge.surfaces.openai.responses.response import responses_object
from model_gateway_bridge.surfaces.openai.responses.stream import ResponsesStream
from model_gateway_bridge.surfaces.openai.stream import ChatStream, TextStream
from modelgateway.v1 import gateway_pb2 as pb

router = APIRouter(prefix="/v1")


async def _generate(request: Request, parsed: Parsed, framer: ChatStream) -> Response:
    state = state_of(request)
    ctx = state.context(request)
    if parsed.stream:
        opened = await open_stream(state.client, parsed.request, ctx)
        return sse_response(stream_body(opened, framer), headers=opened.headers)
    response, headers = await call_generate(state.client, parsed.request, ctx)
    if isinstance(framer, TextStream):
        return json_response(text_completion(response), headers=headers)
    return json_response(chat_completion(response, parsed.legacy_functions), headers=headers)


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    parsed = parse_chat(await state_of(request).json_body(request))
    framer = ChatStream(parsed.request.model, parsed.include_usage, parsed.legacy_functions)
    return await _generate(request, parsed, framer)


@router.post("/completions")
async def completions(request: Request) -> Response:
    parsed = parse_completion(await state_of(request).json_body(request))
    return await _generate(request, parsed, TextStream(parsed.request.model, parsed.include_usage))


@router.post("/responses")
async def responses(request: Request) -> Response:
    state = state_of(request)
    call = parse_responses(await state.json_body(request))
    ctx = state.context(request)
    if call.stream:
        opened = await open_stream(state.client, call.request, ctx)
        return sse_response(stream_body(opened, ResponsesStream(call)), headers=call.headers(opened.headers))
    response, headers = await call_generate(state.client, call.request, ctx)
    return json_response(responses_object(call, response), headers=call.headers(headers))


@router.get("/models")
async def list_models(request: Request) -> Response:
    state = state_of(request)
    ctx = state.context(request)
    call = state.client.stub.ListModels(pb.ListModelsRequest(), metadata=ctx.metadata, timeout=ctx.timeout)
    reply: pb.ListModelsResponse = await call_unary(call, ctx)
    return json_response(model_list(reply), headers={"x-request-id": ctx.request_id})


@router.get("/models/{model:path}")
async def retrieve_model(model: str, request: Request) -> Response:
    state = state_of(request)
    ctx = state.context(request)
    call = state.client.stub.GetModel(
        pb.GetModelRequest(name=model), metadata=ctx.metadata, timeout=ctx.timeout
    )
    reply: pb.Model = await call_unary(call, ctx)
    # The id is the name asked for: an alias is listed, and retrieved, as a model of its own.
    return json_response(model_object(model, reply.created), headers={"x-request-id": ctx.request_id})


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    state = state_of(request)
    message, encoding = parse_embedding(await state.json_body(request))
    ctx = state.context(request)
    call = state.client.stub.Embed(message, metadata=ctx.metadata, timeout=ctx.timeout)
    reply: pb.EmbedResponse = await call_unary(call, ctx)
    return json_response(embedding_response(reply, encoding), headers={"x-request-id": ctx.request_id})
