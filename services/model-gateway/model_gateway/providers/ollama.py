"""Ollama's native API (/api/chat, /api/generate, /api/embed, /api/tags, /api/show) ⇄ canonical.

The wire format is the one published in ollama/ollama docs/api.md, with
api/types.go for fields its examples leave out (tool-call `id` and
`function.index`, `tool_call_id`). Streams are NDJSON: one object per line,
the last with `"done": true` and the counters; an error after the 200 arrives
as an `{"error": "..."}` line. Tool-call arguments are JSON objects on the
wire and JSON strings in the canonical schema.

Translation is pure functions (testable without HTTP); OllamaProvider only
moves bytes through the shared UpstreamHTTP.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from google.protobuf import json_format, struct_pb2

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError, invalid
from model_gateway.providers.base import NO_SETTINGS, ModelSettings, Provider
from model_gateway.providers.http import UpstreamHTTP, upstream_message
from model_gateway.tokens import count_text, estimate_usage
from modelgateway.v1 import gateway_pb2 as pb

JSON = dict[str, Any]

CHAT_PATH = "/api/chat"
GENERATE_PATH = "/api/generate"
EMBED_PATH = "/api/embed"
TAGS_PATH = "/api/tags"
SHOW_PATH = "/api/show"

# Ollama knows no "developer" role; its templates render system text the same way.
_ROLES: dict[int, str] = {
    pb.ROLE_SYSTEM: "system",
    pb.ROLE_DEVELOPER: "system",
    pb.ROLE_USER: "user",
    pb.ROLE_ASSISTANT: "assistant",
    pb.ROLE_TOOL: "tool",
}

# "load" and "unload" (an empty request) and anything newer read as a normal stop.
_FINISH: dict[str, pb.FinishReason.ValueType] = {
    "stop": pb.FINISH_REASON_STOP,
    "length": pb.FINISH_REASON_LENGTH,
}

# Past 2**53 a double no longer holds every integer, and orjson refuses ints
# beyond 64 bits: such floats stay floats.
_MAX_EXACT_INT = 2**53

# Shapes of malformed upstream JSON that the translators let surface; the
# provider turns them into a protocol error.
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)


# --- canonical → Ollama ------------------------------------------------------


def plain_json(value: Any) -> Any:
    """A Struct-decoded value with integral floats turned back into ints.

    google.protobuf.Struct stores every number as a double, so `num_ctx: 4096`
    arrives as 4096.0; Ollama's integer options (num_ctx, num_predict, seed,
    top_k, ...) are written as ints in its docs and clients.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < _MAX_EXACT_INT:
        return int(value)
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    return value


def struct_dict(struct: struct_pb2.Struct) -> JSON:
    """A Struct as plain JSON (see plain_json)."""
    return {key: plain_json(value) for key, value in json_format.MessageToDict(struct).items()}


def image_base64(image: pb.ImagePart, where: str) -> str:
    """An image as the bare base64 string Ollama's `images` list holds."""
    source = image.WhichOneof("source")
    if source == "data":
        return base64.b64encode(image.data).decode("ascii")
    if source != "url":
        raise invalid(where, "has neither url nor data")
    url = image.url
    if not url.startswith("data:"):
        scheme = url.split(":", 1)[0] if ":" in url else "relative"
        raise invalid(
            f"{where}.url",
            f"Ollama accepts only inline images (bytes or a data: URL), not {scheme} URLs: {url[:80]!r}",
        )
    header, comma, payload = url.partition(",")
    if not comma:
        raise invalid(f"{where}.url", "is a data: URL without a ',' before its payload")
    if not header.lower().endswith(";base64"):
        # A data: URL may carry percent-encoded bytes; Ollama wants base64.
        return base64.b64encode(unquote_to_bytes(payload)).decode("ascii")
    payload = payload.strip()
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{where}.url", "the data: URL's payload is not valid base64") from None
    return payload


def tool_call_json(call: pb.ToolCall, where: str, index: int) -> JSON:
    """An assistant's earlier tool call, arguments as the JSON object Ollama expects."""
    try:
        arguments = orjson.loads(call.arguments or "{}")
    except orjson.JSONDecodeError as exc:
        raise invalid(f"{where}.arguments", f"is not valid JSON ({exc}): {call.arguments[:80]!r}") from None
    if not isinstance(arguments, dict):
        raise invalid(f"{where}.arguments", f"must be a JSON object, got {call.arguments[:80]!r}")
    out: JSON = {"function": {"index": index, "name": call.name, "arguments": arguments}}
    if call.id:
        out["id"] = call.id
    return out


