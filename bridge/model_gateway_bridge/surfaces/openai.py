"""The OpenAI API (/v1/chat/completions, /v1/completions, /v1/models, /v1/embeddings) in front of the gateway.

The wire format is openai/openai-openapi (CreateChatCompletionRequest and
Response, CreateChatCompletionStreamResponse, CreateCompletionRequest and
Response, Model, ListModelsResponse, CreateEmbeddingRequest and Response,
Error); where the spec is loose, the `openai` Python SDK's types are the judge.

- Requests are read by hand (no pydantic on the hot path): each field is
  checked as it is translated, and a bad one is a 400 naming the parameter
  and the value. Top-level keys the canonical schema has no place for
  (top_p's cousins min_p, repetition_penalty, logit_bias, logprobs,
  parallel_tool_calls, ...) travel untouched in provider_options.
- Bodies stay wire-exact: the gateway's route and cost are not in them, they
  ride in the x-gateway-* response headers.
- Streams are SSE `chat.completion.chunk` (or legacy `text_completion`)
  events and `data: [DONE]`. A failure after the first event is a
  `data: {"error": {...}}` event and then `[DONE]`: the SDK raises APIError
  on it, where a silent end would look like a normal answer.

Translation is pure functions and one small stream framer (testable without
HTTP); the routes at the bottom only move messages through the bridge core.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
import sys
from array import array
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from starlette.requests import Request
from starlette.responses import Response

from model_gateway_bridge.client import OpenStream, call_generate, call_unary, open_stream
from model_gateway_bridge.errors import BridgeError, bad_request
from model_gateway_bridge.framing import SSE_DONE, json_response, sse_event, sse_response
from model_gateway_bridge.state import state_of
from modelgateway.v1 import gateway_pb2 as pb

log = logging.getLogger("model_gateway_bridge.openai")

router = APIRouter(prefix="/v1")

JSON = dict[str, Any]

OWNED_BY = "model-gateway"

_ROLES: dict[str, pb.Role.ValueType] = {
    "system": pb.ROLE_SYSTEM,
    "developer": pb.ROLE_DEVELOPER,
    "user": pb.ROLE_USER,
    "assistant": pb.ROLE_ASSISTANT,
    "tool": pb.ROLE_TOOL,
    "function": pb.ROLE_TOOL,  # the deprecated function-calling API's result message
}

_TOOL_CHOICE_MODES: dict[str, pb.ToolChoice.Mode.ValueType] = {
    "auto": pb.ToolChoice.MODE_AUTO,
    "none": pb.ToolChoice.MODE_NONE,
    "required": pb.ToolChoice.MODE_REQUIRED,
}

_FINISH: dict[int, str] = {
    pb.FINISH_REASON_STOP: "stop",
    pb.FINISH_REASON_LENGTH: "length",
    pb.FINISH_REASON_TOOL_CALLS: "tool_calls",
    pb.FINISH_REASON_CONTENT_FILTER: "content_filter",
}

# Request keys this surface translates; every other top-level key goes to provider_options.
_SAMPLING_KEYS = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
    }
)
_COMMON_KEYS = _SAMPLING_KEYS | {"model", "stream", "stream_options", "n", "user", "response_format"}
_CHAT_KEYS = _COMMON_KEYS | {"messages", "tools", "tool_choice", "functions", "function_call", "metadata"}
_COMPLETION_KEYS = _COMMON_KEYS | {"prompt"}
_EMBEDDING_KEYS = frozenset({"model", "input", "dimensions", "encoding_format"})

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


# --- errors ------------------------------------------------------------------

# ErrorInfo reasons that OpenAI itself names differently; clients switch on
# these codes (e.g. insufficient_quota is not worth retrying, a rate limit is).
_OPENAI_CODES = {
    "RATE_LIMITED": "rate_limit_exceeded",
    "BUDGET_EXCEEDED": "insufficient_quota",
    "CONTEXT_TOO_LONG": "context_length_exceeded",
}

# Canonical field paths in the gateway's validation errors → the OpenAI parameter.
_PARAM_RENAMES = (
    (re.compile(r"^sampling\.(\w+)(\[\d+\])?$"), r"\1"),
    (re.compile(r"^(messages\[\d+\]\.tool_calls\[\d+\])\.(name|arguments)$"), r"\1.function.\2"),
    (re.compile(r"^(tools\[\d+\])\.name$"), r"\1.function.name"),
    (re.compile(r"^tool_choice\.function_name$"), "tool_choice"),
)


def error_type(err: BridgeError) -> str:
    """The `type` api.openai.com sends for the status: it says invalid_request_error for
    every client error (401 invalid_api_key and 404 model_not_found included), names
    the exhausted limit on a 429, and server_error for 5xx."""
    if err.status == 429:
        return "insufficient_quota" if err.reason == "BUDGET_EXCEEDED" else "requests"
    if err.status >= 500:
        return "server_error"
    return "invalid_request_error"


def openai_param(param: str | None) -> str | None:
    if not param:
        return None
    for pattern, replacement in _PARAM_RENAMES:
        renamed, count = pattern.subn(replacement, param)
        if count:
            return renamed
    return param


def error_body(err: BridgeError) -> JSON:
    """OpenAI's Error object: message, type, param and code, the last two possibly null."""
    param = openai_param(err.param)
    message = err.message
    if err.param and param and param != err.param and message.startswith(f"{err.param}:"):
        message = param + message[len(err.param) :]  # the gateway's message names its own field path
    code = _OPENAI_CODES.get(err.reason) or err.reason.lower() or None
    return {"error": {"message": message, "type": error_type(err), "param": param, "code": code}}


