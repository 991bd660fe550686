"""Native REST (/api/v1): the proto's google.api.http routes, transcoded grpc-gateway style.

Bodies use the proto3 JSON mapping (lowerCamelCase names, unknown fields
discarded, unpopulated fields emitted, int64 as strings), errors are
google.rpc.Status as JSON. POST /api/v1/generate with "stream": true
streams SSE; /api/v1/generate:stream streams grpc-gateway's NDJSON
({"result": chunk} lines, {"error": status} on failure).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import Response

from model_gateway_bridge.client import OpenStream, call_generate, call_unary, open_stream
from model_gateway_bridge.errors import BridgeError, bad_request
from model_gateway_bridge.framing import json_response, ndjson_line, ndjson_response, sse_event, sse_response
from model_gateway_bridge.state import state_of
from modelgateway.v1 import gateway_pb2 as pb

router = APIRouter(prefix="/api/v1")


def to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def status_json(err: BridgeError) -> dict[str, Any]:
    return {"code": err.code.value[0], "message": err.message, "details": err.details}


def error_response(err: BridgeError) -> Response:
    return json_response(status_json(err), status=err.status, headers=err.headers)


def _check_types(descriptor: Any, value: dict[str, Any], path: str) -> None:
    """Reject what protojson (grpc-gateway) rejects but python's json_format lets through:
    a string or list for a message (read as an empty one), a bool or fraction for
    an enum, a bool for a number."""
    fields = {f.json_name: f for f in descriptor.fields} | {f.name: f for f in descriptor.fields}
    for key, item in value.items():
        field = fields.get(key)
        if field is None or item is None:
            continue
        where = f"{path}{key}"
        repeated = field.is_repeated
        for index, element in enumerate(item if repeated and isinstance(item, list) else [item]):
            at = f"{where}[{index}]" if repeated else where
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                nested: Any = field.message_type
                if nested.full_name.startswith("google.protobuf.") or nested.GetOptions().map_entry:
                    continue  # a Struct takes any JSON; a map is an object of scalars
                if not isinstance(element, dict):
                    raise bad_request(f"{at}: expected an object, got {type(element).__name__}", param=at)
                _check_types(nested, element, f"{at}.")
            elif field.type == FieldDescriptor.TYPE_ENUM and (
                isinstance(element, bool) or (isinstance(element, float) and not element.is_integer())
            ):
                raise bad_request(f"{at}: {element!r} is not an enum value", param=at)
            elif field.cpp_type in _NUMBERS and isinstance(element, bool):
                raise bad_request(f"{at}: expected a number, got {element!r}", param=at)


_NUMBERS = {
    FieldDescriptor.CPPTYPE_DOUBLE,
    FieldDescriptor.CPPTYPE_FLOAT,
    FieldDescriptor.CPPTYPE_INT32,
    FieldDescriptor.CPPTYPE_INT64,
    FieldDescriptor.CPPTYPE_UINT32,
    FieldDescriptor.CPPTYPE_UINT64,
}


def _parse(body: dict[str, Any], message: Message) -> None:
    _check_types(message.DESCRIPTOR, body, "")
    try:
        json_format.ParseDict(body, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise bad_request(f"invalid {message.DESCRIPTOR.name}: {exc}") from None


@router.post("/generate")
async def generate(request: Request) -> Response:
    state = state_of(request)
    message = pb.GenerateRequest()
    _parse(await state.json_body(request), message)
    ctx = state.context(request)
    if message.stream:
        opened = await open_stream(state.client, message, ctx)
        return sse_response(_frames(opened, _sse_chunk, _sse_error), headers=opened.headers)
    response, headers = await call_generate(state.client, message, ctx)
    return json_response(to_json(response), headers=headers)


@router.post("/generate:stream")
async def stream_generate(request: Request) -> Response:
    state = state_of(request)
    message = pb.GenerateRequest()
    _parse(await state.json_body(request), message)
    opened = await open_stream(state.client, message, state.context(request))
    return ndjson_response(_frames(opened, _ndjson_chunk, _ndjson_error), headers=opened.headers)


def _sse_chunk(chunk: pb.StreamChunk) -> bytes:
    return sse_event(to_json(chunk))


def _sse_error(err: BridgeError) -> bytes:
    return sse_event({"error": status_json(err)}, event="error")


def _ndjson_chunk(chunk: pb.StreamChunk) -> bytes:
    return ndjson_line({"result": to_json(chunk)})


def _ndjson_error(err: BridgeError) -> bytes:
    return ndjson_line({"error": status_json(err)})


async def _frames(
    opened: OpenStream,
    frame: Callable[[pb.StreamChunk], bytes],
    frame_error: Callable[[BridgeError], bytes],
) -> AsyncIterator[bytes]:
    try:
        async for chunk in opened.chunks():
            yield frame(chunk)
    except BridgeError as err:
        yield frame_error(err)


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
    _parse(await state.json_body(request), message)
    ctx = state.context(request)
    reply = await call_unary(
        state.client.stub.Embed(message, metadata=ctx.metadata, timeout=ctx.timeout), ctx
    )
    return json_response(to_json(reply))


__all__ = ["error_response", "router"]
