"""Ollama's native API (/api/chat, /api/generate, /api/embed, /api/tags, ...) in front of the gateway.

The wire format is ollama/ollama docs/api.md; where the docs are loose, the
official `ollama` Python client's types (ChatResponse, GenerateResponse,
ListResponse, ShowResponse, ProcessResponse, EmbedResponse) are the judge.

- Streaming is the default (`stream` absent means true): NDJSON, one object
  per line, the last with `"done": true`, the counters and the durations in
  nanoseconds. A failure after the first line is an `{"error": "..."}` line.
- Ollama sends tool calls whole, with arguments as a JSON object, so the
  gateway's fragments are gathered by index and sent once complete.
- `options` (whole), `keep_alive`, `think`, `raw`, `suffix` and `template`
  travel in provider_options, so an Ollama upstream gets them untouched; the
  options with a canonical meaning (temperature, num_predict, ...) also fill
  the canonical sampling, so every other provider honours them too.

Translation is pure functions and one small stream framer (testable without
HTTP); the routes at the bottom only move messages through the bridge core.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from model_gateway_bridge.client import CallContext, OpenStream, call_generate, call_unary, open_stream
from model_gateway_bridge.errors import BridgeError, bad_request
from model_gateway_bridge.framing import json_response, ndjson_line, ndjson_response
from model_gateway_bridge.state import BridgeState, state_of
from modelgateway.v1 import gateway_pb2 as pb

log = logging.getLogger("model_gateway_bridge.ollama")

router = APIRouter()

JSON = dict[str, Any]

# What GET /api/version reports. Ollama clients compare it against the
# release that introduced a feature (tools 0.3, structured outputs 0.5,
# thinking 0.9), so it names an Ollama release whose API this surface speaks,
# not the gateway's own version.
OLLAMA_COMPAT_VERSION = "0.12.0"

ROOT_TEXT = "Ollama is running (model-gateway)"

_ROLES: dict[str, pb.Role.ValueType] = {
    "system": pb.ROLE_SYSTEM,
    "user": pb.ROLE_USER,
    "assistant": pb.ROLE_ASSISTANT,
    "tool": pb.ROLE_TOOL,
}

# Top-level request fields an Ollama upstream understands and the canonical
# schema does not: passed through in provider_options as they came.
_CHAT_EXTRAS = ("keep_alive", "think")
_GENERATE_EXTRAS = ("keep_alive", "think", "raw", "suffix", "template")

# The gateway's free-form capability names in Ollama's vocabulary (/api/show).
_CAPABILITIES = {
    "chat": "completion",
    "completion": "completion",
    "embed": "embedding",
    "embeddings": "embedding",
    "reasoning": "thinking",
}

# keep_alive of zero (a number of seconds or a Go duration such as "0s") unloads a model.
_ZERO_DURATION = re.compile(r"[+-]?(0+\.?0*|\.0+)(ns|us|µs|ms|s|m|h)?")

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def error_response(err: BridgeError) -> Response:
    """Ollama's error body: `{"error": "message"}` with the status of the failure."""
    return json_response({"error": err.message}, status=err.status, headers=err.headers)


# --- reading request fields, with errors that name the field and value --------


def _show(value: Any) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _invalid(where: str, expected: str, value: Any) -> BridgeError:
    return bad_request(f"invalid {where}: expected {expected}, got {_show(value)}", param=where)


def _string(value: Any, where: str) -> str:
    """An optional string field; null and absent read as ""."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(where, "a string", value)
    return value


def _object(value: Any, where: str) -> JSON:
    if not isinstance(value, dict):
        raise _invalid(where, "an object", value)
    return value


def _array(value: Any, where: str) -> list[Any]:
    """An optional list field; null and absent read as []."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(where, "a list", value)
    return value


