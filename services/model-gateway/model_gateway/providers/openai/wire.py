"""Typed readers for OpenAI-shaped reply JSON: lenient, as compatible servers vary.

A missing or mistyped optional field reads as empty; only a reply without
the shape the translator needs raises WireError.
"""

from __future__ import annotations

from typing import Any

import orjson

JSON = dict[str, Any]


class WireError(ValueError):
    """An upstream reply that does not have the OpenAI shape."""


def read_dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def read_int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def read_text(value: Any) -> str:
    """Message content: a string, null, or (some servers) an array of text parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            p.get("text") or "" for p in value if isinstance(p, dict) and p.get("type", "text") == "text"
        )
    return ""


def read_reasoning(message: JSON) -> str:
    # vLLM, DeepSeek and llama.cpp say `reasoning_content`; OpenRouter, Groq and newer vLLM `reasoning`.
    return read_text(message.get("reasoning_content")) or read_text(message.get("reasoning"))


def read_arguments(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()  # a server that sent an object instead of a JSON string
