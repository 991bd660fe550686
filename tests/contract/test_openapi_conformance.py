"""The running bridge against contracts/openapi.yaml.

- The document is valid OpenAPI 3.1 and describes every route the bridge serves.
- Schemathesis generates requests for every operation (examples, coverage and
  fuzzing phases; valid and invalid data) and checks each response: a
  documented status and content type, the body (every SSE event; every NDJSON
  line, by the check below) and the headers as documented, invalid data
  rejected with a 4xx, and no server error but the 501-504 that the fakes'
  cue models cause on purpose. Generated `model` values are swapped for
  configured names (answering, failing on cue, unknown), so cases reach real
  routes rather than all stopping at "model not found".
- Each streaming media type is exercised explicitly too: every event or line
  of a real stream, a stream cut by an upstream error included, conforms.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, HookContext, Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from model_gateway_bridge.app import create_app
from model_gateway_bridge.config import BridgeConfig
from tests.contract.conftest import (
    CHAT_MODELS,
    CUE_MODELS,
    EMBED_MODELS,
    HEALTHY_MODELS,
    SPEC_PATH,
    UNKNOWN_MODELS,
    Bridge,
    component_validator,
    media_type,
    media_validator,
    parse_ndjson,
    parse_sse,
    schema_errors,
    spec,
)

# --- the document ------------------------------------------------------------------------------


def test_document_is_valid_openapi_31() -> None:
    validator = pytest.importorskip("openapi_spec_validator", reason="needs openapi-spec-validator")
    document = spec()
    assert document["openapi"].startswith("3.1.")
    validator.validate(document)  # raises OpenAPIValidationError with the offending path


def _served_routes(routes: Iterable[Any]) -> Iterator[tuple[str, str]]:
    for route in routes:
        included = getattr(route, "original_router", None)  # an include_router()'d APIRouter
        if included is not None:
            yield from _served_routes(included.routes)
            continue
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path and methods:
            yield from ((path.replace(":path}", "}"), method.lower()) for method in methods)


def test_every_bridge_route_is_documented() -> None:
    """Each (path, method) the bridge serves has an operation in the contract, and vice versa."""
    app = create_app(BridgeConfig(), "127.0.0.1:1")
    served = set(_served_routes(app.routes))
    documented = {(path, method) for path, item in spec()["paths"].items() for method in item}
    assert sorted(served - documented) == [], "routes the contract does not describe"
    assert sorted(documented - served) == [], "operations the bridge does not serve"


def test_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for item in spec()["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


# --- schemathesis against the live bridge ------------------------------------------------------

# A fixed seed keeps CI reproducible; CONTRACT_SEED=<n> explores other cases.
SEED = int(os.environ.get("CONTRACT_SEED", "20261126"))
schema = schemathesis.openapi.from_path(SPEC_PATH, config=schemathesis.Config.from_dict({"seed": SEED}))

_MODEL_PATHS = {"/v1/models/{model}": "model", "/api/v1/models/{name}": "name"}
_EMBED_PATHS = {"/v1/embeddings", "/api/embed", "/api/embeddings", "/api/v1/embed"}


def _models_for(path: str) -> st.SearchStrategy[str]:
    answering = EMBED_MODELS if path in _EMBED_PATHS else CHAT_MODELS
    # Mostly answering models, so generated bodies reach the upstreams and come back.
    return st.one_of(
        st.sampled_from(answering), st.sampled_from(answering + CUE_MODELS + UNKNOWN_MODELS + EMBED_MODELS)
    )


@schema.hook
def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    """A usable model name in place of the generated one (left alone when it is the invalid part)."""
    operation = context.operation
    if operation is None or not isinstance(body, dict):
        return st.just(body)
    keys = [key for key in ("model", "name") if isinstance(body.get(key), str) and body[key].strip()]
    if not keys:
        return st.just(body)
    return _models_for(operation.path).map(lambda name: {**body, **dict.fromkeys(keys, name)})


@schema.hook
def flatmap_path_parameters(context: HookContext, path_parameters: Any) -> st.SearchStrategy[Any]:
    operation = context.operation
    name = _MODEL_PATHS.get(operation.path) if operation is not None else None
    if name is None or not isinstance(path_parameters, dict) or name not in path_parameters:
        return st.just(path_parameters)
    names = st.sampled_from(CHAT_MODELS + EMBED_MODELS + UNKNOWN_MODELS + ("org/model",))
    return st.one_of(st.just(path_parameters), names.map(lambda value: {**path_parameters, name: value}))


def _requested_model(case: Case[Any]) -> str | None:
    body = case.body if isinstance(case.body, dict) else {}
    for value in (body.get("model"), body.get("name"), *(case.path_parameters or {}).values()):
        if isinstance(value, str):
            return value
    return None


def no_unexplained_server_error(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """500 is never right; 501-504 only for the models that fail on cue (or a model-less 4xx path)."""
    status = response.status_code
    if status < 500:
        return None
    model = _requested_model(case)
    assert status != 500, f"500 from the bridge: {response.text[:300]}"
    assert model not in HEALTHY_MODELS, f"{status} for the answering model {model!r}: {response.text[:300]}"
    return None


def ndjson_lines_conform(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every line of an application/x-ndjson body against the documented line schema."""
    if media_type(response.headers.get("content-type", [""])[0]) != "application/x-ndjson":
        return None
    validator = media_validator(
        case.operation.path, case.method, response.status_code, "application/x-ndjson"
    )
    for number, line in enumerate(parse_ndjson(response.content), 1):
        errors = schema_errors(validator, line)
        assert not errors, f"NDJSON line {number} violates the schema: {errors}\n{line}"
    return None