def _boolean(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _invalid(where, "true or false", value)


def _number(value: Any, where: str) -> float:
    # bool is an int in Python, never a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(where, "a number", value)
    return float(value)


def _integer(value: Any, where: str, bounds: tuple[int, int]) -> int:
    # Ollama (Go) reads option numbers as float64 first, so 40.0 is the integer 40.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(where, "an integer", value)
    low, high = bounds
    if not low <= value <= high:
        raise bad_request(f"invalid {where}: {value} is out of range [{low}, {high}]", param=where)
    return value


def _model(body: JSON) -> str:
    model = _string(body.get("model"), "model")
    if not model.strip():
        raise bad_request("model is required", param="model")
    return model


def _stream(body: JSON) -> bool:
    # Go's *bool: absent or null means the default, which is to stream.
    stream = _boolean(body.get("stream"), "stream")
    return True if stream is None else stream


# --- Ollama request → canonical ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Parsed:
    """A translated /api/chat or /api/generate body."""

    request: pb.GenerateRequest
    stream: bool
    # "load" or "unload" when the body asks for no generation at all: Ollama
    # answers an empty prompt or message list at once, with this done_reason.
    load: str | None = None


def _load_reason(body: JSON) -> str:
    keep_alive = body.get("keep_alive")
    if isinstance(keep_alive, int | float) and not isinstance(keep_alive, bool) and keep_alive == 0:
        return "unload"
    if isinstance(keep_alive, str) and keep_alive and _ZERO_DURATION.fullmatch(keep_alive):
        return "unload"
    return "load"


def sampling(options: JSON) -> pb.Sampling:
    """The options with a canonical meaning. Values Ollama reads as "no limit" or
    "random" leave the field unset; they still reach an Ollama upstream in
    provider_options."""
    result = pb.Sampling()
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if options.get(name) is not None:
            setattr(result, name, _number(options[name], f"options.{name}"))
    if options.get("top_k") is not None:
        top_k = _integer(options["top_k"], "options.top_k", _INT32)
        if top_k > 0:  # 0 or less disables top-k sampling in llama.cpp
            result.top_k = top_k
    if options.get("num_predict") is not None:
        num_predict = _integer(options["num_predict"], "options.num_predict", _INT32)
        if num_predict > 0:  # -1 is unlimited, -2 fills the context
            result.max_tokens = num_predict
    if options.get("seed") is not None:
        seed = _integer(options["seed"], "options.seed", _INT64)
        if seed >= 0:  # -1 asks for a random seed
            result.seed = seed
    stop = options.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    for i, item in enumerate(_array(stop, "options.stop")):
        if not isinstance(item, str):
            raise _invalid(f"options.stop[{i}]", "a string", item)
        result.stop.append(item)
    return result


def _apply_common(request: pb.GenerateRequest, body: JSON, extra_keys: Iterable[str]) -> None:
    """format, options and the pass-through fields, shared by /api/chat and /api/generate."""
    fmt = body.get("format")
    if fmt == "json":
        request.response_format.type = pb.ResponseFormat.TYPE_JSON_OBJECT
    elif isinstance(fmt, dict):
        request.response_format.type = pb.ResponseFormat.TYPE_JSON_SCHEMA
        request.response_format.schema.update(fmt)
    elif fmt not in (None, ""):
        raise _invalid("format", '"json" or a JSON schema object', fmt)

    extras: JSON = {}
    if body.get("options") is not None:
        options = _object(body["options"], "options")
        request.sampling.CopyFrom(sampling(options))
        extras["options"] = options
    for key in extra_keys:
        if body.get(key) is not None:
            extras[key] = body[key]
    _check_extras(extras)
    if extras:
        request.provider_options.update(extras)


def _check_extras(extras: JSON) -> None:
    """Types as Ollama's Go structs declare them, so a bad value fails here, by name."""
    keep_alive = extras.get("keep_alive")
    if keep_alive is not None and (
        isinstance(keep_alive, bool) or not isinstance(keep_alive, str | int | float)
    ):
        raise _invalid("keep_alive", 'a duration such as "5m" or a number of seconds', keep_alive)
    think = extras.get("think")
    if think is not None and not isinstance(think, bool | str):
        raise _invalid("think", 'true, false, "low", "medium" or "high"', think)
    _boolean(extras.get("raw"), "raw")
    _string(extras.get("suffix"), "suffix")
    _string(extras.get("template"), "template")


def image_part(value: Any, where: str) -> pb.ImagePart:
    """One entry of an `images` list: base64 bytes (a data: URL is accepted too)."""
    text = _string(value, where)
    mime = ""
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        mime = header[5:].split(";", 1)[0]
    try:
        # Go's base64 decoder skips line breaks, so the bridge does too.
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"invalid {where}: not valid base64 image data", param=where) from None
    if not data:
        raise bad_request(f"invalid {where}: the image is empty", param=where)
    # The mime type is left to the provider to sniff when the client sent bare base64.
    return pb.ImagePart(data=data, mime_type=mime)


