"""Typed readers for Ollama's reply JSON: strict, as the fields are Go-typed.

A field of the wrong type raises ValueError (one of MALFORMED), which the
provider turns into a protocol error naming the endpoint.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

# Shapes of malformed upstream JSON that the translators let surface; the
# provider turns them into a protocol error.
MALFORMED = (KeyError, TypeError, ValueError, AttributeError)


def read_object(value: Any, what: str) -> JSON:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def read_text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    return value


def read_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} is not a list")
    return value


def read_count(obj: JSON, key: str) -> int | None:
    """A counter or duration; absent (Go's omitempty) or mistyped reads as None."""
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
