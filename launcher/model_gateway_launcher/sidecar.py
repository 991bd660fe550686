"""The sidecar topology: per worker, a `serve` process and a bridge process over a private unix socket.

N service processes, then N bridges, each bridge on its own service's
socket. Every process binds its public port with SO_REUSEPORT, so the kernel
spreads connections over the workers. A signal stops them all: the bridges
first, draining their REST requests while the services still answer, then
the services.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from model_gateway.config import GatewayConfig
from model_gateway_launcher.supervise import Generation, clean_exit

SERVE = [sys.executable, "-m", "model_gateway.cli"]
BRIDGE = [sys.executable, "-m", "model_gateway_bridge"]  # its own program, as `model-gateway bridge` runs it


def wait_for_grpc(target: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the service on `target` reports SERVING (grpc.health.v1), or SystemExit."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    end = time.monotonic() + timeout
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < end:
            if process.poll() is not None:
                raise SystemExit(f"model-gateway: the gRPC service exited with code {process.returncode}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise SystemExit(f"model-gateway: the gRPC service did not answer on {target} within {timeout:.0f}s")


def run_sidecar(config: GatewayConfig, config_file: Path, workers: int, generation: Generation) -> int:
    path = str(config_file)
    socket_dir = tempfile.mkdtemp(prefix="model-gateway-")
    sockets = [f"unix://{socket_dir}/grpc-{i}.sock" for i in range(workers)]
    base = [*SERVE, "--config", path]
    services = [
        generation.start([*base, "serve", "--listen", config.server.grpc, "--listen", socket], False)
        for socket in sockets
    ]
    bridges: list[subprocess.Popen[bytes]] = []
    generation.handle_signals()  # before any bridge: a signal stops the services (none to drain yet)
    try:
        for socket, service in zip(sockets, services, strict=True):
            wait_for_grpc(socket, service, timeout=30)
            if not generation.stopping:
                bridges.append(generation.start([*BRIDGE, "--config", path, "--grpc-target", socket]))
        generation.wait_any()
        # Bridges first: their in-flight REST calls still reach a serving service.
        codes = generation.stop(bridges)
        codes += generation.stop(services)
        return clean_exit(codes)
    finally:
        generation.close()
        for leftover in Path(socket_dir).iterdir():
            leftover.unlink(missing_ok=True)
        Path(socket_dir).rmdir()
