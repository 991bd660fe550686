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


# Past this a count is a broken upstream, not a count; it must still fit the proto's int64 fields
# (a 1e308 from a fuzzer overflowed them: ValueError, a 500).
MAX_INT = 2**53


def read_int(value: Any) -> int:
    """A JSON number as an int (a float is truncated, both clamped to ±2**53); anything else,
    booleans included, as 0."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:  # NaN
        return 0
    if abs(value) >= MAX_INT:
        return MAX_INT if value > 0 else -MAX_INT
    return int(value)
