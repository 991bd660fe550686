"""A Messages API body (`POST /v1/messages`, `/v1/messages/count_tokens`) → the canonical GenerateRequest.

- `max_tokens` is required (not for count_tokens); `temperature` and
  `top_p` are checked against the API's [0, 1].
- `system` (a string or text blocks) is the canonical `system`.
- `metadata.user_id` is the canonical `user`, kept as sent (Claude Code
  puts a JSON object there as a string); its string members are copied into
  the canonical metadata, for usage accounting.
- `output_config.format` (and the older `output_format`) is the canonical
  JSON-schema response format; the rest of `output_config` (`effort`),
  `thinking`, `context_management` and every key this surface does not
  translate go to provider_options, with the `anthropic-beta` flags: an
  `anthropic` provider sends them upstream, other providers leave them out
  (`model_gateway_common.vocab.anthropic.MESSAGES_EXTRAS`).
- The caller's `cache_control` breakpoints have no canonical place; when
  the body has no top-level `cache_control`, the last breakpoint becomes
  it, so an Anthropic upstream still caches the prompt (automatic caching).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from model_gateway_bridge.fields import INT32, JSON, show
from model_gateway_bridge.surfaces.anthropic.errors import FIELDS as read
from model_gateway_bridge.surfaces.anthropic.errors import INVALID
from model_gateway_bridge.surfaces.anthropic.messages import Conversation, read_messages, read_system
from model_gateway_bridge.surfaces.anthropic.tools import read_tools
from model_gateway_common.structs import dict_to_struct
from modelgateway.v1 import gateway_pb2 as pb

BETA_OPTION = "anthropic-beta"  # the provider_options key of the caller's beta flags

# Keys translated here; every other non-null top-level key goes to provider_options.
_TRANSLATED = frozenset(
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
        "metadata",
        "tools",
        "tool_choice",
        "output_config",
        "output_format",
        "thinking",
    }
)
_THINKING_TYPES = ("enabled", "adaptive", "disabled")


@dataclass(frozen=True, slots=True)
class Parsed:
    request: pb.GenerateRequest
    stream: bool
    dropped_params: list[str] = field(default_factory=list)  # named in x-gateway-dropped-params
    dropped_tools: list[str] = field(default_factory=list)  # named in x-gateway-dropped-tools

    def headers(self, route: Mapping[str, str] | None = None) -> dict[str, str]:
        """The route's headers with this front door's own drops before the provider's."""
        out = dict(route or {})
        for name, names in (
            ("x-gateway-dropped-params", self.dropped_params),
            ("x-gateway-dropped-tools", self.dropped_tools),
        ):
            value = header_list([*names, *out.get(name, "").split(",")])
            if value:
                out[name] = value
        return out


def header_list(names: list[str]) -> str:
    """Names as one header value: printable ASCII, each once, comma-separated."""
    seen: list[str] = []
    for name in names:
        clean = "".join(c if " " <= c <= "~" and c != "," else "?" for c in name).strip()
        if clean and clean not in seen:
            seen.append(clean)
    return ", ".join(seen)


def beta_flags(header: str | None) -> list[str]:
    """The `anthropic-beta` header's comma-separated flags (repeated headers arrive joined)."""
    if not header:
        return []
    return list(dict.fromkeys(flag.strip() for flag in header.split(",") if flag.strip()))


