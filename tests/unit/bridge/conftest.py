"""Fixtures for driving the whole bridge app in-process against the scripted gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from grpc import aio

from model_gateway_bridge.app import create_app
from model_gateway_bridge.config import BridgeConfig
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.unit.bridge.scripted import ScriptedGateway


@pytest.fixture(scope="module")
async def scripted() -> AsyncIterator[tuple[ScriptedGateway, str]]:
    servicer = ScriptedGateway()  # type: ignore[abstract]  # the RPCs it leaves out answer UNIMPLEMENTED
    server = aio.server()
    pb_grpc.add_ModelGatewayServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, f"127.0.0.1:{port}"
    await server.stop(None)


@pytest.fixture(scope="module")
async def app(scripted: tuple[ScriptedGateway, str]) -> AsyncIterator[FastAPI]:
    """The bridge as `model-gateway up` builds it: every surface, the access log, the error handlers."""
    application = create_app(BridgeConfig(), scripted[1])
    yield application
    await application.state.bridge.client.close()  # the ASGI transport runs no lifespan


@pytest.fixture
def servicer(scripted: tuple[ScriptedGateway, str]) -> Iterator[ScriptedGateway]:
    scripted[0].clear()
    yield scripted[0]


@pytest.fixture
def raw(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url="http://bridge.test", transport=httpx.ASGITransport(app=app))
