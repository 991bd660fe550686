"""Errors reported inside a 200 body or stream event (providers/openai/errors.py)."""

from __future__ import annotations

from typing import Any

import pytest

from model_gateway.providers.openai.errors import error_in_body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {
                "error": {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                }
            },
            ("The server had an error while processing your request.", None),
            id="openai",
        ),
        pytest.param(
            {"error": {"message": "bad input", "type": "BadRequestError", "param": None, "code": 400}},
            ("bad input", 400),
            id="vllm",
        ),
        pytest.param(
            {"object": "error", "message": "old vllm", "type": "BadRequestError", "param": None, "code": 400},
            ("old vllm", 400),
            id="vllm-legacy",
        ),
        pytest.param({"error": {"code": "502", "message": "down"}}, ("down", 502), id="string-status"),
        pytest.param({"id": "chatcmpl-1", "choices": [], "error": None}, None, id="null-error-is-no-error"),
        pytest.param([], None, id="not-an-object"),
    ],
)
def test_error_in_body_shapes(body: Any, expected: tuple[str, int | None] | None) -> None:
    assert error_in_body(body) == expected
