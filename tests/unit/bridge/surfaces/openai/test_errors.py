"""Error bodies as the `openai` SDK sees them: the exception class, type, code and param."""

from __future__ import annotations

import openai
import pytest

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.openai.errors import error_body
from tests.unit.bridge.surfaces.openai.helpers import error_handler, sdk_client

SDK_ERRORS: list[tuple[BridgeError, type[openai.APIStatusError], str, str | None]] = [
    (
        BridgeError(400, "bad", reason="INVALID_REQUEST"),
        openai.BadRequestError,
        "invalid_request_error",
        "invalid_request",
    ),
    (
        BridgeError(401, "no key", reason="UPSTREAM_AUTH_FAILED"),
        openai.AuthenticationError,
        "invalid_request_error",
        "upstream_auth_failed",
    ),
    (BridgeError(403, "forbidden"), openai.PermissionDeniedError, "invalid_request_error", None),
    (
        BridgeError(404, "model 'x' not found", reason="MODEL_NOT_FOUND"),
        openai.NotFoundError,
        "invalid_request_error",
        "model_not_found",
    ),
    (BridgeError(413, "too large"), openai.APIStatusError, "invalid_request_error", None),
    (
        BridgeError(429, "slow down", reason="RATE_LIMITED", retry_after=7),
        openai.RateLimitError,
        "requests",
        "rate_limit_exceeded",
    ),
    (
        BridgeError(429, "budget", reason="BUDGET_EXCEEDED"),
        openai.RateLimitError,
        "insufficient_quota",
        "insufficient_quota",
    ),
    (BridgeError(500, "oops", reason="INTERNAL"), openai.InternalServerError, "server_error", "internal"),
    (
        BridgeError(503, "down", reason="ALL_ROUTES_FAILED"),
        openai.InternalServerError,
        "server_error",
        "all_routes_failed",
    ),
]


@pytest.mark.parametrize(
    ("err", "exception", "kind", "code"), SDK_ERRORS, ids=[str(e[0].status) + e[2] for e in SDK_ERRORS]
)
def test_errors_raise_the_sdk_exception(
    err: BridgeError, exception: type[openai.APIStatusError], kind: str, code: str | None
) -> None:
    with pytest.raises(exception) as caught:
        sdk_client(error_handler(err)).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == err.status
    assert caught.value.body == {"message": err.message, "type": kind, "param": None, "code": code}
    assert (caught.value.type, caught.value.code) == (kind, code)
    if err.retry_after is not None:
        assert caught.value.response.headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("field", "param"),
    [
        ("sampling.temperature", "temperature"),
        ("sampling.stop[1]", "stop"),
        ("messages[1].tool_calls[0].arguments", "messages[1].tool_calls[0].function.arguments"),
        ("tools[0].name", "tools[0].function.name"),
        ("tool_choice.function_name", "tool_choice"),
        ("messages[2].role", "messages[2].role"),
    ],
)
def test_gateway_field_paths_become_openai_params(field: str, param: str) -> None:
    err = BridgeError(400, f"{field}: 7 is out of range [0, 2]", param=field, reason="INVALID_REQUEST")
    body = error_body(err)["error"]
    assert body["param"] == param
    assert body["message"] == f"{param}: 7 is out of range [0, 2]"
