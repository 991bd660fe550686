"""Fake Ollama upstream: /api/chat, /api/generate, /api/embed, /api/tags, /api/show, /api/ps, ...

Wire format per ollama/ollama docs/api.md: NDJSON streams (the default) of `done: false`
objects and a final `done: true` object with done_reason and the duration/count metrics,
tool calls with object arguments, errors as {"error": "..."} (in a stream: an error line).

    python -m tests.fakes.ollama_server --port 0 --port-file PATH
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from aiohttp import web

from tests.fakes.common import (
    HARDENING_CUES,
    INBAND_ERROR_MESSAGE,
    JSON,
    LISTED_CUES,
    MAX_DIMENSIONS,
    RETRY_AFTER_CUE,
    RETRY_AFTER_SECONDS,
    SETTINGS,
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

LABEL = "fake-ollama"
DEFAULT_MODELS = ("llama3.2", "qwen3:4b", "gemma3:4b", "nomic-embed-text", *LISTED_CUES, *HARDENING_CUES)
VERSION = "0.12.0"
MODIFIED_AT = "2025-05-04T17:37:44.706015396-07:00"
NDJSON = "application/x-ndjson"
# What Ollama answers when OLLAMA_MAX_QUEUE is full (server/sched.go ErrMaxQueue), with a 503.
OVERLOADED = "server busy, please try again.  maximum pending requests exceeded"


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def tagged(name: str) -> str:
    """`llama3.2` and `llama3.2:latest` are the same model."""
    return name if ":" in name else f"{name}:latest"


def known(request: web.Request, name: str) -> bool:
    return tagged(name) in {tagged(model) for model in request.app[SETTINGS].models}


def cue_of(model: str) -> str:
    return model.removesuffix(":latest")


def check_model(request: web.Request, model: str) -> None:
    """Raise the error the model's cue asks for, or 404 for a model this server does not have."""
    cue = cue_of(model)
    key = bearer_token(request)
    if match := RETRY_AFTER_CUE.match(cue):
        raise Reject(error(429, "rate limit exceeded", {"Retry-After": match.group(1)}))
    if cue == "fail-429-date":
        raise Reject(
            error(429, "rate limit exceeded", {"Retry-After": retry_after_date(RETRY_AFTER_SECONDS)})
        )
    if cue == "fail-503":
        raise Reject(error(503, OVERLOADED))
    if cue == "fail-400":
        raise Reject(error(400, "invalid options: temperature"))
    if cue == "fail-403":
        raise Reject(error(403, "forbidden"))
    if cue == "leak-401":
        raise Reject(error(401, f"unauthorized: {leak_text(key)}"))
    if cue == "leak-403":
        raise Reject(error(403, f"forbidden: {leak_text(key)}"))
    if cue == "leak-500":
        raise Reject(error(500, f"runner failed for {leak_text(key)}"))
    if cue == "fail-429":
        raise Reject(error(429, "rate limit exceeded", {"Retry-After": str(RETRY_AFTER_SECONDS)}))
    if cue == "fail-500":
        raise Reject(error(500, "llama runner process has terminated: exit status 2"))
    if cue == "fail-401":
        raise Reject(error(401, f"unauthorized: invalid bearer token {bearer_token(request)}"))
    if cue == "fail-404" or not known(request, model):
        raise Reject(error(404, f'model "{model}" not found, try pulling it first'))


async def read_body(request: web.Request) -> tuple[JSON, str]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Reject(error(400, "invalid JSON request body"))
    model = body.get("model") or body.get("name")
    if not model:
        raise Reject(error(400, "model is required"))
    return body, str(model)


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def metrics(reply: Reply, cached: bool = False) -> JSON:
    """The final object's counts; a prompt served from Ollama's cache has no prompt_eval_count at all."""
    load, prompt, generate = 1_000_000, reply.prompt_tokens * 1_000_000, reply.completion_tokens * 10_000_000
    counts: JSON = {
        "total_duration": load + prompt + generate,
        "load_duration": load,
        "prompt_eval_count": reply.prompt_tokens,
        "prompt_eval_duration": prompt,
        "eval_count": reply.completion_tokens,
        "eval_duration": generate,
    }
    if cached:
        del counts["prompt_eval_count"], counts["prompt_eval_duration"]
    return counts