def message_json(message: pb.Message, where: str, call_names: Mapping[str, str]) -> JSON:
    """One chat message; `call_names` maps earlier tool-call ids to their function names."""
    role = _ROLES.get(message.role)
    if role is None:
        raise invalid(f"{where}.role", f"unknown role {message.role}")
    texts: list[str] = []
    images: list[str] = []
    for j, part in enumerate(message.content):
        if part.HasField("text"):
            texts.append(part.text)
        elif part.HasField("image"):
            images.append(image_base64(part.image, f"{where}.content[{j}].image"))
    # Ollama has one content string per message; a newline keeps parts from gluing words together.
    out: JSON = {"role": role, "content": "\n".join(texts)}
    if images:
        out["images"] = images
    if message.reasoning:
        out["thinking"] = message.reasoning
    if message.tool_calls:
        out["tool_calls"] = [
            tool_call_json(call, f"{where}.tool_calls[{k}]", k) for k, call in enumerate(message.tool_calls)
        ]
    if message.role == pb.ROLE_TOOL:
        # Ollama matches results to calls by function name; OpenAI-style
        # clients only send the call id, so look the name up as Ollama's own
        # OpenAI layer does.
        name = message.name or call_names.get(message.tool_call_id, "")
        if name:
            out["tool_name"] = name
        if message.tool_call_id:
            out["tool_call_id"] = message.tool_call_id
    return out


def tools_json(request: pb.GenerateRequest) -> list[JSON]:
    choice = request.tool_choice
    # Ollama has no tool_choice: "none" is honoured by offering no tools and a
    # named function by offering only it; "required" cannot be enforced.
    if choice.mode == pb.ToolChoice.MODE_NONE:
        return []
    tools: Iterable[pb.Tool] = request.tools
    if choice.mode == pb.ToolChoice.MODE_FUNCTION:
        tools = [tool for tool in request.tools if tool.name == choice.function_name]
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": (
                    struct_dict(tool.parameters)
                    if tool.HasField("parameters")
                    else {"type": "object", "properties": {}}
                ),
            },
        }
        for tool in tools
    ]


def sampling_options(sampling: pb.Sampling) -> JSON:
    """The sampling fields the client set, under Ollama's option names."""
    options: JSON = {}
    if sampling.HasField("temperature"):
        options["temperature"] = sampling.temperature
    if sampling.HasField("top_p"):
        options["top_p"] = sampling.top_p
    if sampling.HasField("top_k"):
        options["top_k"] = sampling.top_k
    if sampling.HasField("max_tokens"):
        options["num_predict"] = sampling.max_tokens
    if sampling.stop:
        options["stop"] = list(sampling.stop)
    if sampling.HasField("seed"):
        options["seed"] = sampling.seed
    if sampling.HasField("presence_penalty"):
        options["presence_penalty"] = sampling.presence_penalty
    if sampling.HasField("frequency_penalty"):
        options["frequency_penalty"] = sampling.frequency_penalty
    return options


def format_json(response_format: pb.ResponseFormat) -> str | JSON | None:
    """Ollama's `format`: "json" for JSON mode, the schema itself for structured output."""
    if response_format.type == pb.ResponseFormat.TYPE_JSON_OBJECT:
        return "json"
    if response_format.type == pb.ResponseFormat.TYPE_JSON_SCHEMA:
        if response_format.HasField("schema") and response_format.schema.fields:
            return struct_dict(response_format.schema)
        return "json"
    return None


def _with_extras(body: JSON, options: JSON, provider_options: struct_pb2.Struct) -> JSON:
    """Merge the pass-through provider options into a body the gateway built.

    `provider_options.options` fills Ollama's `options`, its other keys
    (keep_alive, think, raw, suffix, ...) go top level; what the canonical
    request set explicitly wins on a clash.
    """
    extras = struct_dict(provider_options)
    extra_options = extras.pop("options", None)
    if extra_options is not None:
        if not isinstance(extra_options, dict):
            raise invalid("provider_options.options", "must be an object of Ollama model options")
        options = {**extra_options, **options}
    if options:
        body["options"] = options
    for key, value in extras.items():
        body.setdefault(key, value)
    return body