def parse_messages(body: JSON, betas: list[str] | None = None, *, counting: bool = False) -> Parsed:
    request = pb.GenerateRequest(model=read.required_string(body.get("model"), "model"))
    if not counting or body.get("max_tokens") is not None:
        _max_tokens(body.get("max_tokens"), request.sampling)
    seen = Conversation()
    request.system = read_system(body.get("system"), seen)
    messages = body.get("messages")
    if messages is None:
        raise INVALID.missing("messages")
    if not read.array(messages, "messages"):
        raise INVALID.wrong_value("messages", "at least one message is required")
    conversation = read_messages(messages, request.messages)
    tools = read_tools(body, request)
    _sampling(body, request.sampling)
    _metadata(body.get("metadata"), request)
    extras = {key: value for key, value in body.items() if key not in _TRANSLATED and value is not None}
    thinking = _thinking(body.get("thinking"))
    if thinking is not None:
        extras["thinking"] = thinking
    output_config = _output_config(body, request)
    if output_config:
        extras["output_config"] = output_config
    marker = conversation.cache_control or tools.cache_control or seen.cache_control
    if marker is not None and "cache_control" not in extras:
        extras["cache_control"] = marker
    if betas:
        extras[BETA_OPTION] = betas
    if extras:
        dict_to_struct(extras, request.provider_options)
    stream = read.boolean(body.get("stream"), "stream") and not counting
    dropped = [*tools.dropped_params, *conversation.dropped]
    return Parsed(request, stream, dropped, tools.dropped_tools)


def _max_tokens(value: Any, out: pb.Sampling) -> None:
    if value is None:
        raise INVALID.missing("max_tokens")
    tokens = read.integer(value, "max_tokens", (1, INT32[1]))
    out.max_tokens = tokens


def _unit_interval(body: JSON, key: str) -> float | None:
    if body.get(key) is None:
        return None
    value = read.number(body[key], key)
    if not 0.0 <= value <= 1.0:
        raise INVALID.wrong_value(key, f"Input should be between 0 and 1, got {show(body[key])}")
    return value


def _sampling(body: JSON, out: pb.Sampling) -> None:
    for key in ("temperature", "top_p"):
        value = _unit_interval(body, key)
        if value is not None:
            setattr(out, key, value)
    if body.get("top_k") is not None:
        out.top_k = read.integer(body["top_k"], "top_k", (0, INT32[1]))
    stops = read.array(body.get("stop_sequences"), "stop_sequences")
    out.stop.extend(read.string(s, f"stop_sequences.{i}") for i, s in enumerate(stops))


def _metadata(value: Any, request: pb.GenerateRequest) -> None:
    if value is None:
        return
    metadata = read.object(value, "metadata")
    request.user = read.string(metadata.get("user_id"), "metadata.user_id")
    try:
        inner = orjson.loads(request.user) if request.user.startswith("{") else None
    except orjson.JSONDecodeError:
        inner = None
    if isinstance(inner, dict):
        for key, item in inner.items():
            if isinstance(item, str) and item:
                request.metadata[key] = item


def _thinking(value: Any) -> JSON | None:
    """The `thinking` config, checked: enabled (with budget_tokens), adaptive, disabled, or newer types."""
    if value is None:
        return None
    thinking = read.object(value, "thinking")
    kind = thinking.get("type")
    if not isinstance(kind, str) or not kind:
        raise INVALID.wrong_value(
            "thinking.type", f"Input should be one of {', '.join(_THINKING_TYPES)}, got {show(kind)}"
        )
    if thinking.get("budget_tokens") is not None:
        read.integer(thinking["budget_tokens"], "thinking.budget_tokens", (1, INT32[1]))
    elif kind == "enabled":
        raise INVALID.missing("thinking.budget_tokens")
    return thinking


def _output_config(body: JSON, request: pb.GenerateRequest) -> JSON:
    """What of `output_config` goes to provider_options; its `format` becomes the response format."""
    raw = body.get("output_config")
    config = {} if raw is None else dict(read.object(raw, "output_config"))
    spec = config.pop("format", None)
    where = "output_config.format"
    if spec is None and body.get("output_format") is not None:
        spec, where = body["output_format"], "output_format"
    if spec is not None:
        spec = read.object(spec, where)
        if spec.get("type") != "json_schema":
            raise INVALID.wrong_value(
                f"{where}.type", f"Input should be 'json_schema', got {show(spec.get('type'))}"
            )
        schema = spec.get("schema")
        if schema is None:
            raise INVALID.missing(f"{where}.schema")
        out = pb.ResponseFormat(type=pb.ResponseFormat.TYPE_JSON_SCHEMA, strict=True)
        dict_to_struct(read.object(schema, f"{where}.schema"), out.schema)
        request.response_format.CopyFrom(out)
    return {key: value for key, value in config.items() if value is not None}
