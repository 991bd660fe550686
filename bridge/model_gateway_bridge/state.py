"""What every surface handler needs: the gRPC client and the bridge's limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from model_gateway_bridge.bodies import read_json
from model_gateway_bridge.client import CallContext, GatewayClient


@dataclass(frozen=True, slots=True)
class BridgeState:
    client: GatewayClient
    max_body_bytes: int
    request_timeout_s: float

    def context(self, request: Request) -> CallContext:
        return CallContext.of(request, self.request_timeout_s)

    async def json_body(self, request: Request, require_json_type: bool = True) -> dict[str, Any]:
        return await read_json(request, self.max_body_bytes, require_json_type)


def state_of(request: Request) -> BridgeState:
    state: BridgeState = request.app.state.bridge
    return state
