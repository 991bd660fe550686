from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from model_gateway.config import ProviderConfig
from model_gateway.providers.ollama import OllamaProvider
from tests.unit.providers.ollama.support import FakeOllama


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOllama]:
    """A fake Ollama on 127.0.0.1 serving canned bytes per path."""
    fake = FakeOllama()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    fake.url = str(server.make_url("/")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


@pytest.fixture
async def provider(upstream: FakeOllama) -> AsyncIterator[OllamaProvider]:
    config = ProviderConfig(kind="ollama", base_url=upstream.url, api_key=SecretStr("sk-test"), timeout_s=10)
    ollama = OllamaProvider("local", config)
    try:
        yield ollama
    finally:
        await ollama.close()
