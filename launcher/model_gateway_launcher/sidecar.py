"""The sidecar topology: per worker, a `serve` process and a bridge process over a unix socket.

N service processes, then N bridges, each bridge on its own service's
private unix socket. Every process binds its public port with SO_REUSEPORT,
so the kernel spreads connections over the workers. A signal stops them
all, and whichever child ends first ends the others.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from model_gateway.config import GatewayConfig

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


def clean_exit(codes: list[int]) -> int:
    """uvicorn re-raises the signal it stopped on: dying by our SIGTERM or SIGINT is a clean stop."""
    return max((0 if code in (-signal.SIGTERM, -signal.SIGINT) else code for code in codes), default=0)


def run_sidecar(config: GatewayConfig, config_file: Path, workers: int) -> int:
    path = str(config_file)
    socket_dir = tempfile.mkdtemp(prefix="model-gateway-")
    sockets = [f"unix://{socket_dir}/grpc-{i}.sock" for i in range(workers)]
    base = [*SERVE, "--config", path]
    services = [
        subprocess.Popen([*base, "serve", "--listen", config.server.grpc, "--listen", socket])
        for socket in sockets
    ]
    children = list(services)
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        for socket, service in zip(sockets, services, strict=True):
            wait_for_grpc(socket, service, timeout=30)
            if not stopping:
                children.append(subprocess.Popen([*BRIDGE, "--config", path, "--grpc-target", socket]))
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.2)
        forward(signal.SIGTERM, None)
        return clean_exit([c.wait() for c in children])
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
        for leftover in Path(socket_dir).iterdir():
            leftover.unlink(missing_ok=True)
        Path(socket_dir).rmdir()
