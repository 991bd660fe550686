"""Checks a canonical request before any upstream sees it; errors name the field and value."""

from __future__ import annotations

import orjson

from model_gateway.errors import invalid
from modelgateway.v1 import gateway_pb2 as pb

_ROLES = set(pb.Role.values()) - {pb.ROLE_UNSPECIFIED}

# (field, low, high) for the bounded sampling parameters.
_RANGES = (
    ("temperature", 0.0, 2.0),
    ("top_p", 0.0, 1.0),
    ("presence_penalty", -2.0, 2.0),
    ("frequency_penalty", -2.0, 2.0),
)


def validate_generate(request: pb.GenerateRequest) -> None:
    if not request.model.strip():
        raise invalid("model", "is required")
    if request.messages and request.prompt:
        raise invalid("prompt", "give either messages or a prompt, not both")
    if not request.messages and not request.prompt:
        raise invalid("messages", "must not be empty (or give a prompt)")
    for i, message in enumerate(request.messages):
        _validate_message(i, message)
    _validate_sampling(request.sampling)
    for i, tool in enumerate(request.tools):
        if not tool.name:
            raise invalid(f"tools[{i}].name", "is required")
    choice = request.tool_choice
    if choice.mode == pb.ToolChoice.MODE_FUNCTION:
        if not choice.function_name:
            raise invalid("tool_choice.function_name", "is required when the mode is FUNCTION")
        if choice.function_name not in {t.name for t in request.tools}:
            raise invalid("tool_choice.function_name", f"'{choice.function_name}' is not one of the tools")


def _validate_message(i: int, message: pb.Message) -> None:
    if message.role not in _ROLES:
        name = pb.Role.Name(message.role) if message.role in pb.Role.values() else str(message.role)
        raise invalid(f"messages[{i}].role", f"unknown role {name}")
    for j, call in enumerate(message.tool_calls):
        where = f"messages[{i}].tool_calls[{j}]"
        if not call.name:
            raise invalid(f"{where}.name", "is required")
        try:
            arguments = orjson.loads(call.arguments or "{}")
        except orjson.JSONDecodeError as exc:
            raise invalid(
                f"{where}.arguments", f"is not valid JSON ({exc}): {call.arguments[:80]!r}"
            ) from None
        if not isinstance(arguments, dict):
            raise invalid(f"{where}.arguments", f"must be a JSON object, got {call.arguments[:80]!r}")
    if message.role == pb.ROLE_TOOL and not message.tool_call_id and not message.name:
        raise invalid(f"messages[{i}].tool_call_id", "is required on a tool result")


def _validate_sampling(sampling: pb.Sampling) -> None:
    for field, low, high in _RANGES:
        if sampling.HasField(field):  # type: ignore[arg-type]
            value = getattr(sampling, field)
            if not low <= value <= high:
                raise invalid(f"sampling.{field}", f"{value:g} is out of range [{low:g}, {high:g}]")
    if sampling.HasField("max_tokens") and sampling.max_tokens <= 0:
        raise invalid("sampling.max_tokens", f"must be positive, got {sampling.max_tokens}")
    if sampling.HasField("top_k") and sampling.top_k < 0:
        raise invalid("sampling.top_k", f"must not be negative, got {sampling.top_k}")
    for i, stop in enumerate(sampling.stop):
        if not stop:
            raise invalid(f"sampling.stop[{i}]", "must not be empty")


def validate_embed(request: pb.EmbedRequest) -> None:
    if not request.model.strip():
        raise invalid("model", "is required")
    if not request.input:
        raise invalid("input", "must not be empty")
    if request.HasField("dimensions") and request.dimensions <= 0:
        raise invalid("dimensions", f"must be positive, got {request.dimensions}")
