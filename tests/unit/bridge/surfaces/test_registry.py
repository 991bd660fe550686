"""Which surface a request belongs to: resolved once from its path (and a claiming header),
stored in its scope, read from there by the error handlers, the access log and the gRPC call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from model_gateway_bridge.surfaces.registry import SCOPE_KEY, SURFACES, SurfaceRegistry
from tests.unit.bridge.scripted import ScriptedGateway

NATIVE, ANTHROPIC, SIMPLE, OPENAI, OLLAMA = SURFACES
# The registry without the Anthropic surface: nothing claims /v1/models by header.
WITHOUT_ANTHROPIC = SurfaceRegistry(NATIVE, OPENAI, OLLAMA)

# (path, with Anthropic's header, the surface)
TODAY: list[tuple[str, bool, str]] = [
    ("/v1/chat/completions", False, "openai"),
    ("/v1/chat", False, "simple"),  # the simple shape; "/v1/chat/" stays OpenAI's
    ("/v1/responses", False, "openai"),
    ("/v1/models/llama3.2", False, "openai"),
    ("/v1", False, "openai"),
    ("/api/v1/models/x", False, "native"),
    ("/api/v1/generate:stream", False, "native"),
    ("/api/chat", False, "ollama"),
    ("/", False, "ollama"),
    ("/whatever", False, "ollama"),  # a 404 is answered in Ollama's shape, as Ollama's server would
    ("/v1/models", True, "anthropic"),  # Anthropic's version header claims /v1/models
]
WITH_ANTHROPIC_CASES: list[tuple[str, bool, str]] = [
    ("/v1/messages", False, "anthropic"),
    ("/v1/messages/count_tokens", True, "anthropic"),
    ("/v1/models", False, "openai"),
    ("/v1/models", True, "anthropic"),
    ("/v1/models/claude-haiku", True, "anthropic"),
    ("/v1/chat/completions", True, "openai"),  # the header claims only the paths it names
    ("/api/v1/models", True, "native"),
]


def headers(claude: bool) -> list[tuple[bytes, bytes]]:
    accept = (b"accept", b"*/*")
    return [accept, (b"anthropic-version", b"2023-06-01")] if claude else [accept]


@pytest.mark.parametrize(("path", "claude", "name"), TODAY)
def test_resolution(path: str, claude: bool, name: str) -> None:
    assert SURFACES.resolve(path, headers(claude)).name == name


@pytest.mark.parametrize(("path", "claude", "name"), WITH_ANTHROPIC_CASES)
def test_resolution_with_a_surface_that_claims_by_header(path: str, claude: bool, name: str) -> None:
    assert SURFACES.resolve(path, headers(claude)).name == name


def test_without_a_claiming_surface_the_header_changes_nothing() -> None:
    assert WITHOUT_ANTHROPIC.resolve("/v1/models", headers(True)).name == "openai"


def test_resolved_once_and_kept_in_the_scope() -> None:
    scope: dict[str, Any] = {"type": "http", "path": "/v1/models", "headers": []}
    surface = SURFACES.of(scope)
    assert scope[SCOPE_KEY] is surface and surface.name == "openai"
    scope["path"] = "/api/chat"  # what is in the scope wins: nothing resolves a request twice
    assert SURFACES.of(scope) is surface


def test_the_surfaces_mount_in_registration_order_and_one_takes_the_rest() -> None:
    assert [s.name for s in SURFACES] == ["native", "anthropic", "simple", "openai", "ollama"]
    with pytest.raises(ValueError, match="prefix '/'"):
        SurfaceRegistry(NATIVE, OPENAI)


@pytest.mark.parametrize(
    ("path", "surface"),
    [
        ("/v1/models", "openai"),
        ("/api/tags", "ollama"),
        ("/api/v1/models", "native"),
        ("/api/v1/health", "native"),
    ],
)
async def test_the_gateway_is_told_the_resolved_surface(
    raw: httpx.AsyncClient, servicer: ScriptedGateway, path: str, surface: str
) -> None:
    assert (await raw.get(path)).status_code == 200
    assert servicer.surfaces == [surface]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/nope",
            {
                "error": {
                    "message": "no route for GET /v1/nope",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
        ),
        ("/api/v1/nope", {"code": 5, "message": "no route for GET /api/v1/nope", "details": []}),
        ("/nope", {"error": "no route for GET /nope"}),
    ],
)
async def test_errors_are_rendered_by_the_resolved_surface(
    raw: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    reply = await raw.get(path)
    assert (reply.status_code, reply.json()) == (404, body)