def invalid_data_rejected(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Schemathesis' negative_data_rejection."""
    return negative_data_rejection(ctx, response, case)


CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    invalid_data_rejected,
    missing_required_header,
    no_unexplained_server_error,
    ndjson_lines_conform,
]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_bridge_conforms_to_the_contract(case: Case[Any], bridge: Bridge) -> None:
    case.call_and_validate(base_url=bridge.url, checks=CHECKS, timeout=20)


# --- streams, explicitly -----------------------------------------------------------------------


def _post(bridge: Bridge, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(bridge.url + path, json=body, timeout=20)


def _validate_sse(path: str, response: httpx.Response, chunk_schema: str) -> list[tuple[str, Any]]:
    """Every event (name, data): the documented event shape, and its JSON data against `chunk_schema`
    or the surface's error shape."""
    event_validator = media_validator(path, "post", 200, "text/event-stream")
    payloads: list[tuple[str, Any]] = []
    for event in parse_sse(response.content):
        assert not schema_errors(event_validator, event), event
        if event["data"] == "[DONE]":
            payloads.append((event["event"], "[DONE]"))
            continue
        data = json.loads(event["data"])
        payloads.append((event["event"], data))
        if event["event"] == "error":
            assert not schema_errors(component_validator("Status"), data["error"]), data
        elif "error" in data and len(data) == 1:
            name = "OpenAIErrorResponse" if path.startswith("/v1") else "Status"
            assert not schema_errors(component_validator(name), data), data
        else:
            assert not schema_errors(component_validator(chunk_schema), data), data
    return payloads


@pytest.mark.parametrize(
    ("path", "body", "chunk_schema"),
    [
        (
            "/v1/chat/completions",
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "stream": True},
            "OpenAIChatCompletionChunk",
        ),
        (
            "/v1/chat/completions",
            {
                "model": "tiny",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            "OpenAIChatCompletionChunk",
        ),
        (
            "/v1/completions",
            {"model": "mini", "prompt": "Hi", "stream": True, "stream_options": {"include_usage": True}},
            "OpenAITextCompletionChunk",
        ),
        ("/api/v1/generate", {"model": "llama3.2", "prompt": "Hi", "stream": True}, "NativeStreamChunk"),
    ],
)
def test_sse_streams_conform(bridge: Bridge, path: str, body: dict[str, Any], chunk_schema: str) -> None:
    response = _post(bridge, path, body)
    assert response.status_code == 200, response.text
    assert media_type(response.headers["content-type"]) == "text/event-stream"
    payloads = _validate_sse(path, response, chunk_schema)
    assert len(payloads) >= 3
    assert {name for name, _ in payloads} == {"message"}
    if path.startswith("/v1"):
        assert payloads[-1][1] == "[DONE]"
    else:
        assert "final" in payloads[-1][1]


@pytest.mark.parametrize(
    ("path", "body", "chunk_schema"),
    [
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "Hi"}]},
            "OpenAIChatCompletionChunk",
        ),
        ("/v1/completions", {"prompt": "Hi"}, "OpenAITextCompletionChunk"),
        ("/api/v1/generate", {"prompt": "Hi"}, "NativeStreamChunk"),
    ],
)
def test_sse_stream_failing_midway_ends_with_a_documented_error(
    bridge: Bridge, path: str, body: dict[str, Any], chunk_schema: str
) -> None:
    response = _post(bridge, path, {**body, "model": "cut", "stream": True})
    assert response.status_code == 200, response.text
    payloads = _validate_sse(path, response, chunk_schema)
    if path.startswith("/v1"):
        assert payloads[-1][1] == "[DONE]"
        assert "error" in payloads[-2][1]
    else:
        assert payloads[-1][0] == "error"
        assert payloads[-1][1]["error"]["code"] > 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/chat", {"model": "llama3.2", "messages": [{"role": "user", "content": "Hi"}]}),
        ("/api/chat", {"model": "mini", "messages": [{"role": "user", "content": "Hi"}], "stream": True}),
        ("/api/generate", {"model": "tiny", "prompt": "Hi"}),
        ("/api/chat", {"model": "cut-local", "messages": [{"role": "user", "content": "Hi"}]}),
        ("/api/generate", {"model": "cut", "prompt": "Hi"}),
        ("/api/v1/generate:stream", {"model": "llama3.2", "prompt": "Hi"}),
        ("/api/v1/generate:stream", {"model": "cut", "prompt": "Hi"}),
    ],
)
def test_ndjson_streams_conform(bridge: Bridge, path: str, body: dict[str, Any]) -> None:
    response = _post(bridge, path, body)
    assert response.status_code == 200, response.text
    assert media_type(response.headers["content-type"]) == "application/x-ndjson"
    validator = media_validator(path, "post", 200, "application/x-ndjson")
    lines = parse_ndjson(response.content)
    for line in lines:
        assert not schema_errors(validator, line), (schema_errors(validator, line), line)
    last = lines[-1]
    if body["model"].startswith("cut"):
        assert "error" in last
    else:
        assert last.get("done") is True or "final" in last.get("result", {})


def test_method_not_allowed_names_the_allowed_methods(bridge: Bridge) -> None:
    response = httpx.get(bridge.url + "/v1/chat/completions", timeout=10)
    assert response.status_code == 405
    assert response.headers.get("allow") == "POST"
