"""/v1/chat/completions and /v1/completions bodies → the canonical GenerateRequest.

Each field is checked as it is translated, and a bad one is a 400 naming the
parameter and the value. Top-level keys the canonical schema has no place
for (top_p's cousins min_p, repetition_penalty, logit_bias, logprobs,
parallel_tool_calls, ...) travel untouched in provider_options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model_gateway_bridge.fields import INT32, INT64, JSON, show
from model_gateway_bridge.surfaces.openai.errors import FIELDS as read
from model_gateway_bridge.surfaces.openai.errors import PARAMS
from model_gateway_bridge.surfaces.openai.messages import read_messages
from model_gateway_bridge.surfaces.openai.tools import read_tools
from model_gateway_common.structs import dict_to_struct
from modelgateway.v1 import gateway_pb2 as pb

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


@dataclass(frozen=True, slots=True)
class Parsed:
    """A translated /v1/chat/completions or /v1/completions body."""

    request: pb.GenerateRequest
    stream: bool
    include_usage: bool  # stream_options.include_usage: one more chunk with the usage
    legacy_functions: bool = False  # asked with `functions`: answer with `function_call`


def parse_chat(body: JSON) -> Parsed:
    request = pb.GenerateRequest(model=read.required_string(body.get("model"), "model"))
    messages = body.get("messages")
    if messages is None:
        raise PARAMS.missing("messages")
    if not read.array(messages, "messages"):
        raise PARAMS.wrong_value("messages", "must contain at least one message")
    read_messages(messages, request.messages)
    _sampling(body, request.sampling)
    legacy = read_tools(body, request)
    for key, value in read.object(_or_empty(body.get("metadata")), "metadata").items():
        request.metadata[key] = read.string(value, f"metadata.{key}")
    stream, include_usage = _common(body, request, _CHAT_KEYS)
    return Parsed(request, stream, include_usage, legacy)


def parse_completion(body: JSON) -> Parsed:
    """The legacy completions body: one prompt string (or a list of exactly one)."""
    request = pb.GenerateRequest(model=read.required_string(body.get("model"), "model"))
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if prompt is None:
        raise PARAMS.missing("prompt")
    if isinstance(prompt, list):
        raise PARAMS.wrong_value(
            "prompt", "only a single prompt string is supported (no batches of prompts, no token arrays)"
        )
    request.prompt = read.required_string(prompt, "prompt")
    _sampling(body, request.sampling)
    stream, include_usage = _common(body, request, _COMPLETION_KEYS)
    return Parsed(request, stream, include_usage)


def _or_empty(value: Any) -> Any:
    """An optional object; null reads as {} (any other non-object is still an error)."""
    return {} if value is None else value


def _common(body: JSON, request: pb.GenerateRequest, known: frozenset[str]) -> tuple[bool, bool]:
    """What chat and legacy completions share: n, user, response_format, stream and the extras."""
    n = body.get("n")
    if n is not None and read.integer(n, "n", INT32) != 1:
        raise PARAMS.wrong_value("n", f"only n=1 is supported (one choice per request), got {n}")
    request.user = read.string(body.get("user"), "user")
    if body.get("response_format") is not None:
        request.response_format.CopyFrom(_response_format(body["response_format"]))
    # A null is the API's way of saying "the default", so it is dropped rather than passed on.
    extras = {key: value for key, value in body.items() if key not in known and value is not None}
    if extras:
        dict_to_struct(extras, request.provider_options)
    stream = read.boolean(body.get("stream"), "stream")
    options = read.object(_or_empty(body.get("stream_options")), "stream_options")
    include_usage = read.boolean(options.get("include_usage"), "stream_options.include_usage")
    return stream, stream and include_usage


def _sampling(body: JSON, out: pb.Sampling) -> None:
    for key in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if body.get(key) is not None:
            setattr(out, key, read.number(body[key], key))
    # max_tokens is deprecated in favour of max_completion_tokens; both mean the output limit.
    for key in ("max_completion_tokens", "max_tokens"):
        if body.get(key) is not None:
            out.max_tokens = read.integer(body[key], key, INT32)
            break
    # Not OpenAI's, but vLLM's and Ollama's, and the canonical schema has a place for it.
    if body.get("top_k") is not None:
        out.top_k = read.integer(body["top_k"], "top_k", INT32)
    if body.get("seed") is not None:
        out.seed = read.integer(body["seed"], "seed", INT64)
    stop = body.get("stop")
    if isinstance(stop, str):
        out.stop.append(stop)
    elif stop is not None:
        out.stop.extend(read.string(s, f"stop[{i}]") for i, s in enumerate(read.array(stop, "stop")))


def _response_format(value: Any) -> pb.ResponseFormat:
    obj = read.object(value, "response_format")
    kind = obj.get("type")
    if kind == "text":
        return pb.ResponseFormat(type=pb.ResponseFormat.TYPE_TEXT)
    if kind == "json_object":
        return pb.ResponseFormat(type=pb.ResponseFormat.TYPE_JSON_OBJECT)
    if kind != "json_schema":
        raise PARAMS.wrong_value(
            "response_format.type", f"expected text, json_object or json_schema, got {show(kind)}"
        )
    spec = obj.get("json_schema")
    if spec is None:
        raise PARAMS.missing("response_format.json_schema")
    spec = read.object(spec, "response_format.json_schema")
    result = pb.ResponseFormat(
        type=pb.ResponseFormat.TYPE_JSON_SCHEMA,
        schema_name=read.required_string(spec.get("name"), "response_format.json_schema.name"),
        strict=read.boolean(spec.get("strict"), "response_format.json_schema.strict"),
    )
    if spec.get("schema") is not None:
        dict_to_struct(read.object(spec["schema"], "response_format.json_schema.schema"), result.schema)
    return result
