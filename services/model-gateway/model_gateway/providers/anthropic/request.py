"""Canonical GenerateRequest → the Anthropic Messages body (`POST /v1/messages`).

What differs from the canonical shape, and so is decided here:

- `system` is a top-level field: `request.system` and every system or
  developer message are folded into it, in order.
- `max_tokens` is required upstream: the caller's, capped by the model's
  `max_output_tokens`; that setting when the caller gave none; else 4096.
- Tool results are `tool_result` blocks inside a user turn; consecutive
  turns of one role are merged, as the API requires strict alternation of
  tool_use and tool_result.
- Signed thinking blocks go back only to Anthropic (their `provider_kind`).
- JSON mode and `json_schema` become a forced tool (`ANSWER_TOOL`) whose
  input the response translators turn back into the text answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from model_gateway.errors import invalid
from model_gateway.providers.base import ModelSettings
from model_gateway.providers.images import inline_base64, sniff_mime
from model_gateway.providers.tool_args import arguments_object
from model_gateway_common.structs import struct_to_dict
from modelgateway.v1 import gateway_pb2 as pb

JSON = dict[str, Any]

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
DEFAULT_MAX_TOKENS = 4096
ANSWER_TOOL = "json_response"
PROVIDER_KIND = "anthropic"

_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_TOOL_ID = re.compile(r"[^a-zA-Z0-9_-]")  # Anthropic's tool_use ids match ^[a-zA-Z0-9_-]+$
_EPHEMERAL: JSON = {"type": "ephemeral"}

# Documented Messages parameters the canonical schema cannot carry: the
# Anthropic front door passes them as provider options, and they go through.
# Anything else there (Ollama `options`, OpenAI extras) is dropped: the API
# answers 400 to an unknown top-level key.
PASSTHROUGH = frozenset(
    {
        "cache_control",
        "container",
        "context_management",
        "inference_geo",
        "mcp_servers",
        "metadata",
        "output_config",
        "service_tier",
        "thinking",
    }
)
# What /v1/messages/count_tokens accepts of a Messages body.
COUNT_TOKENS_KEYS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "cache_control"}
)
# provider_options keys naming beta flags (the SDK's `betas`), sent as the anthropic-beta header.
BETA_OPTIONS = ("anthropic_beta", "anthropic-beta", "betas")


@dataclass(frozen=True, slots=True)
class Translation:
    body: JSON
    answer_tool: str | None = None  # set in JSON mode: this tool's input is the answer text
    betas: list[str] = field(default_factory=list)  # anthropic-beta flags the request asked for


def translate(
    request: pb.GenerateRequest, model: str, settings: ModelSettings, *, stream: bool
) -> Translation:
    options = struct_to_dict(request.provider_options)
    body: JSON = {"model": model, "max_tokens": max_tokens(request, settings)}
    cache = _cache_control(settings)
    system = _system(request, cache)
    if system:
        body["system"] = system
    body["messages"] = _messages(request)
    answer = _answer_tool(request)
    tools = [_tool(tool) for tool in request.tools]
    if answer is not None:
        if any(tool["name"] == ANSWER_TOOL for tool in tools):
            raise invalid("tools", f"the tool name '{ANSWER_TOOL}' is reserved for JSON answers")
        tools.append(answer)
    if tools:
        if cache is not None:
            tools[-1]["cache_control"] = cache
        body["tools"] = tools
        choice = _tool_choice(request, answer is not None, _thinking_on(options))
        if choice is not None:
            body["tool_choice"] = choice
    elif request.tool_choice.mode in (pb.ToolChoice.MODE_REQUIRED, pb.ToolChoice.MODE_FUNCTION):
        raise invalid("tool_choice", "asks for a tool call but the request has no tools")
    _sampling(body, request.sampling)
    if request.user:
        body["metadata"] = {"user_id": request.user}
    for key in sorted(PASSTHROUGH & options.keys()):
        body[key] = options[key]  # the front door's own value (metadata included) wins
    if stream:
        body["stream"] = True
    return Translation(body, ANSWER_TOOL if answer is not None else None, _betas(options))


# Sampling the Messages API has no equivalent for.
_UNSENT_SAMPLING: tuple[Literal["seed", "presence_penalty", "frequency_penalty"], ...] = (
    "seed",
    "presence_penalty",
    "frequency_penalty",
)


def dropped(request: pb.GenerateRequest) -> list[str]:
    """What `translate` leaves out, by the request's own names: unsupported sampling and other
    dialects' provider options (Ollama's `options`, OpenAI's `logprobs`, ...)."""
    names: list[str] = [name for name in _UNSENT_SAMPLING if request.sampling.HasField(name)]
    names += sorted(
        k for k in request.provider_options.fields if k not in PASSTHROUGH and k not in BETA_OPTIONS
    )
    return names


def count_tokens_body(body: JSON) -> JSON:
    """The /v1/messages/count_tokens body for a Messages body (no max_tokens, sampling or stream)."""
    return {key: value for key, value in body.items() if key in COUNT_TOKENS_KEYS}