def _images(value: Any, where: str) -> list[pb.ContentPart]:
    return [
        pb.ContentPart(image=image_part(item, f"{where}[{j}]")) for j, item in enumerate(_array(value, where))
    ]


def _tool_call(value: Any, where: str, default_id: str) -> pb.ToolCall:
    call = _object(value, where)
    function = _object(call.get("function"), f"{where}.function")
    arguments = function.get("arguments")
    if arguments is None:
        text = "{}"
    elif isinstance(arguments, dict):
        text = orjson.dumps(arguments).decode()
    elif isinstance(arguments, str):
        text = arguments  # already JSON; the gateway checks it is an object
    else:
        raise _invalid(f"{where}.function.arguments", "an object", arguments)
    return pb.ToolCall(
        # The ollama clients drop call ids; a stable made-up one lets OpenAI-style
        # upstreams pair the call with its result (and keeps equal requests equal).
        id=_string(call.get("id"), f"{where}.id") or default_id,
        name=_string(function.get("name"), f"{where}.function.name"),
        arguments=text,
    )


def messages(items: list[Any]) -> list[pb.Message]:
    """/api/chat messages. Tool results carry only `tool_name` in Ollama; each
    is paired with the earliest unanswered call of that name, whose id becomes
    its tool_call_id."""
    out: list[pb.Message] = []
    unanswered: list[pb.ToolCall] = []
    for i, item in enumerate(items):
        where = f"messages[{i}]"
        obj = _object(item, where)
        role_name = _string(obj.get("role"), f"{where}.role")
        role = _ROLES.get(role_name)
        if role is None:
            raise bad_request(
                f"invalid {where}.role: unknown role {_show(role_name)}; "
                "expected system, user, assistant or tool",
                param=f"{where}.role",
            )
        message = pb.Message(role=role, reasoning=_string(obj.get("thinking"), f"{where}.thinking"))
        content = _string(obj.get("content"), f"{where}.content")
        if content:
            message.content.append(pb.ContentPart(text=content))
        message.content.extend(_images(obj.get("images"), f"{where}.images"))
        for j, call in enumerate(_array(obj.get("tool_calls"), f"{where}.tool_calls")):
            message.tool_calls.append(_tool_call(call, f"{where}.tool_calls[{j}]", f"call_{i}_{j}"))
        if message.tool_calls:
            unanswered = list(message.tool_calls)
        if role == pb.ROLE_TOOL:
            name = _string(obj.get("tool_name"), f"{where}.tool_name")
            call_id = _string(obj.get("tool_call_id"), f"{where}.tool_call_id")
            # Without an id, the earliest unanswered call of that name (any name
            # when none is given, as older Ollama clients send) is the one answered.
            match = next(
                (c for c in unanswered if c.id == call_id or (not call_id and name in (c.name, ""))), None
            )
            if match is not None:
                unanswered.remove(match)
                call_id = call_id or match.id
                name = name or match.name
            message.name = name
            message.tool_call_id = call_id or name
        out.append(message)
    return out


def tools(value: Any) -> list[pb.Tool]:
    result: list[pb.Tool] = []
    for i, item in enumerate(_array(value, "tools")):
        where = f"tools[{i}]"
        function = _object(_object(item, where).get("function"), f"{where}.function")
        tool = pb.Tool(
            name=_string(function.get("name"), f"{where}.function.name"),
            description=_string(function.get("description"), f"{where}.function.description"),
        )
        if function.get("parameters") is not None:
            tool.parameters.update(_object(function["parameters"], f"{where}.function.parameters"))
        result.append(tool)
    return result


def chat_request(body: JSON) -> Parsed:
    """A POST /api/chat body as a canonical request."""
    request = pb.GenerateRequest(model=_model(body))
    stream = _stream(body)
    _apply_common(request, body, _CHAT_EXTRAS)
    request.tools.extend(tools(body.get("tools")))
    items = _array(body.get("messages"), "messages")
    if not items:
        return Parsed(request, stream, _load_reason(body))
    request.messages.extend(messages(items))
    return Parsed(request, stream)


