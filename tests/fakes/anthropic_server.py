"""Fake Anthropic upstream: POST /v1/messages, POST /v1/messages/count_tokens, GET /v1/models[/{id}].

Wire format per the Messages API reference and anthropic-sdk-python's types:
`x-api-key` (or `Authorization: Bearer`, as the current SDK sends it) and
`anthropic-version` headers required; `max_tokens` required;
unknown top-level keys, a `system` role in `messages`, `tool_choice` without
`tools`, an empty `tools: []` with a `tool_choice`, tool_result blocks that
answer no tool_use of the previous turn (or tool_use left unanswered) and
thinking blocks without a signature are 400 `invalid_request_error`, as the
real API answers them. Replies are `message` objects; streams are SSE with
`event:` names: message_start, content_block_start, ping, content_block_delta,
content_block_stop, message_delta (cumulative usage), message_stop. Errors
are `{"type": "error", "error": {"type", "message"}, "request_id"}`.

The reply follows tests.fakes.common.build_reply; a forced tool
(`tool_choice: {"type": "tool"}`) is called with an input that follows its
input_schema. A system prompt or tools marked with `cache_control` are
"cached": the first request writes them (cache_creation_input_tokens), the
next identical prefix reads them (cache_read_input_tokens).

Cues (the model name): those of tests.fakes.common, plus `fail-529`
(overloaded_error), `fail-403` (permission_error that, unlike the real API,
echoes the caller's key, so redaction can be tested) and `not-json` (a 502
HTML page from "a proxy"). `inband-error` sends an `event: error`
overloaded_error after the first text delta.

    python -m tests.fakes.anthropic_server --port 0 --port-file PATH
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence

from aiohttp import web

from tests.fakes.common import (
    INBAND_ERROR_MESSAGE,
    JSON,
    LISTED_CUES,
    RETRY_AFTER_SECONDS,
    SETTINGS,
    STATS,
    FakeServer,
    Reject,
    Reply,
    Settings,
    build_reply,
    dumps,
    first_byte_delay,
    json_text,
    main,
    new_app,
    serve,
    stream_frames,
    unary_reply,
    word_count,
)

LABEL = "fake-anthropic"
EXTRA_CUES = ("fail-529", "fail-403", "not-json")
DEFAULT_MODELS = ("claude-fake-sonnet", "claude-fake-haiku", *LISTED_CUES, *EXTRA_CUES)
CREATED_AT = "2025-02-19T00:00:00Z"
SSE = "text/event-stream; charset=utf-8"
KNOWN_KEYS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "metadata",
        "thinking",
        "service_tier",
        "container",
        "context_management",
        "mcp_servers",
        "output_config",
        "inference_geo",
        "cache_control",
    }
)
COUNT_KEYS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "cache_control"}
)
BLOCK_TYPES = frozenset(
    {"text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking", "document"}
)
PROXY_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)
CACHE = web.AppKey("prompt_cache", set[str])


def error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake0001"}
    return web.json_response(body, status=status, headers=headers)


def invalid(message: str) -> Reject:
    return Reject(error(400, "invalid_request_error", message))


def api_key(request: web.Request) -> str:
    """The key as the API takes it: `x-api-key`, or `Authorization: Bearer` as the current SDKs send it."""
    bearer = request.headers.get("authorization", "")
    return request.headers.get("x-api-key") or (bearer[7:] if bearer[:7].lower() == "bearer " else "")


def check_headers(request: web.Request) -> None:
    if not api_key(request):
        raise Reject(error(401, "authentication_error", "x-api-key header is required"))
    if not request.headers.get("anthropic-version"):
        raise invalid("anthropic-version: header is required")


def check_model(request: web.Request, model: str) -> None:
    """Raise the error the model's cue asks for, or 404 for a model this server does not have."""
    if model == "fail-429":
        raise Reject(
            error(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit "
                "(https://docs.anthropic.com/en/api/rate-limits); "
                "see the response headers for current usage.",
                headers={
                    "retry-after": str(RETRY_AFTER_SECONDS),
                    "anthropic-ratelimit-requests-limit": "50",
                    "anthropic-ratelimit-requests-remaining": "0",
                },
            )
        )
    if model == "fail-529":
        raise Reject(error(529, "overloaded_error", "Overloaded"))
    if model == "fail-500":
        raise Reject(error(500, "api_error", "Internal server error"))
    if model == "fail-401":
        raise Reject(error(401, "authentication_error", "invalid x-api-key"))
    if model == "fail-403":
        key = api_key(request)
        raise Reject(
            error(
                403,
                "permission_error",
                f"Your API key {key} does not have permission to use the specified resource.",
            )
        )
    if model == "not-json":
        raise Reject(web.Response(status=502, text=PROXY_PAGE, content_type="text/html"))
    if model == "fail-404" or model not in request.app[SETTINGS].models:
        raise Reject(error(404, "not_found_error", f"model: {model}"))