def json_schema_of(fmt: object) -> object:
    """`format`: "json" or a JSON schema."""
    return True if fmt == "json" else (fmt or None)


async def respond(
    request: web.Request, body: JSON, model: str, payload: JSON, lines: Sequence[JSON]
) -> web.StreamResponse:
    """`payload` in one piece, or the stream when the body asks for one; either bent by the model's cue."""
    cue = cue_of(model)
    delay = first_byte_delay(request, cue, request.app[SETTINGS].slow_seconds)
    message = leak_text(bearer_token(request)) if cue == "leak-inband" else INBAND_ERROR_MESSAGE
    if body.get("stream", True):
        return await stream_frames(
            request,
            cue,
            [dumps(line) + b"\n" for line in lines],
            content_type=NDJSON,
            delay=delay,
            error_frames=[dumps({"error": message}) + b"\n"],
            keep_before_error=1,
        )
    return await unary_reply(request, cue, payload, delay=delay, inband_error=error(500, message))


def max_tokens_of(body: JSON) -> int | None:
    """Ollama's options.num_predict (-1: no limit)."""
    num_predict = (body.get("options") or {}).get("num_predict")
    return num_predict if isinstance(num_predict, int) and num_predict >= 0 else None


async def chat(request: web.Request) -> web.StreamResponse:
    body, model = await read_body(request)
    check_model(request, model)
    messages = body.get("messages") or []
    if not messages:  # loads the model
        loaded = {"role": "assistant", "content": ""}
        return web.json_response(
            {"model": model, "created_at": now(), "message": loaded, "done_reason": "load", "done": True}
        )
    reply = build_reply(
        LABEL,
        cue_of(model),
        messages,
        tools=body.get("tools") or (),
        json_schema=json_schema_of(body.get("format")),
        max_tokens=max_tokens_of(body),
    )
    message: JSON = {"role": "assistant", "content": reply.text}
    parts: list[JSON] = [{"role": "assistant", "content": piece} for piece in reply.pieces()]
    if call := reply.tool_call:
        function = {"index": 0, "name": call.name, "arguments": call.arguments}
        message["tool_calls"] = [{"id": call.id, "function": function}]
        parts = [message]  # Ollama streams a tool call whole, in one chunk
    lines = [{"model": model, "created_at": now(), "message": part, "done": False} for part in parts]
    final: JSON = {
        "model": model,
        "created_at": now(),
        "message": {"role": "assistant", "content": ""},
        "done_reason": "length" if reply.truncated else "stop",
        "done": True,
        **metrics(reply, cached=cue_of(model) == "cached-prompt"),
    }
    return await respond(request, body, model, {**final, "message": message}, [*lines, final])


async def generate(request: web.Request) -> web.StreamResponse:
    body, model = await read_body(request)
    check_model(request, model)
    prompt = str(body.get("prompt") or "")
    if not prompt:  # loads the model
        return web.json_response(
            {"model": model, "created_at": now(), "response": "", "done": True, "done_reason": "load"}
        )
    messages = [{"role": "user", "content": prompt}]
    if body.get("system"):
        messages.insert(0, {"role": "system", "content": body["system"]})
    reply = build_reply(
        LABEL,
        cue_of(model),
        messages,
        json_schema=json_schema_of(body.get("format")),
        max_tokens=max_tokens_of(body),
    )
    lines = [
        {"model": model, "created_at": now(), "response": piece, "done": False} for piece in reply.pieces()
    ]
    final: JSON = {
        "model": model,
        "created_at": now(),
        "response": "",
        "done": True,
        "done_reason": "length" if reply.truncated else "stop",
        **({} if body.get("raw") else {"context": [1, 2, 3]}),
        **metrics(reply, cached=cue_of(model) == "cached-prompt"),
    }
    return await respond(request, body, model, {**final, "response": reply.text}, [*lines, final])


