from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from model_gateway.config import ProviderConfig
from model_gateway.providers.openai import OpenAIProvider
from tests.unit.providers.openai.support import KEY, Upstream


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, OpenAIProvider]]:
    """A scripted upstream on 127.0.0.1 and an OpenAIProvider pointed at its /v1."""
    fake = Upstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    base_url = f"http://127.0.0.1:{server.port}/v1"
    config = ProviderConfig(kind="openai", base_url=base_url, api_key=SecretStr(KEY))
    provider = OpenAIProvider("fake", config)
    try:
        yield fake, provider
    finally:
        await provider.close()
        await server.close()
