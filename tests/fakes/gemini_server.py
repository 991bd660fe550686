"""Fake Gemini API (Generative Language API v1beta) upstream.

    POST /v1beta/models/{model}:generateContent | :streamGenerateContent | :countTokens
         | :batchEmbedContents | :embedContent
    GET  /v1beta/models (pageSize, pageToken)  ·  GET /v1beta/models/{model}

Wire format per the Gemini API reference and the google-genai SDK: the key
in `x-goog-api-key` (or `?key=`); bodies checked strictly as the real front
end does (`gemini_checks`: unknown fields, roles, parts, schemas, function
call/response pairing, Gemini 3's signed function calls); streams with
`alt=sse` as `data: <GenerateContentResponse>` events separated by CRLF
blank lines, no end marker, `usageMetadata` on every chunk but complete only
on the last (without `alt=sse`, a streamed JSON array); errors as
`google.rpc.Status` JSON (`{"error": {"code", "message", "status", "details"}}`).

Replies are deterministic (`common.build_reply`). Models whose name starts
with `gemini-2.5` or `gemini-3` (and the cue `thinking`) think: usage has
`thoughtsTokenCount`, function calls and the last text part carry a
`thoughtSignature`, and `thinkingConfig.includeThoughts` adds a thought part.
Besides the shared cues (`common.CUES`; fail-401 is Gemini's 400
API_KEY_INVALID, whose DebugInfo quotes the key as the real one does), the
model name picks:

- fail-400: 400 INVALID_ARGUMENT; fail-503: 503 UNAVAILABLE (overloaded);
  fail-html: a 502 HTML page from a proxy (not JSON);
- fail-429: 429 RESOURCE_EXHAUSTED with QuotaFailure and RetryInfo
  `retryDelay: "7s"` and no Retry-After header, as Gemini sends it;
- malformed-call: finishReason MALFORMED_FUNCTION_CALL with a finishMessage;
- safety: a few words, then finishReason SAFETY; blocked: promptFeedback
  blockReason SAFETY and no candidates.

    python -m tests.fakes.gemini_server --port 0 --port-file PATH
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from tests.fakes.common import (
    INBAND_ERROR_MESSAGE,
    JSON,
    LISTED_CUES,
    MAX_DIMENSIONS,
    RETRY_AFTER_SECONDS,
    SETTINGS,
    STATS,
    FakeServer,
    Reject,
    Reply,
    Settings,
    build_reply,
    dumps,
    embedding,
    first_byte_delay,
    main,
    new_app,
    serve,
    stream_frames,
    unary_reply,
    word_count,
)
from tests.fakes.gemini_checks import BadRequest, check_contents, check_fields, check_generate

LABEL = "fake-gemini"
GEMINI_CUES = ("fail-400", "fail-503", "fail-html", "malformed-call", "safety", "blocked", "thinking")
DEFAULT_MODELS = (
    "gemini-2.0-flash",
    "gemini-2.5-flash",
    "gemini-3-pro-preview",
    "text-embedding-004",
    "gemini-embedding-001",
    *LISTED_CUES,
    *GEMINI_CUES,
)
SSE = "text/event-stream"
API_KEY = web.AppKey("api_key", str)
THOUGHT_TOKENS = 4
QUOTA_METRIC = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
MALFORMED_MESSAGE = "Malformed function call: call:default_api:get_weather{city:<ctrl46>Paris<ctrl46>"
SAFETY_RATINGS = [
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "HIGH"},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "NEGLIGIBLE"},
]


# --- errors ---------------------------------------------------------------------------------------


def status_error(http: int, status: str, message: str, details: Sequence[JSON] = ()) -> web.Response:
    error: JSON = {"code": http, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return web.json_response({"error": error}, status=http)


def bad_request(message: str) -> Reject:
    return Reject(status_error(400, "INVALID_ARGUMENT", message))


def not_found(model: str, method: str) -> Reject:
    return Reject(
        status_error(
            404,
            "NOT_FOUND",
            f"models/{model} is not found for API version v1beta, or is not supported for {method}. "
            "Call ListModels to see the list of available models and their supported methods.",
        )
    )


def check_key(request: web.Request) -> str:
    """The caller's key; a missing one is 403, a wrong one Gemini's 400 API_KEY_INVALID."""
    key = request.headers.get("x-goog-api-key") or request.query.get("key", "")
    if not key:
        raise Reject(
            status_error(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        )
    expected = request.app[API_KEY]
    if expected and key != expected:
        raise invalid_key(key)
    return key


def invalid_key(key: str) -> Reject:
    return Reject(
        status_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                },
                {
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                    "locale": "en-US",
                    "message": "API key not valid. Please pass a valid API key.",
                },
                # The real API quotes the rejected key here: the gateway must never pass it on.
                {"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": f"Invalid API key: {key}"},
            ],
        )
    )


def check_model(request: web.Request, model: str, method: str, key: str) -> None:
    """Raise the error the model's cue asks for, or 404 for a model this server does not have."""
    if model == "fail-429":
        raise Reject(
            status_error(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n"
                f"* Quota exceeded for metric: {QUOTA_METRIC}, limit: 10, model: {model}\n"
                f"Please retry in {RETRY_AFTER_SECONDS}.2s.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [
                            {
                                "quotaMetric": QUOTA_METRIC,
                                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                                "quotaDimensions": {"location": "global", "model": model},
                                "quotaValue": "10",
                            }
                        ],
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.Help",
                        "links": [
                            {
                                "description": "Learn more about Gemini API quotas",
                                "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                            }
                        ],
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{RETRY_AFTER_SECONDS}s",
                    },
                ],
            )
        )
    if model == "fail-500":
        raise Reject(
            status_error(
                500,
                "INTERNAL",
                "An internal error has occurred. Please retry or report in "
                "https://developers.generativeai.google/guide/troubleshooting",
            )
        )
    if model == "fail-503":
        raise Reject(status_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."))
    if model == "fail-400":
        raise bad_request("Request contains an invalid argument.")
    if model == "fail-401":
        raise invalid_key(key)
    if model == "fail-html":
        html = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
        raise Reject(web.Response(status=502, text=html, content_type="text/html"))
    if model == "fail-404" or model not in request.app[SETTINGS].models:
        raise not_found(model, method)


async def read_json(request: web.Request) -> JSON:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise bad_request("Invalid JSON payload received. Unexpected token.")
    return body


def split_target(target: str) -> tuple[str, str]:
    """`gemini-2.5-flash:generateContent` -> (model, method)."""
    model, colon, method = target.rpartition(":")
    if not colon:
        return target, ""
    return model, method


# --- replies --------------------------------------------------------------------------------------


def thinks(model: str) -> bool:
    return model.startswith(("gemini-2.5", "gemini-3")) or model == "thinking"


def signature(*seed: str) -> str:
    """A deterministic stand-in for Gemini's opaque thought signature (base64, as on the wire)."""
    return base64.b64encode(hashlib.sha256("|".join(seed).encode()).digest()).decode()


def chat_messages(body: JSON) -> list[JSON]:
    """The conversation in the shape `build_reply` reads (OpenAI roles, text content)."""
    messages: list[JSON] = []
    system = body.get("systemInstruction") or {}
    system_text = " ".join(p.get("text", "") for p in system.get("parts") or [])
    if system_text:
        messages.append({"role": "system", "content": system_text})
    for content in body.get("contents") or []:
        parts = content.get("parts") or []
        for part in parts:
            if "functionResponse" in part:
                messages.append(
                    {"role": "tool", "content": json.dumps(part["functionResponse"].get("response"))}
                )
        text = " ".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
        if text or not any("functionResponse" in p for p in parts):
            role = "assistant" if content.get("role") == "model" else "user"
            messages.append({"role": role, "content": text})
    return messages


def json_schema_of(config: JSON) -> object:
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    if isinstance(schema, dict):
        return _lower_types(schema)
    return True if config.get("responseMimeType") == "application/json" else None


def _lower_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema


def reply_to(body: JSON, model: str) -> Reply:
    config = body.get("generationConfig") or {}
    declarations = [d for tool in body.get("tools") or [] for d in tool.get("functionDeclarations") or []]
    mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
    return build_reply(
        LABEL,
        model,
        chat_messages(body),
        tools=[] if mode == "NONE" else [{"function": {"name": d["name"]}} for d in declarations],
        json_schema=json_schema_of(config),
        max_tokens=config.get("maxOutputTokens"),
    )


class Answer:
    """One reply as Gemini shapes it, unary or cut into stream chunks."""

    def __init__(self, body: JSON, model: str, response_id: str) -> None:
        self.model = model
        self.response_id = response_id
        self.reply = reply_to(body, model)
        self.thinking = thinks(model)
        config = body.get("generationConfig") or {}
        thinking = config.get("thinkingConfig") or {}
        self.thought_text = (
            "Thinking about the request." if self.thinking and thinking.get("includeThoughts") else ""
        )
        self.thoughts = THOUGHT_TOKENS if self.thinking and thinking.get("thinkingBudget") != 0 else 0
        self.usage_on = model != "no-usage"

    def finish(self) -> str:
        if self.model == "malformed-call":
            return "MALFORMED_FUNCTION_CALL"
        if self.model == "safety":
            return "SAFETY"
        return "MAX_TOKENS" if self.reply.truncated else "STOP"

    def usage(self, candidates: int | None, thoughts: int) -> JSON:
        prompt = self.reply.prompt_tokens
        usage: JSON = {
            "promptTokenCount": prompt,
            "totalTokenCount": prompt + (candidates or 0) + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        }
        if candidates is not None:
            usage["candidatesTokenCount"] = candidates
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return usage

    def text_parts(self) -> list[str]:
        if self.model == "safety":
            return ["I", " cannot"]
        return [] if self.reply.tool_call else self.reply.pieces()

    def call_part(self) -> JSON | None:
        call = self.reply.tool_call
        if call is None or self.model == "malformed-call":
            return None
        part: JSON = {"functionCall": {"name": call.name, "args": call.arguments}}
        if self.thinking:
            part["thoughtSignature"] = signature(self.response_id, "call")
        return part

    def candidate(self, parts: list[JSON], finish: str | None) -> JSON:
        candidate: JSON = {"index": 0}
        if parts:
            candidate["content"] = {"parts": parts, "role": "model"}
        if finish:
            candidate["finishReason"] = finish
            if finish == "MALFORMED_FUNCTION_CALL":
                candidate["finishMessage"] = MALFORMED_MESSAGE
            if finish == "SAFETY":
                candidate["safetyRatings"] = SAFETY_RATINGS
        return candidate

    def chunk(self, parts: list[JSON], finish: str | None, candidates: int | None, thoughts: int) -> JSON:
        out: JSON = {"candidates": [self.candidate(parts, finish)]}
        if self.usage_on:
            out["usageMetadata"] = self.usage(candidates, thoughts)
        out["modelVersion"] = self.model
        out["responseId"] = self.response_id
        return out

    def blocked(self) -> JSON:
        out: JSON = {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": SAFETY_RATINGS}}
        if self.usage_on:
            out["usageMetadata"] = self.usage(None, 0)
        out["modelVersion"] = self.model
        out["responseId"] = self.response_id
        return out

    def unary(self) -> JSON:
        if self.model == "blocked":
            return self.blocked()
        parts: list[JSON] = []
        if self.thought_text:
            parts.append({"text": self.thought_text, "thought": True})
        text = "".join(self.text_parts())
        if text:
            parts.append({"text": text})
            if self.thinking:
                parts[-1]["thoughtSignature"] = signature(self.response_id, "text")
        call = self.call_part()
        if call:
            parts.append(call)
        return self.chunk(parts, self.finish(), self.reply.completion_tokens, self.thoughts)

    def stream(self) -> list[JSON]:
        """The same answer in chunks: usage grows chunk by chunk and is whole only in the last."""
        if self.model == "blocked":
            return [self.blocked()]
        chunks: list[JSON] = []
        if self.thought_text:
            chunks.append(
                self.chunk([{"text": self.thought_text, "thought": True}], None, None, self.thoughts)
            )
        words = 0
        for piece in self.text_parts():
            words += word_count(piece)
            chunks.append(
                self.chunk([{"text": piece}], None, min(words, self.reply.completion_tokens), self.thoughts)
            )
        last: list[JSON] = []
        call = self.call_part()
        if call:
            last.append(call)
        elif self.thinking and self.text_parts():
            # Gemini closes a thinking model's streamed text with an empty, signed text part.
            last.append({"text": "", "thoughtSignature": signature(self.response_id, "text")})
        chunks.append(self.chunk(last, self.finish(), self.reply.completion_tokens, self.thoughts))
        return chunks


def sse_frames(chunks: Sequence[JSON]) -> list[bytes]:
    return [b"data: " + dumps(chunk) + b"\r\n\r\n" for chunk in chunks]


def array_frames(chunks: Sequence[JSON]) -> list[bytes]:
    """Without alt=sse, streamGenerateContent sends one JSON array, element by element."""
    if not chunks:
        return [b"[]"]
    return [(b"[" if i == 0 else b",\r\n") + dumps(c) for i, c in enumerate(chunks)] + [b"]"]


def inband_error_frames(sse: bool) -> list[bytes]:
    error = {"error": {"code": 500, "message": INBAND_ERROR_MESSAGE, "status": "INTERNAL"}}
    return [b"data: " + dumps(error) + b"\r\n\r\n"] if sse else [b",\r\n" + dumps(error) + b"]"]


# --- handlers -------------------------------------------------------------------------------------


async def models_post(request: web.Request) -> web.StreamResponse:
    model, method = split_target(request.match_info["target"])
    key = check_key(request)
    handlers = {
        "generateContent": generate_content,
        "streamGenerateContent": stream_generate_content,
        "countTokens": count_tokens,
        "batchEmbedContents": batch_embed_contents,
        "embedContent": embed_content,
    }
    handler = handlers.get(method)
    if handler is None:
        raise Reject(status_error(404, "NOT_FOUND", f"Method not found: {method or '(none)'}."))
    check_model(request, model, method, key)
    body = await read_json(request)
    try:
        return await handler(request, model, body)
    except BadRequest as exc:
        raise bad_request(str(exc)) from None


def response_id(request: web.Request) -> str:
    return f"fakeResp{request.app[STATS].requests:08d}"


async def generate_content(request: web.Request, model: str, body: JSON) -> web.StreamResponse:
    body = check_generate(body, model)
    answer = Answer(body, model, response_id(request))
    delay = first_byte_delay(request, model, request.app[SETTINGS].slow_seconds)
    inband = status_error(500, "INTERNAL", INBAND_ERROR_MESSAGE)
    return await unary_reply(request, model, answer.unary(), delay=delay, inband_error=inband)


async def stream_generate_content(request: web.Request, model: str, body: JSON) -> web.StreamResponse:
    body = check_generate(body, model)
    chunks = Answer(body, model, response_id(request)).stream()
    sse = request.query.get("alt") == "sse"
    return await stream_frames(
        request,
        model,
        sse_frames(chunks) if sse else array_frames(chunks),
        content_type=SSE if sse else "application/json; charset=UTF-8",
        delay=first_byte_delay(request, model, request.app[SETTINGS].slow_seconds),
        error_frames=inband_error_frames(sse),
        keep_before_error=2,
    )


async def count_tokens(request: web.Request, model: str, body: JSON) -> web.Response:
    body = check_fields(body, "CountTokensRequest")
    inner = body.get("generateContentRequest")
    if inner is not None:
        if inner.get("model") != f"models/{model}":
            raise BadRequest("* CountTokensRequest.generate_content_request.model: model must match the URL")
        inner = check_generate(inner, model, "CountTokensRequest.generate_content_request")
    else:
        check_contents(body.get("contents"), "CountTokensRequest.contents", signed_calls=False)
        inner = {"contents": body["contents"]}
    tokens = reply_to(inner, model).prompt_tokens
    return web.json_response(
        {"totalTokens": tokens, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}]}
    )


