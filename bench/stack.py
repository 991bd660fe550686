"""The gateway under test: `model-gateway --config X up --topology T`, exactly as `make run` starts it,
with the production features on.

The config requires a key (a static one, sent by every load tool), keeps
in-memory limits on the key and the whole gateway set far above what the
run can reach (so every call is admitted, and every call pays for the
check), writes every call to the SQLite usage ledger, serves metrics, and
traces through an OTLP/HTTP exporter (to the nginx upstream, which answers
200 and drops the spans) sampled at 1 % (`parentbased_traceidratio`, 0.01).
The response cache is on (in memory, its default): the ordinary scenarios
send non-deterministic requests (the cache's bypass path); the cache-hit
scenario sends `temperature: 0`.

`up --workers N`: in the in-process topology each worker is one process
serving both ports (the benchmark runs one per core, as `up --workers
$(nproc)` would); in the sidecar topology each worker is a `serve` process
and a bridge process over a unix socket (one worker: two processes for two
cores). Their pids are found by their command lines, under `up`; a role's
CPU and memory are its processes' sum.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench import payloads
from bench.procs import children, cmdline, free_port, kill_leftovers, stop, wait_for_tcp
from bench.upstream import OTLP_PATH, STREAM_PREFIX, UNARY_PREFIX, Upstream

BENCH_KEY = "sk-bench-static-key-0123456789abcdef"  # made up, loopback only: the key the config requires
AUTH = {"Authorization": f"Bearer {BENCH_KEY}"}
HIGH = 1_000_000_000  # limits no run comes near: checked on every call, never refusing
SAMPLER = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"}
# process role -> the word its command line carries
ROLES = {"inprocess": {"worker": " worker"}, "sidecar": {"serve": " serve", "bridge": "model_gateway_bridge"}}


@dataclass(frozen=True)
class Stack:
    topology: str
    process: subprocess.Popen[bytes]
    grpc_port: int
    bridge_port: int
    pids: dict[str, list[int]] = field(default_factory=dict)  # role (worker | serve | bridge) -> pids

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def bridge_url(self) -> str:
        return f"http://127.0.0.1:{self.bridge_port}"


def gateway_config(
    upstream: Upstream, grpc_port: int, bridge_port: int, metrics_port: int, workdir: Path
) -> dict[str, object]:
    """Two providers on one nginx (JSON and SSE prefixes), and the production features on."""
    pricing = {"input_per_mtok": 0.15, "output_per_mtok": 0.6}  # so every call is priced and costed
    return {
        "server": {
            "grpc": f"127.0.0.1:{grpc_port}",
            "bridge": f"127.0.0.1:{bridge_port}",
            "metrics": f"127.0.0.1:{metrics_port}",
        },
        "providers": {
            "bench-unary": {"kind": "openai", "base_url": upstream.base_url(UNARY_PREFIX)},
            "bench-stream": {"kind": "openai", "base_url": upstream.base_url(STREAM_PREFIX)},
        },
        "models": [
            {
                "name": payloads.UNARY_MODEL,
                "deployments": [{"provider": "bench-unary", "model": payloads.UNARY_MODEL}],
                "pricing": pricing,
            },
            {
                "name": payloads.STREAM_MODEL,
                "deployments": [{"provider": "bench-stream", "model": payloads.UNARY_MODEL}],
                "pricing": pricing,
            },
        ],
        "storage": {"database": f"sqlite:///{workdir / 'ledger.db'}"},
        "auth": {"keys": [{"name": "bench", "key": BENCH_KEY, "rpm": HIGH, "tpm": HIGH}]},
        "limits": {"gateway": {"rpm": HIGH, "tpm": HIGH}},
        "cache": {"enabled": True},
        "usage": {"flush_interval_s": 1},
        "telemetry": {"otlp_endpoint": upstream.base_url(OTLP_PATH), "otlp_protocol": "http/protobuf"},
    }


def _gateway_command() -> str:
    # The console script next to this interpreter: the project's own venv.
    local = Path(sys.executable).parent / "model-gateway"
    return str(local) if local.exists() else "model-gateway"


def _find_children(
    parent: int, word: str, count: int, process: subprocess.Popen[bytes], timeout: float
) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"model-gateway up exited with code {process.returncode}")
        found = [pid for pid in children(parent) if word in " ".join(cmdline(pid))]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise RuntimeError(
        f"model-gateway up started no {count} '{word.strip()}' processes within {timeout:.0f}s"
    )


@contextmanager
def run_stack(upstream: Upstream, workdir: Path, topology: str, workers: int = 1) -> Iterator[Stack]:
    workdir.mkdir(parents=True, exist_ok=True)
    grpc_port, bridge_port, metrics_port = free_port(), free_port(), free_port()
    config = workdir / "gateway.yaml"
    settings = gateway_config(upstream, grpc_port, bridge_port, metrics_port, workdir)
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    log = (workdir / "gateway.log").open("wb")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OTEL_") and k not in ("MODEL_GATEWAY_GRPC", "MODEL_GATEWAY_BRIDGE")
    }
    env |= SAMPLER  # and LOG_LEVEL as the environment says (INFO: an access log line per request)
    command = [_gateway_command(), "--config", str(config), "up", "--topology", topology]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
    leftovers: dict[int, list[str]] = {}
    pids: dict[str, list[int]] = {}
    try:
        try:
            for role, word in ROLES[topology].items():
                pids[role] = _find_children(process.pid, word, workers, process, timeout=60)
                leftovers.update((pid, cmdline(pid)) for pid in pids[role])
            wait_for_tcp(grpc_port, process, f"model-gateway up ({topology}) gRPC", timeout=60)
            wait_for_tcp(bridge_port, process, f"model-gateway up ({topology}) REST", timeout=60)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; see {workdir / 'gateway.log'}") from None
        yield Stack(topology, process, grpc_port, bridge_port, pids)
    finally:
        stop(process, grace=30)
        kill_leftovers(leftovers)
        log.close()
