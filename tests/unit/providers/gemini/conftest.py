from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from model_gateway.config import ProviderConfig
from model_gateway.providers.gemini import GeminiProvider
from tests.fakes import gemini_server
from tests.fakes.common import FakeServer
from tests.unit.providers.gemini.support import KEY, Upstream


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, GeminiProvider]]:
    """A scripted upstream on 127.0.0.1 and a GeminiProvider pointed at it."""
    fake = Upstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    provider = GeminiProvider(
        "gem",
        ProviderConfig(kind="gemini", base_url=f"http://127.0.0.1:{server.port}", api_key=SecretStr(KEY)),
    )
    try:
        yield fake, provider
    finally:
        await provider.close()
        await server.close()


@pytest.fixture
async def fake_gemini() -> AsyncIterator[tuple[FakeServer, GeminiProvider]]:
    """The protocol-faithful fake (tests/fakes/gemini_server.py), taking only KEY, and a provider for it."""
    server = await gemini_server.start(api_key=KEY, slow_seconds=1.0)
    provider = GeminiProvider(
        "gem", ProviderConfig(kind="gemini", base_url=server.url, api_key=SecretStr(KEY), timeout_s=5.0)
    )
    try:
        yield server, provider
    finally:
        await provider.close()
        await server.close()