def generate_request(body: JSON) -> Parsed:
    """A POST /api/generate body as a canonical request (a raw prompt, or messages when it has images)."""
    request = pb.GenerateRequest(model=_model(body))
    stream = _stream(body)
    _apply_common(request, body, _GENERATE_EXTRAS)
    prompt = _string(body.get("prompt"), "prompt")
    system = _string(body.get("system"), "system")
    images = _images(body.get("images"), "images")
    if not prompt:
        return Parsed(request, stream, _load_reason(body))
    if images:
        # The canonical raw prompt has no images: say the same as messages.
        if system:
            request.messages.append(pb.Message(role=pb.ROLE_SYSTEM, content=[pb.ContentPart(text=system)]))
        user = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=prompt)])
        user.content.extend(images)
        request.messages.append(user)
    else:
        request.prompt, request.system = prompt, system
    return Parsed(request, stream)


def embed_request(body: JSON) -> pb.EmbedRequest:
    """A POST /api/embed body; `input` is a string or a list of strings."""
    request = pb.EmbedRequest(model=_model(body))
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else _array(raw, "input")
    for i, item in enumerate(inputs):
        if not isinstance(item, str):
            raise _invalid(f"input[{i}]" if not isinstance(raw, str) else "input", "a string", item)
        if item:  # Ollama skips an empty string input
            request.input.append(item)
    truncate = _boolean(body.get("truncate"), "truncate")
    if truncate is not None:
        request.truncate = truncate
    if body.get("dimensions") is not None:
        request.dimensions = _integer(body["dimensions"], "dimensions", _INT32)
    _embed_extras(request, body)
    return request


def embeddings_request(body: JSON) -> pb.EmbedRequest:
    """A legacy POST /api/embeddings body: one `prompt`."""
    request = pb.EmbedRequest(model=_model(body))
    prompt = _string(body.get("prompt"), "prompt")
    if prompt:
        request.input.append(prompt)
    _embed_extras(request, body)
    return request


def _embed_extras(request: pb.EmbedRequest, body: JSON) -> None:
    extras: JSON = {}
    if body.get("options") is not None:
        extras["options"] = _object(body["options"], "options")
    if body.get("keep_alive") is not None:
        extras["keep_alive"] = body["keep_alive"]
    _check_extras(extras)
    if extras:
        request.provider_options.update(extras)


# --- canonical → Ollama reply -----------------------------------------------


def created_at(ns: int | None = None) -> str:
    """RFC 3339 in UTC with nanoseconds, as Go's time.Time marshals (trailing zeros dropped)."""
    ns = time.time_ns() if ns is None else ns
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


def done_reason(reason: pb.FinishReason.ValueType) -> str:
    # Ollama says "stop" for a tool-call answer too; it has no other reasons for a generation.
    return "length" if reason == pb.FINISH_REASON_LENGTH else "stop"


def counters(usage: pb.Usage, timings: pb.Timings, wall_ns: int, first_ns: int) -> JSON:
    """The final object's counts and durations (nanoseconds).

    Upstreams that do not time themselves (OpenAI-style servers) leave the
    timings at 0: then the bridge's wall clock stands in, split at the first
    chunk into prompt evaluation and generation.
    """
    total = timings.total_ns or wall_ns
    load, prompt_eval, evaluation = timings.load_ns, timings.prompt_eval_ns, timings.eval_ns
    if not prompt_eval and not evaluation:
        prompt_eval = min(timings.first_chunk_ns or first_ns, total)
        evaluation = max(total - load - prompt_eval, 0)
    return {
        "total_duration": total,
        "load_duration": load,
        "prompt_eval_count": usage.input_tokens,
        "prompt_eval_duration": prompt_eval,
        "eval_count": usage.output_tokens,
        "eval_duration": evaluation,
    }


def tool_arguments(text: str, name: str) -> JSON:
    """A canonical JSON-string argument list as the object Ollama sends."""
    try:
        arguments = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        raise BridgeError(
            502, f"the model called tool '{name}' with arguments that are not a JSON object: {_show(text)}"
        )
    return arguments


def tool_call_json(call_id: str, name: str, arguments: str, index: int) -> JSON:
    out: JSON = {"function": {"index": index, "name": name, "arguments": tool_arguments(arguments, name)}}
    if call_id:
        out["id"] = call_id
    return out


def reply_object(model: str, chat: bool, text: str, thinking: str, calls: list[JSON], done: bool) -> JSON:
    """One /api/chat or /api/generate object, before the final counters."""
    obj: JSON = {"model": model, "created_at": created_at()}
    if chat:
        message: JSON = {"role": "assistant", "content": text}
        if thinking:
            message["thinking"] = thinking
        if calls:
            message["tool_calls"] = calls
        obj["message"] = message
    else:
        obj["response"] = text
        if thinking:
            obj["thinking"] = thinking
    obj["done"] = done
    return obj