def embed_values(entry: JSON, model: str, where: str) -> list[float]:
    if entry.get("model", f"models/{model}") != f"models/{model}":
        raise BadRequest(f"* {where}.model: the model of each request must match the batch request's model")
    parts = (entry.get("content") or {}).get("parts") or []
    if not parts:
        raise BadRequest(f"* {where}.content.parts: contents.parts must not be empty.")
    text = " ".join(str(part.get("text", "")) for part in parts)
    dimensions = int(entry.get("outputDimensionality") or 16)
    if not 0 < dimensions <= MAX_DIMENSIONS:
        raise BadRequest(f"* {where}.output_dimensionality: must be between 1 and {MAX_DIMENSIONS}")
    return embedding(text, dimensions)


async def batch_embed_contents(request: web.Request, model: str, body: JSON) -> web.Response:
    body = check_fields(body, "BatchEmbedContentsRequest")
    entries = body.get("requests") or []
    if not entries:
        raise BadRequest("* BatchEmbedContentsRequest.requests: requests must not be empty")
    vectors = [
        embed_values(e, model, f"BatchEmbedContentsRequest.requests[{i}]") for i, e in enumerate(entries)
    ]
    return web.json_response({"embeddings": [{"values": v} for v in vectors]})


async def embed_content(request: web.Request, model: str, body: JSON) -> web.Response:
    body = check_fields(body, "EmbedContentRequest")
    return web.json_response({"embedding": {"values": embed_values(body, model, "EmbedContentRequest")}})