def chat_body(request: pb.GenerateRequest, model: str, stream: bool) -> JSON:
    """The POST /api/chat body for a canonical request with messages."""
    call_names: dict[str, str] = {}
    messages: list[JSON] = []
    for i, message in enumerate(request.messages):
        messages.append(message_json(message, f"messages[{i}]", call_names))
        for call in message.tool_calls:
            if call.id:
                call_names[call.id] = call.name
    body: JSON = {"model": model, "messages": messages, "stream": stream}
    tools = tools_json(request)
    if tools:
        body["tools"] = tools
    response_format = format_json(request.response_format)
    if response_format is not None:
        body["format"] = response_format
    return _with_extras(body, sampling_options(request.sampling), request.provider_options)


def generate_body(request: pb.GenerateRequest, model: str, stream: bool) -> JSON:
    """The POST /api/generate body for a raw prompt (`raw`, `suffix`, ... come from provider_options)."""
    if request.tools:
        raise invalid("tools", "a raw prompt (Ollama /api/generate) cannot use tools; send messages instead")
    body: JSON = {"model": model, "prompt": request.prompt, "stream": stream}
    if request.system:
        body["system"] = request.system
    response_format = format_json(request.response_format)
    if response_format is not None:
        body["format"] = response_format
    return _with_extras(body, sampling_options(request.sampling), request.provider_options)


def request_body(request: pb.GenerateRequest, model: str, stream: bool) -> tuple[str, JSON]:
    """The endpoint and body: /api/generate for a bare prompt, /api/chat otherwise."""
    if request.prompt and not request.messages:
        return GENERATE_PATH, generate_body(request, model, stream)
    return CHAT_PATH, chat_body(request, model, stream)


def embed_body(request: pb.EmbedRequest, model: str) -> JSON:
    body: JSON = {"model": model, "input": list(request.input)}
    if request.HasField("truncate"):
        body["truncate"] = request.truncate
    if request.HasField("dimensions"):
        body["dimensions"] = request.dimensions
    return _with_extras(body, {}, request.provider_options)


# --- Ollama → canonical ------------------------------------------------------


def _object(value: Any, what: str) -> JSON:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    return value


