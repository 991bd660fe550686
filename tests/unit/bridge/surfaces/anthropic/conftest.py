"""The whole bridge in-process against the scripted gateway, with the Anthropic surface's extras."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from grpc import aio

from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.unit.bridge.surfaces.anthropic.scripted import AnthropicScripted


@pytest.fixture(scope="module")
async def scripted() -> AsyncIterator[tuple[AnthropicScripted, str]]:
    servicer = AnthropicScripted()  # type: ignore[abstract]
    server = aio.server()
    pb_grpc.add_ModelGatewayServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, f"127.0.0.1:{port}"
    await server.stop(None)


@pytest.fixture
def servicer(scripted: tuple[AnthropicScripted, str]) -> Iterator[AnthropicScripted]:
    scripted[0].clear()
    yield scripted[0]
