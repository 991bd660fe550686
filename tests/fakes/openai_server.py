"""Fake OpenAI-compatible upstream: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models.

Wire format per openai/openai-openapi: unary objects, SSE streams of `data: {chunk}` events
ending in `data: [DONE]`, a usage chunk with `choices: []` when `stream_options.include_usage`
is set, and errors as {"error": {"message", "type", "param", "code"}}. A `strict-<model>` model is
<model> with api.openai.com's request checks first (openai_strict.py: unknown arguments are a 400).

    python -m tests.fakes.openai_server --port 0 --port-file PATH
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Sequence

from aiohttp import web

from tests.fakes import openai_strict
from tests.fakes.common import (
    HARDENING_CUES,
    INBAND_ERROR_MESSAGE,
    JSON,
    LISTED_CUES,
    MAX_DIMENSIONS,
    RETRY_AFTER_CUE,
    RETRY_AFTER_SECONDS,
    SETTINGS,
    STATS,
    FakeServer,
    Reject,
    Reply,
    Settings,
    bearer_token,
    build_reply,
    dumps,
    embedding,
    first_byte_delay,
    leak_text,
    main,
    new_app,
    retry_after_date,
    serve,
    stream_frames,
    unary_reply,
    word_count,
)

LABEL = "fake-openai"
DEFAULT_MODELS = ("gpt-4o-mini", "text-embedding-3-small", *LISTED_CUES, *HARDENING_CUES)
CREATED = 1_731_600_000  # fixed, so replies are reproducible
FINGERPRINT = "fp_fake0001"
SSE = "text/event-stream; charset=utf-8"
DONE = b"data: [DONE]\n\n"


def error(
    status: int,
    message: str,
    kind: str,
    *,
    param: str | None = None,
    code: str | int | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def check_model(request: web.Request, model: str) -> None:
    """Raise the error the model's cue asks for, or 404 for a model this server does not have."""
    key = bearer_token(request)
    if match := RETRY_AFTER_CUE.match(model):
        seconds = match.group(1)
        raise Reject(
            error(
                429,
                f"Rate limit reached for {model}. Please try again in {seconds}s.",
                "requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": seconds},
            )
        )
    if model == "fail-429-date":
        raise Reject(
            error(
                429,
                "Rate limit reached.",
                "requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": retry_after_date(RETRY_AFTER_SECONDS)},
            )
        )
    if model == "fail-400":
        raise Reject(
            error(
                400,
                "Invalid value for 'temperature': too high.",
                "invalid_request_error",
                param="temperature",
            )
        )
    if model == "fail-403":
        raise Reject(
            error(403, "You are not allowed to sample from this model", "invalid_request_error", code=None)
        )
    if model == "fail-503":
        raise Reject(error(503, "The engine is currently overloaded, please try again later", "server_error"))
    if model == "leak-401":
        raise Reject(error(401, f"Incorrect API key provided: {leak_text(key)}", "invalid_request_error"))
    if model == "leak-403":
        raise Reject(error(403, f"Project does not have access: {leak_text(key)}", "invalid_request_error"))
    if model == "leak-500":
        raise Reject(error(500, f"Internal error handling {leak_text(key)}", "server_error"))
    if model == "fail-429":
        raise Reject(
            error(
                429,
                f"Rate limit reached for {model} on requests per min (RPM): Limit 3, Used 3, Requested 1. "
                f"Please try again in {RETRY_AFTER_SECONDS}s.",
                "requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        )
    if model == "fail-500":
        raise Reject(error(500, "The server had an error while processing your request.", "server_error"))
    if model == "fail-401":
        raise Reject(
            error(
                401,
                f"Incorrect API key provided: {bearer_token(request)}. "
                "You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                code="invalid_api_key",
            )
        )
    if model == "fail-404" or model not in request.app[SETTINGS].models:
        raise Reject(
            error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                code="model_not_found",
            )
        )


async def read_body(request: web.Request, *required: str) -> tuple[JSON, str]:
    """The JSON body and its model, after the model's cue and the required fields are checked."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Reject(error(400, "We could not parse the JSON body of your request.", "invalid_request_error"))
    for name in ("model", *required):
        if name not in body:
            raise Reject(
                error(
                    400,
                    f"Missing required parameter: '{name}'.",
                    "invalid_request_error",
                    param=name,
                    code="missing_required_parameter",
                )
            )
    model = str(body["model"])
    # A `strict-` model, or every model with --strict: checked first as api.openai.com checks.
    if openai_strict.is_strict(model) or request.app[SETTINGS].strict:
        problem = openai_strict.check(request.path, body)
        if problem is not None:
            status, message, kind, param, code = problem
            raise Reject(error(status, message, kind, param=param, code=code))
        model = openai_strict.served_model(model)
    check_model(request, model)
    return body, model


def usage(reply: Reply) -> JSON:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def finish_reason_of(reply: Reply) -> str:
    return "tool_calls" if reply.tool_call else "length" if reply.truncated else "stop"


def split_in(text: str, parts: int) -> list[str]:
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def inband_error_frames(message: str = INBAND_ERROR_MESSAGE) -> list[bytes]:
    err = {"message": message, "type": "server_error", "param": None, "code": 500}
    return [b"data: " + dumps({"error": err}) + b"\n\n", DONE]


async def respond(
    request: web.Request, body: JSON, model: str, payload: JSON, frames: Sequence[bytes]
) -> web.StreamResponse:
    """`payload` in one piece, or the stream when the body asks for one; either bent by the model's cue."""
    delay = first_byte_delay(request, model, request.app[SETTINGS].slow_seconds)
    message = leak_text(bearer_token(request)) if model == "leak-inband" else INBAND_ERROR_MESSAGE
    if body.get("stream"):
        return await stream_frames(
            request,
            model,
            frames,
            content_type=SSE,
            delay=delay,
            error_frames=inband_error_frames(message),
            keep_before_error=2,
        )
    inband = error(500, message, "server_error")
    return await unary_reply(request, model, payload, delay=delay, inband_error=inband)


def include_usage(body: JSON, model: str) -> bool:
    options = body.get("stream_options") or {}
    return bool(options.get("include_usage")) and model != "no-usage"  # no-usage: like llama.cpp


def json_schema_of(response_format: object) -> object:
    """True for json_object, the schema for json_schema, else None."""
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == "json_object":
        return True
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or True
    return None


def completion_id(request: web.Request, prefix: str) -> str:
    return f"{prefix}-fake{request.app[STATS].requests:08d}"


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body, model = await read_body(request, "messages")
    reply = build_reply(
        LABEL,
        model,
        body["messages"],
        tools=body.get("tools") or (),
        json_schema=json_schema_of(body.get("response_format")),
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
    )
    cid = completion_id(request, "chatcmpl")
    finish_reason = finish_reason_of(reply)
    call = reply.tool_call
    message: JSON = {"role": "assistant", "content": None if call else reply.text, "refusal": None}
    if call:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
        ]
    payload: JSON = {
        "id": cid,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "service_tier": "default",
    }
    if model != "no-usage":
        payload["usage"] = usage(reply)

    with_usage = include_usage(body, model)

    def chunk(choices: list[JSON], chunk_usage: JSON | None = None) -> bytes:
        data: JSON = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        }
        if with_usage:
            data["usage"] = chunk_usage
        return b"data: " + dumps(data) + b"\n\n"

    def delta(fields: JSON, finish: str | None = None) -> list[JSON]:
        return [{"index": 0, "delta": fields, "logprobs": None, "finish_reason": finish}]

    frames = [chunk(delta({"role": "assistant", "content": None if call else "", "refusal": None}))]
    if call:
        head = {
            "index": 0,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        frames.append(chunk(delta({"tool_calls": [head]})))
        frames += [
            chunk(delta({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}))
            for part in split_in(call.arguments_json, 4)
        ]
    else:
        frames += [chunk(delta({"content": piece})) for piece in reply.pieces()]
    frames.append(chunk(delta({}, finish_reason)))
    if with_usage:
        frames.append(chunk([], usage(reply)))
    frames.append(DONE)
    return await respond(request, body, model, payload, frames)


async def completions(request: web.Request) -> web.StreamResponse:
    body, model = await read_body(request, "prompt")
    prompt = body["prompt"]
    text = prompt if isinstance(prompt, str) else "\n".join(str(item) for item in prompt)
    reply = build_reply(LABEL, model, [{"role": "user", "content": text}], max_tokens=body.get("max_tokens"))
    cid = completion_id(request, "cmpl")

    def completion(choices: list[JSON]) -> JSON:
        return {
            "id": cid,
            "object": "text_completion",
            "created": CREATED,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        }

    def choice(piece: str, finish: str | None) -> list[JSON]:
        return [{"text": piece, "index": 0, "logprobs": None, "finish_reason": finish}]

    payload = completion(choice(reply.text, finish_reason_of(reply)))
    if model != "no-usage":
        payload["usage"] = usage(reply)
    chunks = [completion(choice(piece, None)) for piece in reply.pieces()]
    chunks.append(completion(choice("", finish_reason_of(reply))))
    if include_usage(body, model):
        chunks.append({**completion([]), "usage": usage(reply)})
    frames = [b"data: " + dumps(c) + b"\n\n" for c in chunks] + [DONE]
    return await respond(request, body, model, payload, frames)


def embedding_inputs(value: object) -> list[str]:
    """Texts of an embeddings `input`: a string, strings, token ids or lists of token ids."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, int) for item in value):
        return [" ".join(map(str, value))]
    if isinstance(value, list):
        return [item if isinstance(item, str) else " ".join(map(str, item)) for item in value]
    raise Reject(error(400, "'input' must be a string or an array.", "invalid_request_error", param="input"))


async def embeddings(request: web.Request) -> web.StreamResponse:
    body, model = await read_body(request, "input")
    texts = embedding_inputs(body["input"])
    dimensions = int(body.get("dimensions") or 16)
    if not 0 < dimensions <= MAX_DIMENSIONS:
        raise Reject(
            error(
                400,
                f"dimensions must be between 1 and {MAX_DIMENSIONS}.",
                "invalid_request_error",
                param="dimensions",
            )
        )
    as_base64 = body.get("encoding_format") == "base64"
    data: list[JSON] = []
    for index, text in enumerate(texts):
        vector = embedding(text, dimensions)
        encoded: object = vector
        if as_base64:
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(word_count(text) for text in texts)
    payload = {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return await respond(request, {"stream": False}, model, payload, ())


def model_object(name: str) -> JSON:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": LABEL}


async def list_models(request: web.Request) -> web.Response:
    names = sorted(request.app[SETTINGS].models)
    return web.json_response({"object": "list", "data": [model_object(name) for name in names]})


async def get_model(request: web.Request) -> web.Response:
    name = request.match_info["model"]
    if name not in request.app[SETTINGS].models:
        raise Reject(
            error(
                404,
                f"The model '{name}' does not exist",
                "invalid_request_error",
                param="model",
                code="model_not_found",
            )
        )
    return web.json_response(model_object(name))


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(
    slow_seconds: float = 2.0, models: Sequence[str] = DEFAULT_MODELS, *, strict: bool = False
) -> web.Application:
    """`strict` (or --strict): every model is checked as a `strict-` one is (openai_strict.py)."""
    app = new_app(Settings(frozenset(models), slow_seconds, strict=strict))
    app.router.add_get("/health", health)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model:.+}", get_model)
    return app


async def start(
    port: int = 0, *, slow_seconds: float = 2.0, models: Sequence[str] = DEFAULT_MODELS, strict: bool = False
) -> FakeServer:
    """Serve the fake in this event loop on 127.0.0.1; its API root is `server.url + "/v1"`."""
    return await serve(create_app(slow_seconds, models, strict=strict), port=port)


if __name__ == "__main__":
    main(create_app, "Fake OpenAI-compatible upstream")