def _count(obj: JSON, key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def new_call_id() -> str:
    return f"call_{secrets.token_hex(12)}"


def tool_call_from(obj: Any) -> pb.ToolCall:
    """One Ollama tool call; older servers send no id, so one is made up."""
    call = _object(obj, "tool call")
    function = _object(call.get("function"), "tool call function")
    arguments = function.get("arguments")
    # Ollama sends an object; a string is taken to be JSON already.
    text = arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode()
    return pb.ToolCall(
        id=_text(call.get("id"), "tool call id") or new_call_id(),
        name=_text(function.get("name"), "tool call name"),
        arguments=text,
    )


def _tool_calls(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("tool_calls is not a list")
    return value


def finish_reason(done_reason: Any, has_tool_calls: bool) -> pb.FinishReason.ValueType:
    if has_tool_calls:
        return pb.FINISH_REASON_TOOL_CALLS
    if not isinstance(done_reason, str):
        return pb.FINISH_REASON_STOP
    return _FINISH.get(done_reason, pb.FINISH_REASON_STOP)


def output_text(content: str, reasoning: str, calls: Iterable[pb.ToolCall]) -> str:
    """What the model generated, for estimating output tokens (the same streamed or not)."""
    return "\n".join([content, reasoning, *(f"{call.name} {call.arguments}" for call in calls)])


def usage_from(obj: JSON, request: pb.GenerateRequest, generated: str) -> pb.Usage:
    """Usage from the counters; a missing one (a cached prompt omits prompt_eval_count) is estimated."""
    input_tokens = _count(obj, "prompt_eval_count")
    output_tokens = _count(obj, "eval_count")
    estimated = input_tokens is None or output_tokens is None
    if input_tokens is None or output_tokens is None:
        estimate = estimate_usage(request, generated)
        input_tokens = estimate.input_tokens if input_tokens is None else input_tokens
        output_tokens = estimate.output_tokens if output_tokens is None else output_tokens
    return pb.Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
        estimated=estimated,
    )


def timings_from(obj: JSON) -> pb.Timings:
    """Ollama's durations, already in nanoseconds."""
    return pb.Timings(
        total_ns=_count(obj, "total_duration") or 0,
        load_ns=_count(obj, "load_duration") or 0,
        prompt_eval_ns=_count(obj, "prompt_eval_duration") or 0,
        eval_ns=_count(obj, "eval_duration") or 0,
    )


def _fields(obj: JSON, chat: bool) -> tuple[str, str, list[Any]]:
    """(content, thinking, raw tool calls) of a /api/chat or /api/generate reply object."""
    if chat:
        message = _object(obj.get("message") or {}, "message")
        return (
            _text(message.get("content"), "message.content"),
            _text(message.get("thinking"), "message.thinking"),
            _tool_calls(message.get("tool_calls")),
        )
    return (
        _text(obj.get("response"), "response"),
        _text(obj.get("thinking"), "thinking"),
        _tool_calls(obj.get("tool_calls")),
    )


def _response(obj: JSON, request: pb.GenerateRequest, chat: bool) -> pb.GenerateResponse:
    content, thinking, raw_calls = _fields(obj, chat)
    calls = [tool_call_from(raw) for raw in raw_calls]
    message = pb.Message(role=pb.ROLE_ASSISTANT, reasoning=thinking, tool_calls=calls)
    if content:
        message.content.append(pb.ContentPart(text=content))
    return pb.GenerateResponse(
        message=message,
        finish_reason=finish_reason(obj.get("done_reason"), bool(calls)),
        usage=usage_from(obj, request, output_text(content, thinking, calls)),
        timings=timings_from(obj),
    )


def response_from_chat(obj: JSON, request: pb.GenerateRequest) -> pb.GenerateResponse:
    """A non-streamed /api/chat reply; `request` is needed to estimate missing usage."""
    return _response(obj, request, chat=True)


def response_from_generate(obj: JSON, request: pb.GenerateRequest) -> pb.GenerateResponse:
    """A non-streamed /api/generate reply (`response` holds the text)."""
    return _response(obj, request, chat=False)


class StreamTranslator:
    """The NDJSON objects of one /api/chat or /api/generate stream, as canonical chunks.

    Ollama sends every tool call whole in one line, so each becomes a single
    ToolCallDelta carrying its full JSON arguments.
    """

    def __init__(self, request: pb.GenerateRequest, chat: bool) -> None:
        self.request = request
        self.chat = chat
        self.done = False
        self._content: list[str] = []
        self._thinking: list[str] = []
        self._calls: list[pb.ToolCall] = []
        self._indices: set[int] = set()

    def _index(self, raw: Any) -> int:
        given = raw.get("function", {}).get("index")
        # Honour Ollama's index, unless it repeats one: parsers that never set
        # it send 0 for every call, and clients merge deltas by index.
        if isinstance(given, int) and not isinstance(given, bool) and given not in self._indices:
            index = given
        else:
            index = max(self._indices, default=-1) + 1
        self._indices.add(index)
        return index

    def feed(self, obj: JSON) -> list[pb.StreamChunk]:
        """The chunks one line yields: a delta if it carries output, the final if done."""
        if self.done:
            raise ValueError("a line after the done line")
        content, thinking, raw_calls = _fields(obj, self.chat)
        chunks: list[pb.StreamChunk] = []
        delta = pb.Delta(text=content, reasoning=thinking)
        for raw in raw_calls:
            call = tool_call_from(raw)
            self._calls.append(call)
            delta.tool_calls.append(
                pb.ToolCallDelta(index=self._index(raw), id=call.id, name=call.name, arguments=call.arguments)
            )
        # The done line may still carry text (a parser flushing), so it is checked like any other.
        if content or thinking or delta.tool_calls:
            self._content.append(content)
            self._thinking.append(thinking)
            chunks.append(pb.StreamChunk(delta=delta))
        if obj.get("done") is True:
            self.done = True
            generated = output_text("".join(self._content), "".join(self._thinking), self._calls)
            final = pb.FinalChunk(
                finish_reason=finish_reason(obj.get("done_reason"), bool(self._calls)),
                usage=usage_from(obj, self.request, generated),
                timings=timings_from(obj),
            )
            chunks.append(pb.StreamChunk(final=final))
        return chunks


def embed_response(obj: JSON, request: pb.EmbedRequest) -> pb.EmbedResponse:
    vectors = obj.get("embeddings")
    if not isinstance(vectors, list):
        raise ValueError("the reply has no embeddings list")
    if len(vectors) != len(request.input):
        raise ValueError(f"{len(vectors)} embeddings for {len(request.input)} inputs")
    input_tokens = _count(obj, "prompt_eval_count")
    estimated = input_tokens is None
    if input_tokens is None:
        input_tokens = sum(count_text(text) for text in request.input)
    return pb.EmbedResponse(
        embeddings=[pb.Embedding(values=vector) for vector in vectors],
        usage=pb.Usage(input_tokens=input_tokens, total_tokens=input_tokens, estimated=estimated),
    )


def model_names(obj: JSON) -> list[str]:
    """The names in a GET /api/tags reply."""
    models = obj.get("models") or []
    if not isinstance(models, list):
        raise ValueError("models is not a list")
    return [_text(_object(m, "model").get("name") or m.get("model"), "model name") for m in models]


# --- the provider ------------------------------------------------------------


class OllamaProvider(Provider):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        headers: dict[str, str] = {}
        if config.api_key is not None:
            # Plain local Ollama needs no key; ollama.com and proxies in front of it take a bearer token.
            headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        self.http = UpstreamHTTP(name, config, headers=headers)

    @property
    def address(self) -> str:
        return self.http.address

    async def close(self) -> None:
        await self.http.close()

    def _reply(self, reply: Any, path: str) -> JSON:
        if not isinstance(reply, dict):
            raise self.http.protocol_error(f"reply to {path} is not a JSON object")
        if "error" in reply:
            raise self.http.in_band_error(upstream_message(orjson.dumps(reply)))
        return reply

    def _malformed(self, path: str, exc: Exception) -> GatewayError:
        return self.http.protocol_error(f"reply to {path}: {exc}")

    async def generate(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.GenerateResponse:
        path, body = request_body(request, model, stream=False)
        reply = self._reply(await self.http.request_json("POST", path, timeout, body), path)
        try:
            return _response(reply, request, chat=path == CHAT_PATH)
        except _MALFORMED as exc:
            raise self._malformed(path, exc) from None

    async def stream(
        self,
        request: pb.GenerateRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> AsyncIterator[pb.StreamChunk]:
        path, body = request_body(request, model, stream=True)
        translator = StreamTranslator(request, chat=path == CHAT_PATH)
        async with self.http.open_stream(path, timeout, body) as response:
            async for line in self.http.iter_lines(response):
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise self.http.protocol_error(f"stream line is not JSON: {line[:120]!r}") from None
                if isinstance(obj, dict) and "error" in obj:
                    raise self.http.in_band_error(upstream_message(line))
                try:
                    chunks = translator.feed(_object(obj, "stream line"))
                except _MALFORMED as exc:
                    raise self._malformed(path, exc) from None
                for chunk in chunks:
                    yield chunk
                if translator.done:
                    return
        raise self.http.interrupted('the NDJSON stream ended without a "done": true line')

    async def embed(
        self,
        request: pb.EmbedRequest,
        model: str,
        timeout: float,
        settings: ModelSettings = NO_SETTINGS,
    ) -> pb.EmbedResponse:
        reply = self._reply(
            await self.http.request_json("POST", EMBED_PATH, timeout, embed_body(request, model)), EMBED_PATH
        )
        try:
            return embed_response(reply, request)
        except _MALFORMED as exc:
            raise self._malformed(EMBED_PATH, exc) from None

    async def list_models(self, timeout: float) -> list[str]:
        reply = self._reply(await self.http.request_json("GET", TAGS_PATH, timeout), TAGS_PATH)
        try:
            return model_names(reply)
        except _MALFORMED as exc:
            raise self._malformed(TAGS_PATH, exc) from None

    async def show(self, model: str, timeout: float) -> JSON:
        """The raw POST /api/show reply (details, parameters, template, capabilities)."""
        return self._reply(
            await self.http.request_json("POST", SHOW_PATH, timeout, {"model": model}), SHOW_PATH
        )
