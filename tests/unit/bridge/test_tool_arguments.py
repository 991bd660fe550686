"""Tool-call arguments as a JSON object: checked once, for every surface that sends them so."""

from __future__ import annotations

from typing import Any

import pytest

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.tool_arguments import arguments_object, as_object


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"city": "Paris"}', {"city": "Paris"}),
        ("{}", {}),
        ('{"city": "Pa', None),  # a stream's fragment: not yet an object
        ("", None),
        ("[1, 2]", None),
        ('"x"', None),
        ("null", None),
    ],
)
def test_as_object(text: str, expected: dict[str, Any] | None) -> None:
    assert as_object(text) == expected


def test_no_arguments_are_an_empty_object() -> None:
    assert arguments_object("", "f") == {}


@pytest.mark.parametrize("text", ['{"a": ', "[1]", "42"])
def test_arguments_that_are_not_an_object_are_the_models_fault(text: str) -> None:
    with pytest.raises(BridgeError, match="tool 'f' with arguments that are not a JSON object") as caught:
        arguments_object(text, "f")
    assert caught.value.status == 502
