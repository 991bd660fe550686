"""The gateway under test: `model-gateway --config X up`, exactly as `make run` starts it.

`up` runs the gRPC service (on server.grpc plus a private unix socket) and
then the bridge over that socket; both are children of `up`, found by their
command lines so their CPU and memory can be read from /proc.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench import payloads
from bench.procs import children, cmdline, free_port, kill_leftovers, stop, wait_for_tcp
from bench.upstream import STREAM_PREFIX, UNARY_PREFIX, Upstream


@dataclass(frozen=True)
class Stack:
    process: subprocess.Popen[bytes]
    grpc_port: int
    bridge_port: int
    serve_pid: int
    bridge_pid: int

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def bridge_url(self) -> str:
        return f"http://127.0.0.1:{self.bridge_port}"


def gateway_config(upstream: Upstream, grpc_port: int, bridge_port: int) -> dict[str, object]:
    """Two providers on one nginx (JSON and SSE prefixes); every other setting at its default."""
    return {
        "server": {"grpc": f"127.0.0.1:{grpc_port}", "bridge": f"127.0.0.1:{bridge_port}"},
        "providers": {
            "bench-unary": {"kind": "openai", "base_url": upstream.base_url(UNARY_PREFIX)},
            "bench-stream": {"kind": "openai", "base_url": upstream.base_url(STREAM_PREFIX)},
        },
        "models": [
            {
                "name": payloads.UNARY_MODEL,
                "deployments": [{"provider": "bench-unary", "model": payloads.UNARY_MODEL}],
            },
            {
                "name": payloads.STREAM_MODEL,
                "deployments": [{"provider": "bench-stream", "model": payloads.UNARY_MODEL}],
            },
        ],
    }


def _gateway_command() -> str:
    # The console script next to this interpreter: the project's own venv.
    local = Path(sys.executable).parent / "model-gateway"
    return str(local) if local.exists() else "model-gateway"


def _find_child(parent: int, word: str, process: subprocess.Popen[bytes], timeout: float) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"model-gateway up exited with code {process.returncode}")
        for pid in children(parent):
            if word in cmdline(pid):
                return pid
        time.sleep(0.05)
    raise RuntimeError(f"model-gateway up started no '{word}' process within {timeout:.0f}s")


@contextmanager
def run_stack(upstream: Upstream, workdir: Path) -> Iterator[Stack]:
    workdir.mkdir(parents=True, exist_ok=True)
    grpc_port, bridge_port = free_port(), free_port()
    config = workdir / "gateway.yaml"
    config.write_text(yaml.safe_dump(gateway_config(upstream, grpc_port, bridge_port), sort_keys=False))
    log = (workdir / "gateway.log").open("wb")
    env = {k: v for k, v in os.environ.items() if k not in ("MODEL_GATEWAY_GRPC", "MODEL_GATEWAY_BRIDGE")}
    process = subprocess.Popen(
        [_gateway_command(), "--config", str(config), "up"], stdout=log, stderr=log, env=env
    )
    leftovers: dict[int, list[str]] = {}
    try:
        try:
            serve_pid = _find_child(process.pid, "serve", process, timeout=30)
            leftovers[serve_pid] = cmdline(serve_pid)
            wait_for_tcp(grpc_port, process, "model-gateway serve", timeout=60)
            bridge_pid = _find_child(process.pid, "model_gateway_bridge", process, timeout=60)
            leftovers[bridge_pid] = cmdline(bridge_pid)
            wait_for_tcp(bridge_port, process, "model-gateway bridge", timeout=60)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; see {workdir / 'gateway.log'}") from None
        yield Stack(process, grpc_port, bridge_port, serve_pid, bridge_pid)
    finally:
        stop(process, grace=30)
        kill_leftovers(leftovers)
        log.close()