def response_json(response: pb.GenerateResponse, model: str, chat: bool, wall_ns: int) -> JSON:
    """A non-streamed reply: the final object with the whole message."""
    message = response.message
    text = "".join(part.text for part in message.content if part.HasField("text"))
    calls = [tool_call_json(c.id, c.name, c.arguments, i) for i, c in enumerate(message.tool_calls)]
    obj = reply_object(model, chat, text, message.reasoning, calls if chat else [], done=True)
    obj["done_reason"] = done_reason(response.finish_reason)
    obj.update(counters(response.usage, response.timings, wall_ns, 0))
    return obj


def load_json(model: str, chat: bool, reason: str) -> JSON:
    obj = reply_object(model, chat, "", "", [], done=True)
    obj["done_reason"] = reason
    return obj


@dataclass(slots=True)
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    sent: bool = False


class StreamFramer:
    """Canonical stream chunks → the objects of an Ollama NDJSON stream.

    Text and thinking go out as they come. Tool-call fragments are gathered by
    index and a call goes out whole as soon as its arguments form a JSON
    object (a JSON object cannot grow once closed), at the final chunk at the
    latest.
    """

    def __init__(
        self, model: str, chat: bool, started_ns: int, clock: Callable[[], int] = time.perf_counter_ns
    ) -> None:
        self.model = model
        self.chat = chat
        self.started_ns = started_ns
        self.clock = clock
        self.first_ns = 0  # time to the first chunk
        self.done = False
        self._calls: dict[int, _PendingCall] = {}

    def feed(self, chunk: pb.StreamChunk) -> list[JSON]:
        if not self.first_ns:
            self.first_ns = max(self.clock() - self.started_ns, 1)
        if chunk.HasField("final"):
            return [self._final(chunk.final)]
        delta = chunk.delta
        # /api/generate takes no tools, so only a chat can be answered with calls.
        calls = self._gather(delta.tool_calls) if self.chat else []
        if not (delta.text or delta.reasoning or calls):
            return []
        return [reply_object(self.model, self.chat, delta.text, delta.reasoning, calls, done=False)]

    def _gather(self, fragments: Iterable[pb.ToolCallDelta]) -> list[JSON]:
        touched: list[int] = []
        for fragment in fragments:
            call = self._calls.setdefault(fragment.index, _PendingCall())
            if call.sent:
                continue  # whitespace after a closed object; nothing else can follow one
            call.id = call.id or fragment.id
            call.name = call.name or fragment.name
            call.arguments.append(fragment.arguments)
            if fragment.index not in touched:
                touched.append(fragment.index)
        ready: list[JSON] = []
        for index in sorted(touched):
            call = self._calls[index]
            if call.name and _is_object("".join(call.arguments)):
                ready.append(self._send(index))
        return ready

    def _send(self, index: int) -> JSON:
        call = self._calls[index]
        call.sent = True
        return tool_call_json(call.id, call.name, "".join(call.arguments), index)

    def _final(self, final: pb.FinalChunk) -> JSON:
        self.done = True
        rest = [self._send(i) for i in sorted(self._calls) if not self._calls[i].sent]
        obj = reply_object(self.model, self.chat, "", "", rest, done=True)
        obj["done_reason"] = done_reason(final.finish_reason)
        wall = max(self.clock() - self.started_ns, 1)
        obj.update(counters(final.usage, final.timings, wall, self.first_ns))
        return obj


def _is_object(text: str) -> bool:
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        return False


# --- models ------------------------------------------------------------------


def tagged(name: str) -> str:
    """Ollama names carry a tag; the implicit one is `latest` (the gateway resolves both)."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def family(model: pb.Model) -> str:
    """A best guess at the architecture, from the upstream model's name ("llama3.2" → "llama")."""
    source = model.deployments[0].model if model.deployments else model.name
    match = re.match(r"[a-z]+", source.rsplit("/", 1)[-1].lower())
    return match.group(0) if match else ""


def details(model: pb.Model) -> JSON:
    name = family(model)
    return {
        "parent_model": "",
        "format": "gguf",
        "family": name,
        "families": [name] if name else None,
        "parameter_size": "",
        "quantization_level": "",
    }


