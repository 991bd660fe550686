"""The bridge's view of the shared config file: `server` and `telemetry`, nothing else.

Other sections (providers, models, policy) belong to the gateway and are
neither read nor interpolated here, so the bridge starts without any
provider's API key in its environment. Unknown keys are ignored for the same
reason: the service validates the whole file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from model_gateway_common.client_limits import ClientLimits
from model_gateway_common.config_file import parse_yaml, read_config_text, validate
from model_gateway_common.cors import CORSConfig
from model_gateway_common.tls import GrpcClientTLS, TLSConfig
from model_gateway_common.tracing import TelemetryConfig


class BridgeServerConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    grpc: str = "127.0.0.1:50051"
    bridge: str = "127.0.0.1:8080"
    max_message_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    request_timeout_s: float = Field(default=600.0, gt=0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    tls: TLSConfig | None = None  # HTTPS on the REST port; SIGHUP reloads the files
    grpc_tls: GrpcClientTLS | None = None  # TLS (and a client certificate) to a service on another host
    cors: CORSConfig | None = None  # off: no browser origin may read replies
    clients: ClientLimits = Field(default_factory=ClientLimits)


class BridgeConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    server: BridgeServerConfig = Field(default_factory=BridgeServerConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)


SECTIONS = ("server", "telemetry")


def parse_bridge_config(
    text: str, source: str = "<config>", env: dict[str, str] | None = None
) -> BridgeConfig:
    return validate(BridgeConfig, parse_yaml(text, source), source, env, sections=SECTIONS)


def load_bridge_config(path: Path) -> BridgeConfig:
    return parse_bridge_config(read_config_text(path), str(path))
