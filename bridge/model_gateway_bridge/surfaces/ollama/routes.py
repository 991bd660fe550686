"""Ollama's routes: each moves one request through parse → gRPC → render, nothing more."""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from model_gateway_bridge.client import CallContext, call_generate, call_unary, open_stream
from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.framing import json_response, ndjson_response
from model_gateway_bridge.state import BridgeState, state_of
from model_gateway_bridge.streaming import stream_body
from model_gateway_bridge.surfaces.ollama.embeddings import (
    embed_json,
    embed_request,
    embeddings_json,
    embeddings_request,
)
from model_gateway_bridge.surfaces.ollama.errors import FIELDS as read
from model_gateway_bridge.surfaces.ollama.errors import INVALID
from model_gateway_bridge.surfaces.ollama.models import show_json, tags_json
from model_gateway_bridge.surfaces.ollama.request import chat_request, generate_request
from model_gateway_bridge.surfaces.ollama.response import load_json, response_json
from model_gateway_bridge.surfaces.ollama.stream import StreamFramer
from modelgateway.v1 import gateway_pb2 as pb

router = APIRouter()

# What GET /api/version reports. Ollama clients compare it against the
# release that introduced a feature (tools 0.3, structured outputs 0.5,
# thinking 0.9), so it names an Ollama release whose API this surface speaks,
# not the gateway's own version.
OLLAMA_COMPAT_VERSION = "0.12.0"

ROOT_TEXT = "Ollama is running (model-gateway)"


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def root() -> Response:
    return PlainTextResponse(ROOT_TEXT)


@router.api_route("/api/version", methods=["GET", "HEAD"])
async def version() -> Response:
    return json_response({"version": OLLAMA_COMPAT_VERSION})


async def _get_model(state: BridgeState, ctx: CallContext, name: str) -> pb.Model:
    model: pb.Model = await call_unary(
        state.client.stub.GetModel(pb.GetModelRequest(name=name), metadata=ctx.metadata, timeout=ctx.timeout),
        ctx,
    )
    return model


async def _generate(request: Request, chat: bool) -> Response:
    state = state_of(request)
    body = await state.json_body(request, require_json_type=False)
    parsed = chat_request(body) if chat else generate_request(body)
    model = parsed.request.model
    ctx = state.context(request)
    if parsed.load is not None:
        # Ollama checks the model exists, then only (un)loads it: nothing to generate.
        await _get_model(state, ctx, model)
        return json_response(load_json(model, chat, parsed.load))
    started = time.perf_counter_ns()
    if parsed.stream:
        opened = await open_stream(state.client, parsed.request, ctx)
        framer = StreamFramer(model, chat, started)
        return ndjson_response(stream_body(opened, framer), headers=opened.headers)
    response, headers = await call_generate(state.client, parsed.request, ctx)
    wall = time.perf_counter_ns() - started
    return json_response(response_json(response, model, chat, wall), headers=headers)


@router.post("/api/chat")
async def chat(request: Request) -> Response:
    return await _generate(request, chat=True)


@router.post("/api/generate")
async def generate(request: Request) -> Response:
    return await _generate(request, chat=False)


async def _embed(request: Request, message: pb.EmbedRequest) -> pb.EmbedResponse:
    state = state_of(request)
    ctx = state.context(request)
    if not message.input:
        # Ollama answers an empty input with no embeddings (after checking the model).
        await _get_model(state, ctx, message.model)
        return pb.EmbedResponse(model=message.model)
    reply: pb.EmbedResponse = await call_unary(
        state.client.stub.Embed(message, metadata=ctx.metadata, timeout=ctx.timeout), ctx
    )
    return reply


@router.post("/api/embed")
async def embed(request: Request) -> Response:
    message = embed_request(await state_of(request).json_body(request, require_json_type=False))
    started = time.perf_counter_ns()
    reply = await _embed(request, message)
    return json_response(embed_json(message.model, reply, time.perf_counter_ns() - started))


@router.post("/api/embeddings")
async def embeddings(request: Request) -> Response:
    message = embeddings_request(await state_of(request).json_body(request, require_json_type=False))
    return json_response(embeddings_json(await _embed(request, message)))


@router.get("/api/tags")
async def tags(request: Request) -> Response:
    state = state_of(request)
    ctx = state.context(request)
    reply: pb.ListModelsResponse = await call_unary(
        state.client.stub.ListModels(pb.ListModelsRequest(), metadata=ctx.metadata, timeout=ctx.timeout), ctx
    )
    return json_response(tags_json(reply.models))


@router.post("/api/show")
async def show(request: Request) -> Response:
    state = state_of(request)
    body = await state.json_body(request, require_json_type=False)
    # Older clients send the name as "name".
    name = read.string(body.get("model"), "model") or read.string(body.get("name"), "name")
    if not name.strip():
        raise INVALID.missing("model")
    return json_response(show_json(await _get_model(state, state.context(request), name)))


@router.get("/api/ps")
async def ps() -> Response:
    # The gateway loads nothing itself: no model is ever resident here.
    return json_response({"models": []})


async def manage(request: Request) -> Response:
    raise BridgeError(
        501,
        f"{request.url.path} is not supported: model-gateway serves the models configured in its YAML file",
    )


# Model management has no meaning behind a gateway; say so rather than "no route".
for _path in ("/api/pull", "/api/push", "/api/create", "/api/copy", "/api/delete"):
    router.add_api_route(_path, manage, methods=["POST", "DELETE"], include_in_schema=False)
