"""Tool-call arguments checked once for every translator (providers/tool_args.py)."""

from __future__ import annotations

import pytest

from model_gateway.errors import GatewayError
from model_gateway.providers.tool_args import arguments_object, parse_arguments


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [("", {}), ("{}", {}), ('{"city": "Paris"}', {"city": "Paris"}), ("[1, 2]", [1, 2])],
)
def test_parse_arguments(arguments: str, expected: object) -> None:
    assert parse_arguments(arguments, "f") == expected


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [('{"city": ', "f: is not valid JSON ("), ('["Paris"]', "f: must be a JSON object, got '[\"Paris\"]'")],
)
def test_arguments_object_rejects_what_is_not_an_object(arguments: str, problem: str) -> None:
    with pytest.raises(GatewayError) as caught:
        arguments_object(arguments, "f")
    assert caught.value.metadata["field"] == "f"
    assert caught.value.message.startswith(problem)
