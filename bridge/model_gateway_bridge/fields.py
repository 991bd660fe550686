"""Typed readers for the fields of a JSON request body, shared by every surface.

A reader checks one value's JSON type (and an integer's range) and hands it
back as Python. What it says about a wrong value is the surface's own: each
surface passes in its FieldErrors, which words the error the way its clients
expect it (OpenAI: "Invalid type for 'temperature': expected a number, but
got "hot".", Ollama: 'invalid options.temperature: expected a number, got
"hot"'). Requests are read by hand rather than by pydantic: the bridge is a
hot path, and a bad field should be named by the dialect's own path to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

import orjson

from model_gateway_bridge.errors import BridgeError

JSON = dict[str, Any]
JsonType = Literal["string", "object", "array", "boolean", "number", "integer"]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

# How an "expected ..." message names each JSON type, unless a surface says otherwise.
TYPE_NAMES: Mapping[JsonType, str] = {
    "string": "a string",
    "object": "an object",
    "array": "an array",
    "boolean": "a boolean",
    "number": "a number",
    "integer": "an integer",
}


def show(value: Any) -> str:
    """A value as it appears in an error message: compact JSON, at most 80 characters."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class FieldErrors(Protocol):
    """A surface's wording for a bad field; `param` is the dialect's path to it."""

    def missing(self, param: str) -> BridgeError:
        """A required field is absent or null."""
        ...

    def empty(self, param: str) -> BridgeError:
        """A required string is blank."""
        ...

    def wrong_type(self, param: str, expected: str, value: Any) -> BridgeError:
        """The value is not of the JSON type (or shape) the field takes; `expected` says which."""
        ...

    def wrong_value(self, param: str, why: str) -> BridgeError:
        """The type is right and the value is not (out of range, not one of the choices, ...)."""
        ...


class Fields:
    """The readers, bound to one surface's FieldErrors (one instance per surface, made at import)."""

    __slots__ = ("errors", "names")

    def __init__(self, errors: FieldErrors, names: Mapping[JsonType, str] | None = None) -> None:
        self.errors = errors
        self.names: Mapping[JsonType, str] = {**TYPE_NAMES, **(names or {})}

    def wrong_type(self, param: str, kind: JsonType, value: Any) -> BridgeError:
        return self.errors.wrong_type(param, self.names[kind], value)

    def string(self, value: Any, param: str) -> str:
        """An optional string; null reads as ""."""
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.wrong_type(param, "string", value)
        return value

    def required_string(self, value: Any, param: str) -> str:
        """A string that must be there and not blank."""
        if value is None:
            raise self.errors.missing(param)
        text = self.string(value, param)
        if not text.strip():
            raise self.errors.empty(param)
        return text

    def object(self, value: Any, param: str) -> JSON:
        if not isinstance(value, dict):
            raise self.wrong_type(param, "object", value)
        return value

    def array(self, value: Any, param: str) -> list[Any]:
        """An optional array; null reads as []."""
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.wrong_type(param, "array", value)
        return value

    def boolean(self, value: Any, param: str, default: bool = False) -> bool:
        """An optional boolean; null reads as `default`."""
        checked = self.optional_boolean(value, param)
        return default if checked is None else checked

    def optional_boolean(self, value: Any, param: str) -> bool | None:
        """A boolean whose absence means something of its own (null stays None)."""
        if value is None or isinstance(value, bool):
            return value
        raise self.wrong_type(param, "boolean", value)

    def number(self, value: Any, param: str) -> float:
        # bool is an int in Python, never a number in JSON.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.wrong_type(param, "number", value)
        return float(value)

    def integer(self, value: Any, param: str, bounds: tuple[int, int]) -> int:
        # 256.0 is the integer 256: JavaScript clients write it so, and Go reads options as float64.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong_type(param, "integer", value)
        low, high = bounds
        if not low <= value <= high:
            raise self.errors.wrong_value(param, f"{value} is out of range [{low}, {high}]")
        return value