# --- request validation ------------------------------------------------------------------------


async def read_body(request: web.Request, *, counting: bool = False) -> tuple[JSON, str]:
    check_headers(request)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise invalid("There was an issue with the request body: it is not a JSON object.")
    for key in body:
        if key not in (COUNT_KEYS if counting else KNOWN_KEYS):
            raise invalid(f"{key}: Extra inputs are not permitted")
    for name in ("model", "messages") if counting else ("model", "max_tokens", "messages"):
        if name not in body:
            raise invalid(f"{name}: Field required")
    if not counting and (not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1):
        raise invalid("max_tokens: Input should be a valid integer greater than or equal to 1")
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= 1:
        raise invalid("temperature: Input should be less than or equal to 1")
    check_tools(body)
    check_messages(body["messages"])
    model = str(body["model"])
    check_model(request, model)
    return body, model


def check_tools(body: JSON) -> None:
    tools = body.get("tools")
    if "tool_choice" in body and not tools:
        raise invalid("tool_choice may only be specified while providing tools")
    names = set()
    for i, tool in enumerate(tools or []):
        schema = tool.get("input_schema") if isinstance(tool, dict) else None
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise invalid(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
        names.add(tool.get("name"))
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool" and choice.get("name") not in names:
        raise invalid(f"tool_choice.name: tool '{choice.get('name')}' was not found in tools")


def blocks_of(content: object) -> list[JSON]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content if isinstance(block, dict)] if isinstance(content, list) else []


