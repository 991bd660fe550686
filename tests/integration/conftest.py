"""Real processes on loopback: the fake upstreams, `model-gateway up` (service + bridge).

Session-scoped: one set of processes serves the whole integration suite.
The fakes pick their behaviour from the requested upstream model name
(fail-429, fail-500, cut-stream, slow-first-byte, ...), so routes below are
named after the behaviour they exercise.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = [sys.executable, "-m", "model_gateway.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port_file(path: Path, process: subprocess.Popen[bytes], timeout: float = 20) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise RuntimeError(f"{process.args!r} did not report its port")


def wait_for_tcp(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Fake:
    url: str  # root URL, e.g. http://127.0.0.1:1234

    def stats(self) -> dict[str, object]:
        import httpx

        body: dict[str, object] = httpx.get(f"{self.url}/_fake/stats", timeout=5).json()
        return body

    def reset(self) -> None:
        import httpx

        httpx.post(f"{self.url}/_fake/reset", timeout=5)


def start_fake(module: str, tmp: Path, args: tuple[str, ...] = ()) -> tuple[Fake, subprocess.Popen[bytes]]:
    port_file = tmp / f"{module}.port"
    process = subprocess.Popen(
        [sys.executable, "-m", f"tests.fakes.{module}", "--port", "0", "--port-file", str(port_file), *args],
        cwd=ROOT,
    )
    port = wait_for_port_file(port_file, process)
    return Fake(f"http://127.0.0.1:{port}"), process


PLANTED_KEY = "sk-planted-secret-0123456789abcdef"


def gateway_config(
    openai_url: str,
    ollama_url: str,
    grpc_port: int,
    bridge_port: int,
    metrics_port: int | None = None,
    extra_models: str = "",
) -> str:
    refused = free_port()  # nothing listens here: a refused connection
    metrics = f"127.0.0.1:{metrics_port}" if metrics_port else ""
    return f"""
server:
  grpc: 127.0.0.1:{grpc_port}
  bridge: 127.0.0.1:{bridge_port}
  metrics: "{metrics}"
  request_timeout_s: 30
  max_body_bytes: 65536
routing:  # these stacks count plain failover attempts: retries and breakers are test_routing*.py's
  retries: 0
  breaker: {{enabled: false}}
providers:
  cloud:   {{kind: openai, base_url: "{openai_url}/v1", api_key: "${{TEST_CLOUD_KEY}}"}}
  local:   {{kind: ollama, base_url: "{ollama_url}"}}
  refused: {{kind: openai, base_url: "http://127.0.0.1:{refused}/v1", connect_timeout_s: 1}}
models:
  - name: gpt-4o-mini
    aliases: [mini]
    deployments: [{{provider: cloud, model: gpt-4o-mini}}]
    pricing: {{input_per_mtok: 0.15, output_per_mtok: 0.60}}
  - name: llama3.2
    aliases: [tiny]
    deployments: [{{provider: local, model: "llama3.2"}}]
    pricing: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}
  - name: embed-local
    deployments: [{{provider: local, model: nomic-embed-text}}]
  - name: embed-cloud
    deployments: [{{provider: cloud, model: text-embedding-3-small}}]
  - name: flaky
    deployments:
      - {{provider: cloud, model: fail-500}}
      - {{provider: refused, model: gpt-4o-mini}}
      - {{provider: local, model: "llama3.2"}}
  - name: limited
    deployments: [{{provider: cloud, model: fail-429}}]
  - name: broken
    deployments: [{{provider: cloud, model: fail-500}}]
  - name: badkey
    deployments: [{{provider: cloud, model: fail-401}}]
  - name: unreachable
    deployments: [{{provider: refused, model: gpt-4o-mini}}]
  - name: with-fallback
    deployments: [{{provider: cloud, model: fail-500}}]
    fallbacks: [llama3.2]
  - name: cut
    deployments: [{{provider: cloud, model: cut-stream}}]
  - name: cut-local
    deployments: [{{provider: local, model: cut-stream}}]
  - name: slow
    deployments: [{{provider: cloud, model: slow-first-byte}}]
  - name: slow-stream
    deployments: [{{provider: cloud, model: slow-stream}}]
  - name: slow-stream-local
    deployments: [{{provider: local, model: slow-stream}}]
  - name: no-usage
    deployments: [{{provider: cloud, model: no-usage}}]
  - name: inband
    deployments: [{{provider: cloud, model: inband-error}}]
  - name: missing-upstream
    deployments: [{{provider: cloud, model: fail-404}}]
{extra_models}"""


@dataclass(frozen=True)
class Gateway:
    grpc_target: str
    bridge_url: str
    openai: Fake
    ollama: Fake
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def run_gateway(
    tmp: Path, log_level: str = "INFO", fake_args: tuple[str, ...] = (), extra_models: str = ""
) -> Iterator[Gateway]:
    """The fakes and `model-gateway up` against them, stopped again on exit.

    `fake_args` go to both fakes (e.g. `--chop`); `extra_models` is YAML appended to `models:`.
    """
    openai_fake, openai_process = start_fake("openai_server", tmp, fake_args)
    ollama_fake, ollama_process = start_fake("ollama_server", tmp, fake_args)
    grpc_port, bridge_port = free_port(), free_port()
    config = tmp / "gateway.yaml"
    config.write_text(
        gateway_config(openai_fake.url, ollama_fake.url, grpc_port, bridge_port, extra_models=extra_models)
    )
    log_path = tmp / "gateway.log"
    env = {**os.environ, "TEST_CLOUD_KEY": PLANTED_KEY, "LOG_LEVEL": log_level}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*GATEWAY, "--config", str(config), "up"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_tcp(grpc_port, process)
        wait_for_tcp(bridge_port, process)
        yield Gateway(
            f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{bridge_port}", openai_fake, ollama_fake, log_path
        )
    finally:
        stop(process)
        stop(openai_process)
        stop(ollama_process)
    # `up` stops both of its processes cleanly on SIGTERM.
    assert process.returncode == 0, gateway_log(log_path)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with run_gateway(tmp_path_factory.mktemp("gateway")) as running:
        yield running


def gateway_log(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:]
