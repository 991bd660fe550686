"""What every surface handler needs: the gRPC client, the surfaces and the bridge's limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from model_gateway_bridge.bodies import read_json
from model_gateway_bridge.client import CallContext, GatewayClient

if TYPE_CHECKING:
    from model_gateway_bridge.surfaces.registry import SurfaceRegistry


@dataclass(frozen=True, slots=True)
class BridgeState:
    client: GatewayClient
    surfaces: SurfaceRegistry
    max_body_bytes: int
    request_timeout_s: float
    body_timeout_s: float | None = None  # server.clients.body_timeout_s: a trickled body gets 408

    def context(self, request: Request) -> CallContext:
        surface = self.surfaces.of(request.scope).name
        return CallContext.of(request, self.request_timeout_s, surface)

    async def json_body(self, request: Request, require_json_type: bool = True) -> dict[str, Any]:
        return await read_json(request, self.max_body_bytes, require_json_type, self.body_timeout_s)


def state_of(request: Request) -> BridgeState:
    state: BridgeState = request.app.state.bridge
    return state
