"""A `POST /v1/responses` body → the canonical GenerateRequest, and what the reply repeats.

Translated: model, input, instructions (the canonical system text), tools and
tool_choice, parallel_tool_calls, max_output_tokens, temperature, top_p,
text.format, user, metadata, stream. Refused with a 400 that says why:
previous_response_id, conversation and background (they need stored
responses; this gateway keeps none, so `store` is always false) and a
reusable `prompt`. Everything else the Responses API defines (`include`,
`reasoning`, `prompt_cache_key`, `client_metadata`, `store: true`,
`service_tier`, `truncation`, `text.verbosity`, ...) and any key it does not
define is accepted and dropped: no configured provider calls the Responses
API, and a Chat Completions upstream answers 400 to them (api.openai.com
does for `include` and `client_metadata`). Each one is named in the
`x-gateway-dropped-params` response header; dropped tools in
`x-gateway-dropped-tools`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model_gateway_bridge.fields import INT32, JSON, show
from model_gateway_bridge.surfaces.openai.errors import FIELDS as read
from model_gateway_bridge.surfaces.openai.errors import PARAMS
from model_gateway_bridge.surfaces.openai.responses.items import InputReader
from model_gateway_bridge.surfaces.openai.responses.tools import Tools, read_tool_choice, read_tools
from model_gateway_common.route_headers import DROPPED_PARAMS_HEADER, dropped_value
from modelgateway.v1 import gateway_pb2 as pb

DROPPED_PARAMS = DROPPED_PARAMS_HEADER
DROPPED_TOOLS = "x-gateway-dropped-tools"
ENCRYPTED_REASONING = "reasoning.encrypted_content"

# Keys read here; any other key is dropped (and named).
_READ = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "text",
        "user",
        "metadata",
        "stream",
        "stream_options",  # include_obfuscation: nothing here is obfuscated, so nothing to turn off
        "store",
        "previous_response_id",
        "conversation",
        "background",
        "prompt",
    }
)
_NEEDS_STORAGE = ("previous_response_id", "conversation")
# Top-level fields a Response repeats from its request, as the SDK types them.
_ECHOED = ("reasoning", "prompt_cache_key", "safety_identifier")


@dataclass(frozen=True, slots=True)
class ResponsesCall:
    """A translated /v1/responses body."""

    request: pb.GenerateRequest
    stream: bool
    echo: JSON  # the request's side of the Response object (tools, tool_choice, text, ...)
    tools: Tools
    carry_reasoning: bool  # include asked for reasoning.encrypted_content
    dropped: tuple[str, ...]  # request fields and input items that went no further

    def headers(self, route: Mapping[str, str] | None = None) -> dict[str, str]:
        """The reply's headers: the route's, with this front door's dropped fields before those the
        serving provider left out, and the dropped tools."""
        out = dict(route or {})
        upstream = out.get(DROPPED_PARAMS, "")
        if self.dropped:
            out[DROPPED_PARAMS] = dropped_value(
                upstream.split(", ") if upstream else (), dropped_value(self.dropped)
            )
        if self.tools.dropped:
            out[DROPPED_TOOLS] = dropped_value(self.tools.dropped)
        return out


def parse_responses(body: JSON) -> ResponsesCall:
    request = pb.GenerateRequest(model=read.required_string(body.get("model"), "model"))
    for key in _NEEDS_STORAGE:
        if body.get(key) is not None:
            raise _unsupported(
                key,
                f"'{key}' needs stored responses, which are not enabled on this gateway (every response "
                "is store: false); send the whole conversation in 'input' instead",
            )
    if read.boolean(body.get("background"), "background"):
        raise _unsupported("background", "background responses need stored responses, which are not enabled")
    if body.get("prompt") is not None:
        raise _unsupported("prompt", "reusable prompts (prompt ids) are not supported; send 'input'")

    tools = read_tools(body.get("tools"), request)
    read_tool_choice(body.get("tool_choice"), request, tools)
    reader = InputReader(request.messages, tools)
    reader.read(body.get("input"))
    instructions = body.get("instructions")
    request.system = read.string(instructions, "instructions")

    sampling = request.sampling
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            setattr(sampling, key, read.number(body[key], key))
    max_output = body.get("max_output_tokens")
    if max_output is not None:
        sampling.max_tokens = read.integer(max_output, "max_output_tokens", (1, INT32[1]))
    parallel = read.boolean(body.get("parallel_tool_calls"), "parallel_tool_calls", default=True)
    if not parallel and request.tools:
        # Chat Completions' own parameter (OpenAI, vLLM, Groq); other providers leave it out.
        request.provider_options["parallel_tool_calls"] = False
    request.user = read.string(body.get("user"), "user")
    metadata = body.get("metadata")
    for key, value in read.object({} if metadata is None else metadata, "metadata").items():
        request.metadata[key] = read.string(value, f"metadata.{key}")
    text, dropped_text = _text(body.get("text"), request)
    stream = read.boolean(body.get("stream"), "stream")
    store = read.boolean(body.get("store"), "store", default=False)
    include = [
        read.string(item, f"include[{i}]")
        for i, item in enumerate(read.array(body.get("include"), "include"))
    ]

    dropped = [key for key, value in body.items() if key not in _READ and value is not None]
    if store:
        dropped.append("store")
    dropped += dropped_text + reader.dropped
    if tools.choice_dropped:
        dropped.append("tool_choice")
    echo: JSON = {
        "instructions": request.system or None,
        "max_output_tokens": max_output,
        "metadata": dict(request.metadata),
        "parallel_tool_calls": parallel,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "store": False,
        "temperature": sampling.temperature if sampling.HasField("temperature") else None,
        "text": text,
        "tool_choice": tools.tool_choice,
        "tools": tools.echo,
        "top_p": sampling.top_p if sampling.HasField("top_p") else None,
        "truncation": "disabled",
        "user": request.user or None,
    }
    for key in _ECHOED:
        if body.get(key) is not None:
            echo[key] = _echo_value(key, body[key])
    return ResponsesCall(request, stream, echo, tools, ENCRYPTED_REASONING in include, tuple(dropped))


def _unsupported(param: str, message: str) -> Exception:
    err = PARAMS.wrong_value(param, message)
    err.message = message[0].upper() + message[1:] + "."
    err.reason = "UNSUPPORTED_PARAMETER"
    return err


def _echo_value(key: str, value: Any) -> Any:
    if key == "reasoning":
        reasoning = read.object(value, "reasoning")
        return {
            "effort": read.string(reasoning.get("effort"), "reasoning.effort") or None,
            "summary": read.string(reasoning.get("summary"), "reasoning.summary") or None,
        }
    return read.string(value, key)


def _text(value: Any, request: pb.GenerateRequest) -> tuple[JSON, list[str]]:
    """text.format → the canonical response format; text.verbosity has no place and is dropped."""
    if value is None:
        return {"format": {"type": "text"}}, []
    text = read.object(value, "text")
    dropped = [f"text.{key}" for key, item in text.items() if key != "format" and item is not None]
    fmt = text.get("format")
    if fmt is None:
        return {"format": {"type": "text"}}, dropped
    fmt = read.object(fmt, "text.format")
    kind = fmt.get("type")
    if kind == "text":
        request.response_format.type = pb.ResponseFormat.TYPE_TEXT
        return {"format": {"type": "text"}}, dropped
    if kind == "json_object":
        request.response_format.type = pb.ResponseFormat.TYPE_JSON_OBJECT
        return {"format": {"type": "json_object"}}, dropped
    if kind != "json_schema":
        raise PARAMS.wrong_value(
            "text.format.type", f"expected text, json_object or json_schema, got {show(kind)}"
        )
    schema = fmt.get("schema")
    if schema is None:
        raise PARAMS.missing("text.format.schema")
    out = request.response_format
    out.type = pb.ResponseFormat.TYPE_JSON_SCHEMA
    out.schema_name = read.required_string(fmt.get("name"), "text.format.name")
    strict = read.optional_boolean(fmt.get("strict"), "text.format.strict")
    out.strict = bool(strict)
    out.schema.update(read.object(schema, "text.format.schema"))
    echoed: JSON = {"type": "json_schema", "name": out.schema_name, "schema": schema, "strict": strict}
    description = read.string(fmt.get("description"), "text.format.description")
    if description:
        echoed["description"] = description
    return {"format": echoed}, dropped
