"""Tool-call arguments: a JSON string in the canonical schema, checked here before any upstream sees it.

Every translator that sends an assistant's earlier tool calls back upstream
reads the arguments through these two functions, so a bad value is rejected
the same way, naming the field, whatever the upstream.
"""

from __future__ import annotations

from typing import Any

import orjson

from model_gateway.errors import invalid


def parse_arguments(arguments: str, where: str) -> Any:
    """The decoded arguments; an empty string means "no arguments" ({}). Bad JSON is INVALID_ARGUMENT."""
    try:
        return orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError as exc:
        raise invalid(where, f"is not valid JSON ({exc}): {arguments[:80]!r}") from None


def arguments_object(arguments: str, where: str) -> dict[str, Any]:
    """The arguments as the JSON object that upstreams taking structured arguments require."""
    value = parse_arguments(arguments, where)
    if not isinstance(value, dict):
        raise invalid(where, f"must be a JSON object, got {arguments[:80]!r}")
    return value
