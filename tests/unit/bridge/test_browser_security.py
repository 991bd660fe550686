"""What browsers are told: CORS off by default, preflights answered for listed origins only,
no credentials with a wildcard, security headers on every reply; a trickled body is a 408."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request

from model_gateway_bridge.app import create_app
from model_gateway_bridge.bodies import read_json
from model_gateway_bridge.config import parse_bridge_config
from model_gateway_bridge.errors import BridgeError
from model_gateway_common.config_file import ConfigError
from tests.unit.bridge.scripted import ScriptedGateway

ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "origin": ORIGIN,
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type",
}
BODY = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
async def cors_app(scripted: tuple[ScriptedGateway, str]) -> AsyncIterator[FastAPI]:
    config = parse_bridge_config(f"server:\n  cors: {{allow_origins: ['{ORIGIN}'], max_age: 300}}\n")
    application = create_app(config, scripted[1])
    yield application
    await application.state.bridge.client.close()


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url="http://bridge.test", transport=httpx.ASGITransport(app=app))


async def test_cors_is_off_by_default(raw: httpx.AsyncClient, servicer: ScriptedGateway) -> None:
    preflight = await raw.options("/v1/chat/completions", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers
    reply = await raw.post("/v1/chat/completions", json=BODY, headers={"origin": ORIGIN})
    assert reply.status_code == 200
    assert "access-control-allow-origin" not in reply.headers  # a page elsewhere cannot read it


async def test_a_listed_origin_gets_its_preflight_answered_without_credentials(
    cors_app: FastAPI, servicer: ScriptedGateway
) -> None:
    async with client_of(cors_app) as client:
        preflight = await client.options("/v1/chat/completions", headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert preflight.headers["access-control-max-age"] == "300"
        assert "access-control-allow-credentials" not in preflight.headers
        reply = await client.post("/v1/chat/completions", json=BODY, headers={"origin": ORIGIN})
        assert reply.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in reply.headers["access-control-expose-headers"].lower()

        other = {**PREFLIGHT, "origin": "https://evil.example"}
        refused = await client.options("/v1/chat/completions", headers=other)
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
        reply = await client.post(
            "/v1/chat/completions", json=BODY, headers={"origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in reply.headers


@pytest.mark.parametrize(
    ("cors", "says"),
    [
        ("{allow_origins: ['*'], allow_credentials: true}", "cannot go with a '*'"),
        ("{allow_origins: ['app.example.com']}", "is not an origin"),
        ("{allow_origins: ['https://app.example.com/']}", "must not end with '/'"),
    ],
)
def test_unsafe_cors_settings_are_refused_at_start(cors: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_bridge_config(f"server:\n  cors: {cors}\n")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/models"), ("POST", "/v1/chat/completions"), ("GET", "/nowhere"), ("GET", "/metrics")],
)
async def test_every_reply_carries_the_security_headers(
    raw: httpx.AsyncClient, servicer: ScriptedGateway, method: str, path: str
) -> None:
    reply = await raw.request(method, path, json=BODY if method == "POST" else None)
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in reply.headers  # plain HTTP: HSTS would be a lie


async def test_a_body_that_stops_arriving_is_a_408() -> None:
    async def receive() -> dict[str, object]:
        await asyncio.sleep(30)  # the client sent its head, then nothing
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "POST", "headers": [(b"content-type", b"application/json")]}
    with pytest.raises(BridgeError) as raised:
        await read_json(Request(scope, receive), 1024, timeout_s=0.2)
    assert raised.value.status == 408 and "within 0.2 s" in raised.value.message