def max_tokens(request: pb.GenerateRequest, settings: ModelSettings) -> int:
    cap = settings.max_output_tokens
    if request.sampling.HasField("max_tokens") and request.sampling.max_tokens > 0:
        asked = request.sampling.max_tokens
        return min(asked, cap) if cap else asked
    return cap or DEFAULT_MAX_TOKENS


def _cache_control(settings: ModelSettings) -> JSON | None:
    """`cache_system_prompt: true` (or a TTL, "5m" / "1h") marks the system prompt and tools for caching."""
    option = settings.options.get("cache_system_prompt")
    if option is True:
        return dict(_EPHEMERAL)
    if isinstance(option, str) and option in ("5m", "1h"):
        return {**_EPHEMERAL, "ttl": option}
    return None


def _betas(options: Mapping[str, Any]) -> list[str]:
    flags: list[str] = []
    for key in BETA_OPTIONS:
        value = options.get(key)
        items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
        flags += [str(item).strip() for item in items if str(item).strip()]
    return list(dict.fromkeys(flags))


def _thinking_on(options: Mapping[str, Any]) -> bool:
    thinking = options.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


# --- system ----------------------------------------------------------------


def _system(request: pb.GenerateRequest, cache: JSON | None) -> str | list[JSON]:
    pieces = [request.system] if request.system else []
    for i, message in enumerate(request.messages):
        if message.role in (pb.ROLE_SYSTEM, pb.ROLE_DEVELOPER):
            for j, part in enumerate(message.content):
                if not part.HasField("text"):
                    raise invalid(f"messages[{i}].content[{j}]", "a system message takes text only")
                if part.text:
                    pieces.append(part.text)
    if cache is None:
        return "\n\n".join(pieces)
    blocks: list[JSON] = [{"type": "text", "text": piece} for piece in pieces]
    if blocks:
        blocks[-1]["cache_control"] = cache
    return blocks


# --- messages --------------------------------------------------------------


def _messages(request: pb.GenerateRequest) -> list[JSON]:
    if not request.messages and request.prompt:
        return [{"role": "user", "content": request.prompt}]
    turns: list[JSON] = []
    for i, message in enumerate(request.messages):
        if message.role in (pb.ROLE_SYSTEM, pb.ROLE_DEVELOPER):
            continue
        if message.role == pb.ROLE_USER:
            role, blocks = "user", _user_blocks(i, message.content)
        elif message.role == pb.ROLE_ASSISTANT:
            role, blocks = "assistant", _assistant_blocks(i, message)
        elif message.role == pb.ROLE_TOOL:
            role, blocks = "user", [_tool_result(i, message, request)]
        else:
            raise invalid(f"messages[{i}].role", f"unsupported role {message.role}")
        if not blocks:
            continue  # an empty turn: Anthropic rejects empty content
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += blocks
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        _tool_results_first(turn)
    return [_compact(turn) for turn in turns]


def _tool_results_first(turn: JSON) -> None:
    """A user turn that answers tool calls must start with its tool_result blocks."""
    blocks: list[JSON] = turn["content"]
    results = [b for b in blocks if b["type"] == "tool_result"]
    if results and blocks[: len(results)] != results:
        turn["content"] = results + [b for b in blocks if b["type"] != "tool_result"]


def _compact(turn: JSON) -> JSON:
    # One plain text block is sent as a string, the form the SDKs and docs use.
    blocks = turn["content"]
    if len(blocks) == 1 and blocks[0]["type"] == "text" and len(blocks[0]) == 2:
        return {"role": turn["role"], "content": blocks[0]["text"]}
    return turn


def _user_blocks(i: int, parts: Iterable[pb.ContentPart]) -> list[JSON]:
    blocks: list[JSON] = []
    for j, part in enumerate(parts):
        kind = part.WhichOneof("part")
        if kind == "text":
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif kind == "image":
            blocks.append(_image(f"messages[{i}].content[{j}].image", part.image))
        elif kind == "reasoning":
            continue  # reasoning is the assistant's; a client echoing it on a user turn loses nothing
        else:
            raise invalid(f"messages[{i}].content[{j}]", "a content part needs text or an image")
    return blocks


def _assistant_blocks(i: int, message: pb.Message) -> list[JSON]:
    blocks: list[JSON] = []
    for j, part in enumerate(message.content):
        kind = part.WhichOneof("part")
        if kind == "text":
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif kind == "reasoning":
            block = _thinking(part.reasoning)
            if block is not None:
                blocks.append(block)
        elif kind == "image":
            raise invalid(f"messages[{i}].content[{j}]", "Anthropic takes images on user turns only")
    for j, call in enumerate(message.tool_calls):
        where = f"messages[{i}].tool_calls[{j}]"
        if not call.name:
            raise invalid(f"{where}.name", "is required")
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_use_id(call.id, i, j),
                "name": call.name,
                "input": arguments_object(call.arguments, f"{where}.arguments"),
            }
        )
    return blocks