async def embed(request: web.Request) -> web.StreamResponse:
    body, model = await read_body(request)
    check_model(request, model)
    raw = body.get("input", "")
    texts = [raw] if isinstance(raw, str) else [str(item) for item in raw]
    dimensions = int(body.get("dimensions") or 16)
    if not 0 < dimensions <= MAX_DIMENSIONS:
        raise Reject(error(400, f"dimensions must be between 1 and {MAX_DIMENSIONS}"))
    tokens = sum(word_count(text) for text in texts)
    payload = {
        "model": model,
        "embeddings": [embedding(text, dimensions) for text in texts],
        "total_duration": 1_000_000 + tokens * 100_000,
        "load_duration": 1_000_000,
        "prompt_eval_count": tokens,
    }
    return await respond(request, {"stream": False}, model, payload, ())


async def legacy_embeddings(request: web.Request) -> web.Response:
    """POST /api/embeddings (superseded by /api/embed)."""
    body, model = await read_body(request)
    check_model(request, model)
    return web.json_response({"embedding": embedding(str(body.get("prompt") or ""))})


def details(name: str) -> JSON:
    family = "nomic-bert" if "embed" in name else "llama"
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": "137M" if "embed" in name else "3.2B",
        "quantization_level": "Q4_K_M",
    }


def listing(name: str) -> JSON:
    return {
        "name": tagged(name),
        "model": tagged(name),
        "modified_at": MODIFIED_AT,
        "size": 2_019_393_189,
        "digest": hashlib.sha256(tagged(name).encode()).hexdigest(),
        "details": details(name),
    }


async def tags(request: web.Request) -> web.Response:
    names = sorted(request.app[SETTINGS].models)
    return web.json_response({"models": [listing(name) for name in names]})


async def ps(request: web.Request) -> web.Response:
    loaded = [
        name for name in sorted(request.app[SETTINGS].models) if name not in (*LISTED_CUES, *HARDENING_CUES)
    ]
    models = [
        {
            **listing(name),
            "expires_at": "2099-01-01T00:00:00Z",
            "size_vram": 2_019_393_189,
            "context_length": 8192,
        }
        for name in loaded
    ]
    return web.json_response({"models": models})


async def show(request: web.Request) -> web.Response:
    _, model = await read_body(request)
    if not known(request, model):
        raise Reject(error(404, f"model '{model}' not found"))
    info = details(model)
    arch = info["family"]
    embedding_model = "embed" in model
    return web.json_response(
        {
            "modelfile": f"# Modelfile generated by fake-ollama\nFROM {tagged(model)}\n",
            "parameters": 'stop                           "<|eot_id|>"',
            "template": "{{ .Prompt }}",
            "details": info,
            "model_info": {
                "general.architecture": arch,
                "general.parameter_count": 3_212_749_888,
                f"{arch}.context_length": 8192,
                f"{arch}.embedding_length": 16,
            },
            "capabilities": ["embedding"] if embedding_model else ["completion", "tools"],
            "modified_at": MODIFIED_AT,
        }
    )


async def version(_: web.Request) -> web.Response:
    return web.json_response({"version": VERSION})


async def root(_: web.Request) -> web.Response:
    return web.Response(text="Ollama is running")


def create_app(slow_seconds: float = 2.0, models: Sequence[str] = DEFAULT_MODELS) -> web.Application:
    app = new_app(Settings(frozenset(models), slow_seconds))
    app.router.add_get("/", root)
    app.router.add_get("/api/version", version)
    app.router.add_get("/api/tags", tags)
    app.router.add_get("/api/ps", ps)
    app.router.add_post("/api/show", show)
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/api/generate", generate)
    app.router.add_post("/api/embed", embed)
    app.router.add_post("/api/embeddings", legacy_embeddings)
    return app


async def start(
    port: int = 0, *, slow_seconds: float = 2.0, models: Sequence[str] = DEFAULT_MODELS
) -> FakeServer:
    """Serve the fake in this event loop on 127.0.0.1 (the Ollama client's host is `server.url`)."""
    return await serve(create_app(slow_seconds, models), port=port)


if __name__ == "__main__":
    main(create_app, "Fake Ollama upstream")