def error_response(err: BridgeError) -> Response:
    return json_response(error_body(err), status=err.status, headers=err.headers)


def _error(message: str, param: str, code: str) -> BridgeError:
    err = bad_request(message, param=param)
    err.reason = code.upper()  # rendered lowercased as the OpenAI `code`
    return err


def _show(value: Any) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _missing(param: str) -> BridgeError:
    return _error(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _wrong_type(param: str, expected: str, value: Any) -> BridgeError:
    return _error(
        f"Invalid type for '{param}': expected {expected}, but got {_show(value)}.", param, "invalid_type"
    )


def _wrong_value(param: str, why: str) -> BridgeError:
    return _error(f"Invalid value for '{param}': {why}.", param, "invalid_value")


# --- reading fields ------------------------------------------------------------


def _string(value: Any, param: str) -> str:
    """An optional string; null reads as ""."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _wrong_type(param, "a string", value)
    return value


def _required_string(value: Any, param: str) -> str:
    if value is None:
        raise _missing(param)
    text = _string(value, param)
    if not text.strip():
        raise _wrong_value(param, "must not be empty")
    return text


def _object(value: Any, param: str) -> JSON:
    if not isinstance(value, dict):
        raise _wrong_type(param, "an object", value)
    return value


def _array(value: Any, param: str) -> list[Any]:
    """An optional array; null reads as []."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong_type(param, "an array", value)
    return value


def _or_empty(value: Any) -> Any:
    """An optional object; null reads as {} (any other non-object is still an error)."""
    return {} if value is None else value


def _boolean(value: Any, param: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _wrong_type(param, "a boolean", value)
    return value


def _number(value: Any, param: str) -> float:
    # bool is an int in Python, never a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong_type(param, "a number", value)
    return float(value)


def _integer(value: Any, param: str, bounds: tuple[int, int]) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 256.0 from a JavaScript client is the integer 256
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong_type(param, "an integer", value)
    low, high = bounds
    if not low <= value <= high:
        raise _wrong_value(param, f"{value} is out of range [{low}, {high}]")
    return value


# --- OpenAI request → canonical ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parsed:
    """A translated /v1/chat/completions or /v1/completions body."""

    request: pb.GenerateRequest
    stream: bool
    include_usage: bool  # stream_options.include_usage: one more chunk with the usage
    legacy_functions: bool = False  # asked with `functions`: answer with `function_call`


def parse_chat(body: JSON) -> Parsed:
    request = pb.GenerateRequest(model=_required_string(body.get("model"), "model"))
    messages = body.get("messages")
    if messages is None:
        raise _missing("messages")
    if not _array(messages, "messages"):
        raise _wrong_value("messages", "must contain at least one message")
    _messages(messages, request.messages)
    _sampling(body, request.sampling)

    legacy = body.get("tools") is None and body.get("functions") is not None
    for i, tool in enumerate(_array(body.get("tools"), "tools")):
        where = f"tools[{i}]"
        tool = _object(tool, where)
        if tool.get("type", "function") != "function":
            raise _wrong_value(
                f"{where}.type", f"only function tools are supported, got {_show(tool['type'])}"
            )
        request.tools.append(_function(tool.get("function"), f"{where}.function"))
    for i, function in enumerate(_array(body.get("functions"), "functions") if legacy else ()):
        request.tools.append(_function(function, f"functions[{i}]"))
    if body.get("tool_choice") is not None:
        request.tool_choice.CopyFrom(_tool_choice(body["tool_choice"]))
    elif legacy and body.get("function_call") is not None:
        request.tool_choice.CopyFrom(_function_call_choice(body["function_call"]))

    for key, value in _object(_or_empty(body.get("metadata")), "metadata").items():
        request.metadata[key] = _string(value, f"metadata.{key}")
    stream, include_usage = _common(body, request, _CHAT_KEYS)
    return Parsed(request, stream, include_usage, legacy)


def parse_completion(body: JSON) -> Parsed:
    """The legacy completions body: one prompt string (or a list of exactly one)."""
    request = pb.GenerateRequest(model=_required_string(body.get("model"), "model"))
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if prompt is None:
        raise _missing("prompt")
    if isinstance(prompt, list):
        raise _wrong_value(
            "prompt", "only a single prompt string is supported (no batches of prompts, no token arrays)"
        )
    request.prompt = _required_string(prompt, "prompt")
    _sampling(body, request.sampling)
    stream, include_usage = _common(body, request, _COMPLETION_KEYS)
    return Parsed(request, stream, include_usage)


def _common(body: JSON, request: pb.GenerateRequest, known: frozenset[str]) -> tuple[bool, bool]:
    """What chat and legacy completions share: n, user, response_format, stream and the extras."""
    n = body.get("n")
    if n is not None and _integer(n, "n", _INT32) != 1:
        raise _wrong_value("n", f"only n=1 is supported (one choice per request), got {n}")
    request.user = _string(body.get("user"), "user")
    if body.get("response_format") is not None:
        request.response_format.CopyFrom(_response_format(body["response_format"]))
    # A null is the API's way of saying "the default", so it is dropped rather than passed on.
    extras = {key: value for key, value in body.items() if key not in known and value is not None}
    if extras:
        request.provider_options.update(extras)
    stream = _boolean(body.get("stream"), "stream")
    options = _object(_or_empty(body.get("stream_options")), "stream_options")
    include_usage = _boolean(options.get("include_usage"), "stream_options.include_usage")
    return stream, stream and include_usage


def _sampling(body: JSON, out: pb.Sampling) -> None:
    for key in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if body.get(key) is not None:
            setattr(out, key, _number(body[key], key))
    # max_tokens is deprecated in favour of max_completion_tokens; both mean the output limit.
    for key in ("max_completion_tokens", "max_tokens"):
        if body.get(key) is not None:
            out.max_tokens = _integer(body[key], key, _INT32)
            break
    # Not OpenAI's, but vLLM's and Ollama's, and the canonical schema has a place for it.
    if body.get("top_k") is not None:
        out.top_k = _integer(body["top_k"], "top_k", _INT32)
    if body.get("seed") is not None:
        out.seed = _integer(body["seed"], "seed", _INT64)
    stop = body.get("stop")
    if isinstance(stop, str):
        out.stop.append(stop)
    elif stop is not None:
        out.stop.extend(_string(s, f"stop[{i}]") for i, s in enumerate(_array(stop, "stop")))


def _messages(messages: list[Any], out: RepeatedCompositeFieldContainer[pb.Message]) -> None:
    # The deprecated `function_call` of an assistant turn has no id; one is made up
    # so the `function` result after it can point at its call.
    legacy_ids: dict[str, str] = {}
    for i, raw in enumerate(messages):
        where = f"messages[{i}]"
        obj = _object(raw, where)
        role_name = obj.get("role")
        role = _ROLES.get(role_name) if isinstance(role_name, str) else None
        if role is None:
            raise _wrong_value(
                f"{where}.role",
                f"expected one of system, developer, user, assistant, tool, got {_show(role_name)}",
            )
        message = out.add(role=role, name=_string(obj.get("name"), f"{where}.name"))
        content = obj.get("content")
        if role_name == "assistant":
            for j, call in enumerate(_array(obj.get("tool_calls"), f"{where}.tool_calls")):
                _tool_call(call, f"{where}.tool_calls[{j}]", message.tool_calls)
            if obj.get("function_call") is not None:
                call_id = f"call_{i}"
                legacy_ids[_function_call(obj["function_call"], where, call_id, message.tool_calls)] = call_id
            # DeepSeek's and vLLM's name for the reasoning of an earlier turn.
            message.reasoning = _string(obj.get("reasoning_content"), f"{where}.reasoning_content")
        elif content is None:
            raise _missing(f"{where}.content")
        _content(content, where, message.content)
        if role_name == "tool":
            message.tool_call_id = _required_string(obj.get("tool_call_id"), f"{where}.tool_call_id")
        elif role_name == "function":
            message.name = _required_string(obj.get("name"), f"{where}.name")
            message.tool_call_id = legacy_ids.get(message.name, "")


def _content(value: Any, where: str, out: RepeatedCompositeFieldContainer[pb.ContentPart]) -> None:
    if value is None:
        return
    if isinstance(value, str):
        if value:
            out.add(text=value)
        return
    for j, raw in enumerate(_array(value, f"{where}.content")):
        part_where = f"{where}.content[{j}]"
        part = _object(raw, part_where)
        kind = part.get("type")
        if kind == "text":
            out.add(text=_string(part.get("text"), f"{part_where}.text"))
        elif kind == "refusal":  # an assistant turn that refused: its text is the content
            out.add(text=_string(part.get("refusal"), f"{part_where}.refusal"))
        elif kind == "image_url":
            image = part.get("image_url")
            if isinstance(image, str):  # the early vision preview took the URL bare
                image = {"url": image}
            image = _object(image, f"{part_where}.image_url")
            url = _required_string(image.get("url"), f"{part_where}.image_url.url")
            detail = _string(image.get("detail"), f"{part_where}.image_url.detail")
            out.add(image=pb.ImagePart(url=url, detail=detail))  # data: URLs stay as they are
        else:
            raise _wrong_value(
                f"{part_where}.type",
                f"expected text or image_url (other parts are not supported), got {_show(kind)}",
            )


def _arguments(value: Any, param: str) -> str:
    """Tool-call arguments: a JSON string; an object (some clients send one) is serialized."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    text = _string(value, param)
    if text:
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise _wrong_value(param, f"expected a JSON string, got {_show(text)} ({exc})") from None
    return text


def _tool_call(raw: Any, where: str, out: RepeatedCompositeFieldContainer[pb.ToolCall]) -> None:
    call = _object(raw, where)
    if call.get("type", "function") != "function":
        raise _wrong_value(
            f"{where}.type", f"only function tool calls are supported, got {_show(call['type'])}"
        )
    function = _object(call.get("function"), f"{where}.function")
    out.add(
        id=_string(call.get("id"), f"{where}.id"),
        name=_required_string(function.get("name"), f"{where}.function.name"),
        arguments=_arguments(function.get("arguments"), f"{where}.function.arguments"),
    )


def _function_call(
    raw: Any, where: str, call_id: str, out: RepeatedCompositeFieldContainer[pb.ToolCall]
) -> str:
    call = _object(raw, f"{where}.function_call")
    name = _required_string(call.get("name"), f"{where}.function_call.name")
    arguments = _arguments(call.get("arguments"), f"{where}.function_call.arguments")
    out.add(id=call_id, name=name, arguments=arguments)
    return name


def _function(raw: Any, where: str) -> pb.Tool:
    function = _object(raw, where)
    tool = pb.Tool(
        name=_required_string(function.get("name"), f"{where}.name"),
        description=_string(function.get("description"), f"{where}.description"),
        strict=_boolean(function.get("strict"), f"{where}.strict"),
    )
    if function.get("parameters") is not None:
        tool.parameters.update(_object(function["parameters"], f"{where}.parameters"))
    return tool


def _tool_choice(value: Any) -> pb.ToolChoice:
    if isinstance(value, str):
        mode = _TOOL_CHOICE_MODES.get(value)
        if mode is None:
            raise _wrong_value(
                "tool_choice", f"expected auto, none, required or a function, got {_show(value)}"
            )
        return pb.ToolChoice(mode=mode)
    choice = _object(value, "tool_choice")
    if choice.get("type") != "function":
        raise _wrong_value(
            "tool_choice.type", f"only function tool choices are supported, got {_show(choice.get('type'))}"
        )
    function = _object(choice.get("function"), "tool_choice.function")
    name = _required_string(function.get("name"), "tool_choice.function.name")
    return pb.ToolChoice(mode=pb.ToolChoice.MODE_FUNCTION, function_name=name)


def _function_call_choice(value: Any) -> pb.ToolChoice:
    """The deprecated `function_call`: "auto", "none" or {"name": ...}."""
    if value in ("auto", "none"):
        return pb.ToolChoice(mode=_TOOL_CHOICE_MODES[value])
    choice = _object(value, "function_call")
    name = _required_string(choice.get("name"), "function_call.name")
    return pb.ToolChoice(mode=pb.ToolChoice.MODE_FUNCTION, function_name=name)


def _response_format(value: Any) -> pb.ResponseFormat:
    obj = _object(value, "response_format")
    kind = obj.get("type")
    if kind == "text":
        return pb.ResponseFormat(type=pb.ResponseFormat.TYPE_TEXT)
    if kind == "json_object":
        return pb.ResponseFormat(type=pb.ResponseFormat.TYPE_JSON_OBJECT)
    if kind != "json_schema":
        raise _wrong_value(
            "response_format.type", f"expected text, json_object or json_schema, got {_show(kind)}"
        )
    spec = obj.get("json_schema")
    if spec is None:
        raise _missing("response_format.json_schema")
    spec = _object(spec, "response_format.json_schema")
    result = pb.ResponseFormat(
        type=pb.ResponseFormat.TYPE_JSON_SCHEMA,
        schema_name=_required_string(spec.get("name"), "response_format.json_schema.name"),
        strict=_boolean(spec.get("strict"), "response_format.json_schema.strict"),
    )
    if spec.get("schema") is not None:
        result.schema.update(_object(spec["schema"], "response_format.json_schema.schema"))
    return result


def parse_embedding(body: JSON) -> tuple[pb.EmbedRequest, str]:
    """The canonical request and the encoding_format ("float" or "base64") of the reply."""
    request = pb.EmbedRequest(model=_required_string(body.get("model"), "model"))
    value = body.get("input")
    if value is None:
        raise _missing("input")
    inputs = [value] if isinstance(value, str) else _array(value, "input")
    if not inputs:
        raise _wrong_value("input", "must not be empty")
    for i, item in enumerate(inputs):
        if not isinstance(item, str):
            # Token arrays need the model's tokenizer, which only the upstream has.
            raise _wrong_value(
                "input", f"only strings are supported (not token arrays), got {_show(item)} at input[{i}]"
            )
        request.input.append(item)
    if body.get("dimensions") is not None:
        request.dimensions = _integer(body["dimensions"], "dimensions", _INT32)
    encoding = body.get("encoding_format")
    if encoding is None:
        encoding = "float"
    if encoding not in ("float", "base64"):
        raise _wrong_value("encoding_format", f"expected float or base64, got {_show(encoding)}")
    _string(body.get("user"), "user")  # passed through, but OpenAI's type all the same
    extras = {key: value for key, value in body.items() if key not in _EMBEDDING_KEYS and value is not None}
    if extras:
        request.provider_options.update(extras)  # `user`, vLLM's truncate_prompt_tokens, ...
    return request, encoding


# --- canonical → OpenAI ----------------------------------------------------------


def finish_reason(value: int, legacy_functions: bool = False) -> str:
    reason = _FINISH.get(value, "stop")
    return "function_call" if legacy_functions and reason == "tool_calls" else reason


def usage(value: pb.Usage) -> JSON:
    return {
        "prompt_tokens": value.input_tokens,
        "completion_tokens": value.output_tokens,
        "total_tokens": value.total_tokens or value.input_tokens + value.output_tokens,
        "prompt_tokens_details": {"cached_tokens": value.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": value.reasoning_tokens},
    }


def _text(message: pb.Message) -> str:
    return "".join(part.text for part in message.content if part.HasField("text"))


def _failed(detail: str) -> BridgeError:
    return BridgeError(502, f"the model stopped with an error{detail}", reason="UPSTREAM_ERROR")


def chat_completion(response: pb.GenerateResponse, legacy_functions: bool = False) -> JSON:
    """A chat.completion object; content is null when the model only called tools."""
    if response.finish_reason == pb.FINISH_REASON_ERROR:
        raise _failed("")
    message = response.message
    text = _text(message)
    out: JSON = {
        "role": "assistant",
        "content": text or (None if message.tool_calls else ""),
        "refusal": None,
    }
    calls = [
        {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
        for call in message.tool_calls
    ]
    if calls and legacy_functions:
        out["function_call"] = calls[0]["function"]
    elif calls:
        out["tool_calls"] = calls
    if message.reasoning:
        # Not OpenAI's: the field vLLM, DeepSeek and LiteLLM use, which OpenAI clients ignore.
        out["reasoning_content"] = message.reasoning
    return {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created,
        "model": response.model,
        "choices": [
            {
                "index": 0,
                "message": out,
                "logprobs": None,
                "finish_reason": finish_reason(response.finish_reason, legacy_functions),
            }
        ],
        "usage": usage(response.usage),
    }


def _completion_id(chat_id: str) -> str:
    # An OpenAI-style upstream's legacy completion already has its cmpl- id.
    return chat_id if chat_id.startswith("cmpl-") else "cmpl-" + chat_id.removeprefix("chatcmpl-")


def _text_finish(value: int) -> str:
    # A raw prompt cannot call tools; the legacy object has no tool_calls reason.
    reason = finish_reason(value)
    return "stop" if reason == "tool_calls" else reason


def text_completion(response: pb.GenerateResponse) -> JSON:
    if response.finish_reason == pb.FINISH_REASON_ERROR:
        raise _failed("")
    return {
        "id": _completion_id(response.id),
        "object": "text_completion",
        "created": response.created,
        "model": response.model,
        "choices": [
            {
                "text": _text(response.message),
                "index": 0,
                "logprobs": None,
                "finish_reason": _text_finish(response.finish_reason),
            }
        ],
        "usage": usage(response.usage),
    }


class ChatStream:
    """Frames the gateway's stream chunks as chat.completion.chunk SSE events.

    Every event carries the stream's id and created; the first says the role,
    a tool call's first fragment its id, type and name, and the final chunk
    becomes an empty delta with the finish reason (and, when asked for, one
    more event with `choices: []` and the usage). `close()` ends the stream:
    `[DONE]`, or an error event if the gateway stopped without a final chunk.
    """

    object_name = "chat.completion.chunk"

    def __init__(self, model: str, include_usage: bool, legacy_functions: bool = False) -> None:
        self.model = model
        self.include_usage = include_usage
        self.legacy_functions = legacy_functions
        self._head: JSON | None = None
        self._calls: set[int] = set()  # tool-call indexes whose first fragment was sent
        self._finished = False  # the final chunk was framed
        self._failed = False  # an error event (and [DONE]) was sent

    def frame(self, chunk: pb.StreamChunk) -> bytes:
        if self._finished or self._failed:
            return b""
        out = b""
        if self._head is None:
            self._head = self._start(chunk)
            out += self._opening(chunk)
        if chunk.HasField("final"):
            out += self._final(chunk.final)
        elif chunk.HasField("delta"):
            out += self._delta(chunk.delta)
        return out

    def error(self, err: BridgeError) -> bytes:
        self._failed = True
        return sse_event(error_body(err)) + SSE_DONE

    def close(self) -> bytes:
        if self._failed:
            return b""
        if not self._finished:
            return self.error(BridgeError(502, "the gateway ended the stream before the model finished"))
        return SSE_DONE

    def _start(self, chunk: pb.StreamChunk) -> JSON:
        return {"id": chunk.id, "object": self.object_name, "created": chunk.created, "model": self.model}

    def _event(self, choices: list[JSON], usage_value: JSON | None = None) -> bytes:
        body = {**(self._head or {}), "choices": choices}
        if self.include_usage:
            body["usage"] = usage_value  # null on every chunk but the last, as OpenAI sends it
        return sse_event(body)

    def _choice(self, delta: JSON, finish: str | None = None) -> list[JSON]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    def _opening(self, chunk: pb.StreamChunk) -> bytes:
        # Like OpenAI: content "" in the role chunk, null when the answer starts with a tool call.
        only_calls = chunk.HasField("delta") and bool(chunk.delta.tool_calls) and not chunk.delta.text
        return self._event(
            self._choice({"role": "assistant", "content": None if only_calls else "", "refusal": None})
        )

    def _delta(self, delta: pb.Delta) -> bytes:
        out: JSON = {}
        if delta.text:
            out["content"] = delta.text
        if delta.reasoning:
            out["reasoning_content"] = delta.reasoning
        if delta.tool_calls and self.legacy_functions:
            fragment = self._fragment(delta.tool_calls[0])["function"]
            out["function_call"] = fragment
        elif delta.tool_calls:
            out["tool_calls"] = [self._fragment(call) for call in delta.tool_calls]
        return self._event(self._choice(out)) if out else b""

    def _fragment(self, call: pb.ToolCallDelta) -> JSON:
        if call.index in self._calls:
            return {"index": call.index, "function": {"arguments": call.arguments}}
        self._calls.add(call.index)
        # Clients gather fragments by index and need the id from the first one.
        call_id = call.id or f"call_{secrets.token_hex(12)}"
        function = {"name": call.name, "arguments": call.arguments}
        return {"index": call.index, "id": call_id, "type": "function", "function": function}

    def _final(self, final: pb.FinalChunk) -> bytes:
        if final.finish_reason == pb.FINISH_REASON_ERROR:
            return self.error(_failed(" after the stream started"))
        self._finished = True
        reason = finish_reason(final.finish_reason, self.legacy_functions)
        out = self._event(self._choice({}, reason))
        if self.include_usage:
            out += self._event([], usage(final.usage))
        return out


class TextStream(ChatStream):
    """The legacy `text_completion` stream: text on the choice, no role chunk, no usage nulls."""

    object_name = "text_completion"

    def _start(self, chunk: pb.StreamChunk) -> JSON:
        return {**super()._start(chunk), "id": _completion_id(chunk.id)}

    def _event(self, choices: list[JSON], usage_value: JSON | None = None) -> bytes:
        body = {**(self._head or {}), "choices": choices}
        if usage_value is not None:
            body["usage"] = usage_value
        return sse_event(body)

    def _text_choice(self, text: str, finish: str | None = None) -> list[JSON]:
        return [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]

    def _opening(self, chunk: pb.StreamChunk) -> bytes:
        return b""

    def _delta(self, delta: pb.Delta) -> bytes:
        return self._event(self._text_choice(delta.text)) if delta.text else b""

    def _final(self, final: pb.FinalChunk) -> bytes:
        if final.finish_reason == pb.FINISH_REASON_ERROR:
            return self.error(_failed(" after the stream started"))
        self._finished = True
        out = self._event(self._text_choice("", _text_finish(final.finish_reason)))
        if self.include_usage:
            out += self._event([], usage(final.usage))
        return out


async def stream_events(opened: OpenStream, framer: ChatStream) -> AsyncIterator[bytes]:
    """SSE bytes for an opened stream; every way it can end is a terminal event."""
    try:
        async for chunk in opened.chunks():
            data = framer.frame(chunk)
            if data:
                yield data
    except BridgeError as err:
        yield framer.error(err)
        return
    except Exception as exc:  # a bug here must still end the stream visibly
        log.error("failed framing an OpenAI stream", exc_info=exc)
        yield framer.error(BridgeError(500, "internal error in the bridge"))
        return
    yield framer.close()


def _float32_base64(values: Iterable[float]) -> str:
    packed = array("f", values)
    if sys.byteorder == "big":
        packed.byteswap()  # the wire format is little-endian float32
    return base64.b64encode(packed.tobytes()).decode("ascii")


def embedding_response(response: pb.EmbedResponse, encoding: str) -> JSON:
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": _float32_base64(e.values) if encoding == "base64" else list(e.values),
        }
        for i, e in enumerate(response.embeddings)
    ]
    prompt_tokens = response.usage.input_tokens
    return {
        "object": "list",
        "data": data,
        "model": response.model,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "total_tokens": response.usage.total_tokens or prompt_tokens,
        },
    }


def model_object(name: str, created: int) -> JSON:
    return {"id": name, "object": "model", "created": created, "owned_by": OWNED_BY}


def model_list(reply: pb.ListModelsResponse) -> JSON:
    """Every configured name and every alias, each its own entry: clients pick from this list."""
    data = [model_object(name, m.created) for m in reply.models for name in (m.name, *m.aliases)]
    return {"object": "list", "data": data}


# --- routes --------------------------------------------------------------------


async def _generate(request: Request, parsed: Parsed, framer: ChatStream) -> Response:
    state = state_of(request)
    ctx = state.context(request)
    if parsed.stream:
        opened = await open_stream(state.client, parsed.request, ctx)
        return sse_response(stream_events(opened, framer), headers=opened.headers)
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


__all__ = ["error_response", "router"]
