from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from model_gateway.config import ProviderConfig
from model_gateway.providers.anthropic import AnthropicProvider
from tests.unit.providers.anthropic.support import KEY
from tests.unit.providers.openai.support import Upstream


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, AnthropicProvider]]:
    """A scripted upstream on 127.0.0.1 (routes "METHOD /path" without /v1) and a provider for it."""
    fake = Upstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    config = ProviderConfig(
        kind="anthropic", base_url=f"http://127.0.0.1:{server.port}", api_key=SecretStr(KEY)
    )
    provider = AnthropicProvider("claude", config)
    try:
        yield fake, provider
    finally:
        await provider.close()
        await server.close()
