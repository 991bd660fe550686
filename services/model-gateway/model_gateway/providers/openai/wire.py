"""Readers for the parts of OpenAI-shaped JSON that compatible servers write differently.

The plain typed readers (read_dict, read_int, ...) and WireError are the
shared ones of providers/readers.py.
"""

from __future__ import annotations

from typing import Any

import orjson

from model_gateway.providers.readers import JSON


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
