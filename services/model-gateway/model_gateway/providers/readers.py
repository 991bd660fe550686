"""Lenient typed readers for upstream reply JSON, shared by the translators.

Compatible servers vary, so a missing or mistyped optional field reads as
empty; a translator raises WireError only when a reply lacks the shape it
needs, and the provider turns that into a protocol error. (Ollama's replies
are Go-typed and read strictly: providers/ollama/wire.py.)
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


class WireError(ValueError):
    """An upstream reply that does not have the shape of its wire format."""


def read_dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def read_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def read_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def read_int(value: Any) -> int:
    """A JSON number as an int (a float is truncated); anything else, booleans included, as 0."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