def _thinking(part: pb.ReasoningPart) -> JSON | None:
    """A thinking block to send back, or None for reasoning Anthropic cannot verify.

    Anthropic checks the signature of every thinking block it is sent, so
    only blocks it signed itself go back; plain reasoning text (another
    provider's, or a client's) is dropped rather than rejected upstream.
    """
    if part.provider_kind not in ("", PROVIDER_KIND):
        return None
    if part.redacted:
        return {"type": "redacted_thinking", "data": part.data} if part.data else None
    if not part.signature:
        return None
    return {"type": "thinking", "thinking": part.text, "signature": part.signature}


def tool_use_id(call_id: str, i: int, j: int) -> str:
    """The call's id in Anthropic's alphabet; one is made up for clients that send none (Ollama)."""
    return _TOOL_ID.sub("_", call_id) if call_id else f"toolu_gw_{i}_{j}"


def _tool_result(i: int, message: pb.Message, request: pb.GenerateRequest) -> JSON:
    block: JSON = {"type": "tool_result", "tool_use_id": _answered_call(i, message, request)}
    content = _user_blocks(i, message.content)
    if len(content) == 1 and content[0]["type"] == "text":
        block["content"] = content[0]["text"]
    elif content:
        block["content"] = content
    if message.is_error:
        block["is_error"] = True
    return block


def _answered_call(i: int, message: pb.Message, request: pb.GenerateRequest) -> str:
    """The tool_use id a result answers: its tool_call_id, else the latest call of its tool by name."""
    if message.tool_call_id:
        return tool_use_id(message.tool_call_id, i, 0)
    for k in range(i - 1, -1, -1):
        calls = request.messages[k].tool_calls
        for j in range(len(calls) - 1, -1, -1):
            if message.name and calls[j].name == message.name:
                return tool_use_id(calls[j].id, k, j)
    raise invalid(f"messages[{i}].tool_call_id", "is required to match the result to its tool call")


def _image(where: str, image: pb.ImagePart) -> JSON:
    if image.WhichOneof("source") == "url" and image.url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": image.url}}
    mime, data = inline_base64(image, where, "Anthropic")
    if not mime and image.WhichOneof("source") == "data":
        mime = sniff_mime(image.data)
    if mime not in _MEDIA_TYPES:
        raise invalid(
            f"{where}.mime_type",
            f"Anthropic takes {', '.join(sorted(_MEDIA_TYPES))} images, not {mime or 'an unknown type'}",
        )
    return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}


# --- tools and JSON answers -------------------------------------------------


def _tool(tool: pb.Tool) -> JSON:
    out: JSON = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    schema = struct_to_dict(tool.parameters) if tool.HasField("parameters") else {}
    # input_schema is required and must describe an object; OpenAI lets parameters be left out.
    out["input_schema"] = {"type": "object", **schema} if schema else {"type": "object", "properties": {}}
    if tool.strict:
        out["strict"] = True
    return out


def _answer_tool(request: pb.GenerateRequest) -> JSON | None:
    response_format = request.response_format
    if response_format.type == pb.ResponseFormat.TYPE_JSON_OBJECT:
        schema: JSON = {"type": "object"}
    elif response_format.type == pb.ResponseFormat.TYPE_JSON_SCHEMA:
        schema = struct_to_dict(response_format.schema) or {"type": "object"}
        if schema.get("type", "object") != "object":
            # A tool's input is always an object, so a schema for anything else has no carrier.
            raise invalid(
                "response_format.schema.type",
                f"Anthropic answers JSON through a tool, whose input must be an object, "
                f"not {schema.get('type')!r}",
            )
        schema = {"type": "object", **schema}
    else:
        return None
    description = "Give the final answer as this tool's input: a JSON object"
    if response_format.schema_name:
        description += f" ({response_format.schema_name})"
    return {"name": ANSWER_TOOL, "description": description + ".", "input_schema": schema}


def _tool_choice(request: pb.GenerateRequest, json_answer: bool, thinking: bool) -> JSON | None:
    mode = request.tool_choice.mode
    if mode == pb.ToolChoice.MODE_FUNCTION:
        if not request.tool_choice.function_name:
            raise invalid("tool_choice.function_name", "is required when the mode is FUNCTION")
        return {"type": "tool", "name": request.tool_choice.function_name}
    if json_answer:
        if thinking:
            # Anthropic refuses a forced tool while extended thinking is on; the tool is still offered.
            return {"type": "auto"}
        if request.tools and mode != pb.ToolChoice.MODE_NONE:
            return {"type": "any"}  # call one of the caller's tools, or answer
        return {"type": "tool", "name": ANSWER_TOOL}
    if mode == pb.ToolChoice.MODE_AUTO:
        return {"type": "auto"}
    if mode == pb.ToolChoice.MODE_REQUIRED:
        return {"type": "any"}
    if mode == pb.ToolChoice.MODE_NONE:
        return {"type": "none"}
    return None


def _sampling(body: JSON, sampling: pb.Sampling) -> None:
    # seed and the presence/frequency penalties have no Anthropic equivalent and are left out.
    if sampling.stop:
        body["stop_sequences"] = list(sampling.stop)
    for name in ("temperature", "top_p", "top_k"):
        if sampling.HasField(name):
            body[name] = getattr(sampling, name)
