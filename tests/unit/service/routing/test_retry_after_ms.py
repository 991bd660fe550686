"""`retry-after-ms` (milliseconds) is read into GatewayError.retry_after, winning over `Retry-After`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from model_gateway.config import ProviderConfig
from model_gateway.errors import GatewayError
from model_gateway.providers.http import UpstreamHTTP, parse_retry_after, retry_after_header


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "7"}, 0.25),
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "soon", "Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "-5", "Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_header_prefers_milliseconds(headers: dict[str, str], seconds: float | None) -> None:
    assert parse_retry_after(retry_after_header(headers)) == seconds


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    async def limited(request: web.Request) -> web.Response:
        status = int(request.query.get("status", "429"))
        return web.json_response(
            {"error": {"message": "slow down"}},
            status=status,
            headers={"retry-after-ms": "1250", "Retry-After": "9"},
        )

    app = web.Application()
    app.router.add_post("/v1/x", limited)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}/v1"
    finally:
        await server.close()


@pytest.mark.parametrize("status", [429, 503])
async def test_upstream_retry_after_ms_reaches_the_error(upstream: str, status: int) -> None:
    http = UpstreamHTTP("p", ProviderConfig(kind="openai", base_url=upstream), {})
    try:
        with pytest.raises(GatewayError) as caught:
            await http.request_json("POST", f"/x?status={status}", 5.0, {})
        assert caught.value.retry_after == 1.25
        with pytest.raises(GatewayError) as streamed:
            async with http.open_stream(f"/x?status={status}", 5.0, {}):
                pass
        assert streamed.value.retry_after == 1.25
    finally:
        await http.close()