def capabilities(model: pb.Model) -> list[str]:
    result: list[str] = []
    for capability in model.capabilities:
        name = _CAPABILITIES.get(capability, capability)
        if name not in result:
            result.append(name)
    return result


def tags_json(models: Iterable[pb.Model]) -> JSON:
    """GET /api/tags: every model and alias, aliases sharing their model's digest."""
    entries: list[JSON] = []
    for model in models:
        for name in (model.name, *model.aliases):
            entries.append(
                {
                    "name": tagged(name),
                    "model": tagged(name),
                    "modified_at": created_at(model.created * 1_000_000_000),
                    "size": 0,
                    "digest": digest(model.name),
                    "details": details(model),
                }
            )
    return {"models": entries}


def show_json(model: pb.Model) -> JSON:
    """POST /api/show. Clients read the context window from model_info["<family>.context_length"]."""
    arch = family(model)
    info: JSON = {"general.architecture": arch, "general.basename": model.name}
    parameters = ""
    modelfile = f"# Modelfile generated by model-gateway\nFROM {model.name}\n"
    if model.context_window:
        info[f"{arch or 'general'}.context_length"] = model.context_window
        parameters = f"num_ctx                        {model.context_window}"
        modelfile += f"PARAMETER num_ctx {model.context_window}\n"
    return {
        "license": "",
        "modelfile": modelfile,
        "parameters": parameters,
        "template": "{{ .Prompt }}",
        "details": details(model),
        "model_info": info,
        "capabilities": capabilities(model),
        "modified_at": created_at(model.created * 1_000_000_000),
    }


# --- routes ------------------------------------------------------------------


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
        return ndjson_response(_lines(opened, framer), headers=opened.headers)
    response, headers = await call_generate(state.client, parsed.request, ctx)
    wall = time.perf_counter_ns() - started
    return json_response(response_json(response, model, chat, wall), headers=headers)


async def _lines(opened: OpenStream, framer: StreamFramer) -> AsyncIterator[bytes]:
    """The NDJSON body; a failure after the first line ends it with an error line, never silently."""
    try:
        for obj in framer.feed(opened.first):
            yield ndjson_line(obj)
        async for chunk in opened.rest:
            for obj in framer.feed(chunk):
                yield ndjson_line(obj)
        if not framer.done:
            yield ndjson_line({"error": "the gateway ended the stream without a final chunk"})
    except BridgeError as err:
        yield ndjson_line({"error": err.message})
    except Exception:
        log.exception("framing an Ollama stream failed")
        yield ndjson_line({"error": "internal error in the bridge"})
    finally:
        # Closing the gRPC stream cancels the upstream request when the client went away.
        close = getattr(opened.rest, "aclose", None)
        if close is not None:
            await close()


@router.post("/api/chat")
async def chat(request: Request) -> Response:
    return await _generate(request, chat=True)


@router.post("/api/generate")
async def generate(request: Request) -> Response:
    return await _generate(request, chat=False)


async def _embed(request: Request, parse: Callable[[JSON], pb.EmbedRequest]) -> tuple[JSON, pb.EmbedResponse]:
    state = state_of(request)
    message = parse(await state.json_body(request, require_json_type=False))
    ctx = state.context(request)
    started = time.perf_counter_ns()
    if not message.input:
        # Ollama answers an empty input with no embeddings (after checking the model).
        await _get_model(state, ctx, message.model)
        reply = pb.EmbedResponse(model=message.model)
    else:
        reply = await call_unary(
            state.client.stub.Embed(message, metadata=ctx.metadata, timeout=ctx.timeout), ctx
        )
    body: JSON = {
        "model": message.model,
        "embeddings": [list(e.values) for e in reply.embeddings],
        "total_duration": time.perf_counter_ns() - started,
        "load_duration": 0,
        "prompt_eval_count": reply.usage.input_tokens,
    }
    return body, reply


@router.post("/api/embed")
async def embed(request: Request) -> Response:
    body, _ = await _embed(request, embed_request)
    return json_response(body)


@router.post("/api/embeddings")
async def embeddings(request: Request) -> Response:
    _, reply = await _embed(request, embeddings_request)
    return json_response({"embedding": list(reply.embeddings[0].values) if reply.embeddings else []})


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
    name = _string(body.get("model"), "model") or _string(body.get("name"), "name")
    if not name.strip():
        raise bad_request("model is required", param="model")
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


__all__ = ["error_response", "router"]
