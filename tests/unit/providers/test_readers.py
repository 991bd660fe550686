"""The lenient JSON readers shared by the translators (providers/readers.py)."""

from __future__ import annotations

from typing import Any

import pytest

from model_gateway.providers.readers import read_dict, read_int, read_list, read_str


@pytest.mark.parametrize(
    ("value", "expected"),
    [(7, 7), (7.9, 7), (True, 0), ("7", 0), (None, 0)],
)
def test_read_int(value: Any, expected: int) -> None:
    assert read_int(value) == expected


@pytest.mark.parametrize("value", [None, "x", 1, [1], {"a": 1}])
def test_read_dict_list_str_give_empty_for_the_wrong_type(value: Any) -> None:
    assert read_dict(value) == (value if isinstance(value, dict) else {})
    assert read_list(value) == (value if isinstance(value, list) else [])
    assert read_str(value) == (value if isinstance(value, str) else "")
