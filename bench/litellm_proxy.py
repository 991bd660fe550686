"""Optional comparison (BENCH_LITELLM=1): LiteLLM's proxy against the same nginx upstream.

It is installed into a throwaway virtualenv so it never touches the project's
own; any failure to install or start is a note in the report, not an error.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench import payloads
from bench.procs import cmdline, descendants, free_port, kill_leftovers, stop
from bench.targets import Rest
from bench.upstream import STREAM_PREFIX, UNARY_PREFIX, Upstream

INSTALL_TIMEOUT_S = 1200
START_TIMEOUT_S = 180


@dataclass(frozen=True)
class LiteLLM:
    url: str
    key: str  # the proxy's master key: it refuses to start without one
    process: subprocess.Popen[bytes]

    def pids(self) -> list[int]:
        return descendants(self.process.pid)

    def rest(self) -> Rest:
        chat = self.url + "/v1/chat/completions"
        auth = {"Authorization": f"Bearer {self.key}"}
        return Rest("litellm", "LiteLLM proxy /v1/chat/completions", chat, chat, headers=auth)


def litellm_config(upstream: Upstream, key: str) -> dict[str, object]:
    def entry(name: str, prefix: str) -> dict[str, object]:
        return {
            "model_name": name,
            "litellm_params": {
                "model": f"openai/{payloads.UNARY_MODEL}",
                "api_base": upstream.base_url(prefix),
                "api_key": "sk-bench",
            },
        }

    return {
        "model_list": [
            entry(payloads.UNARY_MODEL, UNARY_PREFIX),
            entry(payloads.STREAM_MODEL, STREAM_PREFIX),
        ],
        "general_settings": {"master_key": key},
    }


def _install(venv: Path, log: Path) -> bool:
    with log.open("ab") as out:
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(venv / "bin/pip"), "install", "--quiet", "litellm[proxy]"],
        ]
        for step in steps:
            try:
                done = subprocess.run(step, stdout=out, stderr=out, timeout=INSTALL_TIMEOUT_S, check=False)
            except subprocess.TimeoutExpired:
                return False
            if done.returncode != 0:
                return False
    return True


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> bool:
    end = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < end:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "/health/liveliness", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


@contextmanager
def run_litellm(upstream: Upstream, workdir: Path, notes: list[str]) -> Iterator[LiteLLM | None]:
    """Yields the running proxy, or None (with a note saying why) when it could not be had."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "litellm.log"
    # BENCH_LITELLM_VENV reuses a virtualenv that already has it (the install takes minutes).
    venv = Path(os.environ.get("BENCH_LITELLM_VENV", "") or workdir / "venv")
    if not (venv / "bin/litellm").exists():
        print(f"bench: installing litellm[proxy] into a throwaway virtualenv ({venv})", file=sys.stderr)
        if not _install(venv, log):
            notes.append("LiteLLM skipped: installing litellm[proxy] failed (see logs/litellm-litellm.log)")
            yield None
            return
    config = workdir / "litellm.yaml"
    key = "sk-bench-" + secrets.token_hex(16)  # made up per run, used on loopback only
    config.write_text(yaml.safe_dump(litellm_config(upstream, key), sort_keys=False))
    port = free_port()
    # No network at start: the bundled model cost map, no telemetry.
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR"}
    command = [
        str(venv / "bin/litellm"),
        *("--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"),
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out, env={**os.environ, **env})
    try:
        url = f"http://127.0.0.1:{port}"
        if _wait_ready(url, process):
            yield LiteLLM(url, key, process)
        else:
            notes.append(f"LiteLLM skipped: the proxy did not become ready in {START_TIMEOUT_S}s")
            yield None
    finally:
        # Its workers too: the proxy may run uvicorn in a child process.
        leftovers = {pid: cmdline(pid) for pid in descendants(process.pid)[1:]}
        stop(process)
        kill_leftovers(leftovers)
