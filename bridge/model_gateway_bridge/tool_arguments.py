"""Tool-call arguments: canonical JSON text, which some dialects send as a JSON object.

The canonical schema carries a call's arguments as the JSON string the model
wrote (OpenAI's form); a dialect that sends them as an object (Ollama, and
Anthropic's tool_use input) checks here, once, that the text is one.
"""

from __future__ import annotations

from typing import Any

import orjson

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.fields import show


def as_object(text: str) -> dict[str, Any] | None:
    """The arguments as a JSON object, or None while they are not one (yet: a stream's fragments)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def arguments_object(text: str, name: str) -> dict[str, Any]:
    """A finished call's arguments as an object; no arguments at all are {}.

    Anything else is the model's fault, not the client's: a 502.
    """
    arguments = as_object(text or "{}")
    if arguments is None:
        raise BridgeError(
            502, f"the model called tool '{name}' with arguments that are not a JSON object: {show(text)}"
        )
    return arguments