def model_object(name: str) -> JSON:
    embeds = "embedding" in name
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name,
        "description": f"{LABEL} model {name}",
        "inputTokenLimit": 2048 if embeds else 1048576,
        "outputTokenLimit": 1 if embeds else 65536,
        "supportedGenerationMethods": (
            ["embedContent", "batchEmbedContents"]
            if embeds
            else ["generateContent", "streamGenerateContent", "countTokens"]
        ),
    }


async def list_models(request: web.Request) -> web.Response:
    check_key(request)
    names = sorted(request.app[SETTINGS].models)
    size = min(int(request.query.get("pageSize") or 50), 1000)
    start = int(request.query.get("pageToken") or 0)
    page: JSON = {"models": [model_object(name) for name in names[start : start + size]]}
    if start + size < len(names):
        page["nextPageToken"] = str(start + size)
    return web.json_response(page)


async def get_model(request: web.Request) -> web.Response:
    check_key(request)
    name = request.match_info["target"]
    if name not in request.app[SETTINGS].models:
        raise not_found(name, "getModel")
    return web.json_response(model_object(name))


def create_app(
    slow_seconds: float = 2.0, models: Sequence[str] = DEFAULT_MODELS, api_key: str = ""
) -> web.Application:
    """`api_key`: the only key accepted (any non-empty key when empty)."""
    app = new_app(Settings(frozenset(models), slow_seconds))
    app[API_KEY] = api_key
    app.router.add_get("/v1beta/models", list_models)
    app.router.add_post("/v1beta/models/{target}", models_post)
    app.router.add_get("/v1beta/models/{target}", get_model)
    return app


async def start(
    port: int = 0, *, slow_seconds: float = 2.0, models: Sequence[str] = DEFAULT_MODELS, api_key: str = ""
) -> FakeServer:
    """Serve the fake in this event loop on 127.0.0.1; its base URL is `server.url` (/v1beta is added)."""
    return await serve(create_app(slow_seconds, models, api_key), port=port)


if __name__ == "__main__":
    main(create_app, "Fake Gemini API upstream")