def check_messages(messages: object) -> None:
    if not isinstance(messages, list) or not messages:
        raise invalid("messages: at least one message is required")
    previous_uses: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "system":
            raise invalid(
                'messages: Unexpected role "system". The Messages API accepts a top-level `system` '
                'parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            raise invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        if content == "" or content == []:
            raise invalid(f"messages.{i}: all messages must have non-empty content")
        blocks = blocks_of(content)
        results = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
        for j, block in enumerate(blocks):
            kind = block.get("type")
            if kind not in BLOCK_TYPES:
                raise invalid(f"messages.{i}.content.{j}.type: unknown content block type '{kind}'")
            if kind == "text" and not block.get("text"):
                raise invalid(f"messages.{i}.content.{j}.text: text content blocks must be non-empty")
            if kind == "thinking" and not block.get("signature"):
                raise invalid(f"messages.{i}.content.{j}.thinking.signature: Field required")
            if kind == "tool_result" and block.get("tool_use_id") not in previous_uses:
                raise invalid(
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message."
                )
        if previous_uses and not previous_uses <= results:
            missing = ", ".join(sorted(previous_uses - results))
            raise invalid(
                f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                f"after: {missing}. Each `tool_use` block must have a corresponding `tool_result` block "
                "in the next message."
            )
        previous_uses = {str(b.get("id")) for b in blocks if b.get("type") == "tool_use"}


# --- the reply ---------------------------------------------------------------------------------


def block_text(block: JSON) -> str:
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "tool_result":
        return " ".join(block_text(b) for b in blocks_of(block.get("content", "")))
    return ""


def system_text(system: object) -> str:
    return " ".join(block_text(b) for b in blocks_of(system or ""))


def chat_view(body: JSON) -> list[JSON]:
    """The conversation as build_reply reads it: role and text; a turn of tool results is role "tool"."""
    view: list[JSON] = []
    if body.get("system"):
        view.append({"role": "system", "content": system_text(body["system"])})
    for message in body["messages"]:
        blocks = blocks_of(message["content"])
        results = [b for b in blocks if b.get("type") == "tool_result"]
        role = "tool" if results else message["role"]
        view.append({"role": role, "content": " ".join(block_text(b) for b in blocks)})
    return view


def cached_prefix(request: web.Request, body: JSON) -> tuple[int, int]:
    """(tokens written to, tokens read from) the fake prompt cache for this request's prefix."""
    system = body.get("system")
    marked = [b for b in blocks_of(system or "") if b.get("cache_control")]
    marked += [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("cache_control")]
    if not marked:
        return 0, 0
    tokens = word_count(system_text(system)) + 3 if system else 0
    key = hashlib.sha256(dumps([system, body.get("tools")])).hexdigest()
    seen: set[str] = request.app[CACHE]
    if key in seen:
        return 0, tokens
    seen.add(key)
    return tokens, 0


def forced_tool(body: JSON) -> JSON | None:
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") != "tool":
        return None
    tool: JSON = next(t for t in body["tools"] if t.get("name") == choice.get("name"))
    return tool


def make_reply(body: JSON, model: str) -> tuple[Reply, JSON | None, str | None]:
    """(reply, tool_use block or None, the stop sequence that cut the text or None)."""
    view = chat_view(body)
    tool = forced_tool(body)
    if tool is not None:
        arguments = json.loads(json_text(tool.get("input_schema"), f"Hello from {LABEL}"))
        prompt = sum(word_count(str(m["content"])) + 3 for m in view)
        use = {"type": "tool_use", "id": tool_use_id(body), "name": tool["name"], "input": arguments}
        return Reply("", None, prompt, word_count(json.dumps(arguments)) + 1), use, None
    tools = [{"function": {"name": t.get("name")}} for t in body.get("tools") or []]
    if isinstance(body.get("tool_choice"), dict) and body["tool_choice"].get("type") == "none":
        tools = []
    reply = build_reply(LABEL, model, view, tools=tools, max_tokens=body["max_tokens"])
    if reply.tool_call is not None:
        call = reply.tool_call
        use = {"type": "tool_use", "id": tool_use_id(body), "name": call.name, "input": call.arguments}
        return reply, use, None
    for stop in body.get("stop_sequences") or []:
        if stop and stop in reply.text:
            text = reply.text[: reply.text.index(stop)]
            return Reply(text, None, reply.prompt_tokens, word_count(text)), None, stop
    return reply, None, None


def tool_use_id(body: JSON) -> str:
    return "toolu_" + hashlib.sha256(dumps(body["messages"])).hexdigest()[:24]


def usage(reply: Reply, written: int, read: int) -> JSON:
    return {
        "input_tokens": reply.prompt_tokens - written - read,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
        "output_tokens": reply.completion_tokens,
        "service_tier": "standard",
    }


def stop_reason_of(reply: Reply, use: JSON | None, stop: str | None) -> str:
    if use is not None:
        return "tool_use"
    if stop is not None:
        return "stop_sequence"
    return "max_tokens" if reply.truncated else "end_turn"


def event(name: str, data: JSON) -> bytes:
    return f"event: {name}\n".encode() + b"data: " + dumps(data) + b"\n\n"


def split_in(text: str, parts: int) -> list[str]:
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream_events(message: JSON, reply: Reply, use: JSON | None) -> list[bytes]:
    start_usage = {**message["usage"], "output_tokens": 1}
    shell = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    frames = [event("message_start", {"type": "message_start", "message": shell})]
    if use is not None:
        head = {**use, "input": {}}
        frames.append(
            event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": head})
        )
        frames.append(event("ping", {"type": "ping"}))
        pieces = ["", *split_in(json.dumps(use["input"]), 3)]
        frames += [
            event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": p},
                },
            )
            for p in pieces
        ]
    else:
        text_block = {"type": "text", "text": ""}
        frames.append(
            event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": text_block},
            )
        )
        frames.append(event("ping", {"type": "ping"}))
        frames += [
            event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
            )
            for piece in reply.pieces()
            if piece
        ]
    frames.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    frames.append(
        event("message_delta", {"type": "message_delta", "delta": delta, "usage": message["usage"]})
    )
    frames.append(event("message_stop", {"type": "message_stop"}))
    return frames


