"""The shared field readers: one set of type checks, each surface's own words for a bad field."""

from __future__ import annotations

from typing import Any

import pytest

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.fields import INT32, Fields, show
from model_gateway_bridge.surfaces.ollama.errors import FIELDS as OLLAMA
from model_gateway_bridge.surfaces.openai.errors import FIELDS as OPENAI


def read(fields: Fields, reader: str, value: Any, param: str) -> Any:
    if reader == "integer":
        return fields.integer(value, param, INT32)
    return getattr(fields, reader)(value, param)


# (reader, value, as it is shown, what OpenAI's wording expects, what Ollama's does)
WRONG_TYPES: list[tuple[str, Any, str, str, str]] = [
    ("string", 7, "7", "a string", "a string"),
    ("required_string", [], "[]", "a string", "a string"),
    ("object", [1], "[1]", "an object", "an object"),
    ("array", "hi", '"hi"', "an array", "a list"),
    ("boolean", "yes", '"yes"', "a boolean", "true or false"),
    ("optional_boolean", 1, "1", "a boolean", "true or false"),
    ("number", True, "true", "a number", "a number"),  # a bool is never a JSON number
    ("number", "1", '"1"', "a number", "a number"),
    ("integer", 1.5, "1.5", "an integer", "an integer"),
    ("integer", False, "false", "an integer", "an integer"),
]


def errors(reader: str, value: Any) -> tuple[BridgeError, BridgeError]:
    """What OpenAI's readers and Ollama's raise for the same bad value of the field "p"."""
    with pytest.raises(BridgeError) as by_openai:
        read(OPENAI, reader, value, "p")
    with pytest.raises(BridgeError) as by_ollama:
        read(OLLAMA, reader, value, "p")
    for err in (by_openai.value, by_ollama.value):
        assert (err.status, err.param) == (400, "p")
    return by_openai.value, by_ollama.value


@pytest.mark.parametrize(("reader", "value", "shown", "openai", "ollama"), WRONG_TYPES)
def test_a_wrong_type_in_each_surfaces_words(
    reader: str, value: Any, shown: str, openai: str, ollama: str
) -> None:
    by_openai, by_ollama = errors(reader, value)
    assert by_openai.message == f"Invalid type for 'p': expected {openai}, but got {shown}."
    assert by_openai.reason == "INVALID_TYPE"  # OpenAI's `code`, lowercased on the wire
    assert by_ollama.message == f"invalid p: expected {ollama}, got {shown}"


# (reader, value, OpenAI's message, its code, Ollama's message)
WRONG_VALUES: list[tuple[str, Any, str, str, str]] = [
    (
        "required_string",
        None,
        "Missing required parameter: 'p'.",
        "MISSING_REQUIRED_PARAMETER",
        "p is required",
    ),
    ("required_string", "  ", "Invalid value for 'p': must not be empty.", "INVALID_VALUE", "p is required"),
    (
        "integer",
        2**31,
        "Invalid value for 'p': 2147483648 is out of range [-2147483648, 2147483647].",
        "INVALID_VALUE",
        "invalid p: 2147483648 is out of range [-2147483648, 2147483647]",
    ),
]


@pytest.mark.parametrize(("reader", "value", "openai", "code", "ollama"), WRONG_VALUES)
def test_a_missing_or_wrong_value_in_each_surfaces_words(
    reader: str, value: Any, openai: str, code: str, ollama: str
) -> None:
    by_openai, by_ollama = errors(reader, value)
    assert (by_openai.message, by_openai.reason) == (openai, code)
    assert by_ollama.message == ollama


GOOD: list[tuple[str, Any, Any]] = [
    ("string", None, ""),
    ("string", "x", "x"),
    ("required_string", " x ", " x "),
    ("object", {}, {}),
    ("array", None, []),
    ("array", [1], [1]),
    ("boolean", None, False),
    ("boolean", True, True),
    ("optional_boolean", None, None),
    ("optional_boolean", False, False),
    ("number", 1, 1.0),
    ("integer", 256.0, 256),  # a JavaScript client's (or Go's) integer
    ("integer", -(2**31), -(2**31)),
]


@pytest.mark.parametrize(("reader", "value", "expected"), GOOD)
def test_a_good_field_reads_the_same_in_every_surface(reader: str, value: Any, expected: Any) -> None:
    for fields in (OPENAI, OLLAMA):
        result = read(fields, reader, value, "p")
        assert result == expected and type(result) is type(expected)


def test_a_default_for_an_absent_boolean() -> None:
    assert OLLAMA.boolean(None, "stream", default=True) is True
    assert OLLAMA.boolean(False, "stream", default=True) is False


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("hot", '"hot"'),
        (None, "null"),
        ([1, 2], "[1,2]"),
        ("x" * 100, '"' + "x" * 76 + "..."),
        (b"\x00", "b'\\x00'"),
    ],
)
def test_values_are_shown_as_compact_json_at_most_80_characters(value: Any, shown: str) -> None:
    assert show(value) == shown
