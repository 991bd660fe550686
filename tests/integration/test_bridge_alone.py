"""The bridge is its own program: it starts from the shared config without any provider's key,
imports nothing of the service, and `model-gateway bridge` hands over to it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from model_gateway_bridge.config import parse_bridge_config
from tests.integration.conftest import ROOT, free_port, stop, wait_for_tcp

CONFIG = """
server: {{grpc: "127.0.0.1:{grpc}", bridge: "127.0.0.1:{bridge}", request_timeout_s: 2}}
providers:
  cloud: {{kind: openai, api_key: "${{UNSET_CLOUD_KEY_FOR_TEST}}"}}
models:
  - {{name: m, deployments: [{{provider: cloud, model: x}}]}}
routing: {{strategy: whatever-a-later-version-adds}}
"""


def test_the_bridge_config_reads_only_its_sections() -> None:
    config = parse_bridge_config(CONFIG.format(grpc=1, bridge=2), env={})
    assert config.server.bridge == "127.0.0.1:2" and config.server.request_timeout_s == 2


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "UNSET_CLOUD_KEY_FOR_TEST"}
    return {**env, "LOG_FORMAT": "json"}


def _answers_without_the_service(bridge_port: int) -> None:
    # Nothing serves gRPC: the bridge is up, and says the gateway is unavailable in its own dialect.
    reply = httpx.get(f"http://127.0.0.1:{bridge_port}/v1/models", timeout=10)
    assert reply.status_code == 503 and reply.json()["error"]["message"]


def test_the_bridge_starts_without_provider_keys(tmp_path: Path) -> None:
    bridge = free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(CONFIG.format(grpc=free_port(), bridge=bridge))
    command = [sys.executable, "-m", "model_gateway_bridge", "--config", str(config)]
    process = subprocess.Popen(command, cwd=ROOT, env=_env())
    try:
        wait_for_tcp(bridge, process)
        _answers_without_the_service(bridge)
        modules = subprocess.run(
            [
                sys.executable,
                "-c",
                "import model_gateway_bridge.app, sys; print('model_gateway' in sys.modules)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert modules.stdout.strip() == "False"  # the service package is never loaded
    finally:
        stop(process)


def test_model_gateway_bridge_hands_over_to_the_bridge_program(tmp_path: Path) -> None:
    bridge = free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(CONFIG.format(grpc=free_port(), bridge=bridge))
    command = [sys.executable, "-m", "model_gateway.cli", "--config", str(config), "bridge"]
    process = subprocess.Popen(command, cwd=ROOT, env=_env())
    try:
        wait_for_tcp(bridge, process)
        _answers_without_the_service(bridge)
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert b"model_gateway_bridge" in cmdline  # the same process, now the bridge
    finally:
        stop(process)