def inband_error_frames() -> list[bytes]:
    return [event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})]


async def messages(request: web.Request) -> web.StreamResponse:
    body, model = await read_body(request)
    reply, use, stop = make_reply(body, model)
    written, read = cached_prefix(request, body)
    content: list[JSON] = [use] if use is not None else [{"type": "text", "text": reply.text}]
    message: JSON = {
        "id": f"msg_fake{request.app[STATS].requests:020d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason_of(reply, use, stop),
        "stop_sequence": stop,
        "usage": usage(reply, written, read),
    }
    delay = first_byte_delay(request, model, request.app[SETTINGS].slow_seconds)
    if body.get("stream"):
        return await stream_frames(
            request,
            model,
            stream_events(message, reply, use),
            content_type=SSE,
            delay=delay,
            error_frames=inband_error_frames(),
            keep_before_error=4,  # message_start, block start, ping, the first delta
        )
    inband = error(500, "api_error", INBAND_ERROR_MESSAGE)
    return await unary_reply(request, model, message, delay=delay, inband_error=inband)


async def count_tokens(request: web.Request) -> web.Response:
    body, _ = await read_body(request, counting=True)
    view = chat_view(body)
    tokens = sum(word_count(str(m["content"])) + 3 for m in view)
    return web.json_response({"input_tokens": tokens})


def model_object(name: str) -> JSON:
    return {
        "type": "model",
        "id": name,
        "display_name": name.replace("-", " ").title(),
        "created_at": CREATED_AT,
        "lifecycle": "active",
    }


async def list_models(request: web.Request) -> web.Response:
    check_headers(request)
    names = sorted(request.app[SETTINGS].models)
    limit = int(request.query.get("limit", "20"))
    if not 1 <= limit <= 1000:
        raise invalid("limit: Input should be less than or equal to 1000")
    after = request.query.get("after_id")
    start = names.index(after) + 1 if after in names else 0
    page = names[start : start + limit]
    return web.json_response(
        {
            "data": [model_object(name) for name in page],
            "has_more": start + limit < len(names),
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
        }
    )


async def get_model(request: web.Request) -> web.Response:
    check_headers(request)
    name = request.match_info["model"]
    if name not in request.app[SETTINGS].models:
        raise Reject(error(404, "not_found_error", f"model: {name}"))
    return web.json_response(model_object(name))


def create_app(slow_seconds: float = 2.0, models: Sequence[str] = DEFAULT_MODELS) -> web.Application:
    app = new_app(Settings(frozenset(models), slow_seconds))
    app[CACHE] = set()
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model:.+}", get_model)
    return app


async def start(
    port: int = 0, *, slow_seconds: float = 2.0, models: Sequence[str] = DEFAULT_MODELS
) -> FakeServer:
    """Serve the fake in this event loop on 127.0.0.1; its base URL (no /v1) is `server.url`."""
    return await serve(create_app(slow_seconds, models), port=port)


if __name__ == "__main__":
    main(create_app, "Fake Anthropic Messages API upstream")
