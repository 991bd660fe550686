"""The mock upstream: nginx answering fixed OpenAI JSON and SSE bodies from memory.

nginx cannot cheaply look inside a POST body, so the JSON reply and the SSE
stream live under two prefixes (/unary/v1 and /stream/v1) and the gateway gets
one provider per prefix. `return 200 '...'` serves from memory: no file reads,
no permissions for the worker user to get wrong.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import payloads
from bench.procs import descendants, free_port, stop, wait_for_tcp

UNARY_PREFIX = "/unary/v1"
STREAM_PREFIX = "/stream/v1"
CHAT = "/chat/completions"
OTLP_PATH = "/otlp"  # the gateway's OTLP/HTTP trace exporter posts to OTLP_PATH/v1/traces: 200, dropped


@dataclass(frozen=True)
class Upstream:
    port: int
    process: subprocess.Popen[bytes]

    def base_url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.port}{prefix}"

    @property
    def unary_url(self) -> str:
        return self.base_url(UNARY_PREFIX) + CHAT

    @property
    def stream_url(self) -> str:
        return self.base_url(STREAM_PREFIX) + CHAT

    def pids(self) -> list[int]:
        return descendants(self.process.pid)  # master and its worker


def _quote(text: str) -> str:
    """An nginx single-quoted string; `$` would start a variable, so none may appear."""
    if "$" in text:
        raise ValueError("nginx return text must not contain '$'")
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


def nginx_conf(workdir: Path, port: int) -> str:
    temp = workdir / "tmp"
    return f"""
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = {UNARY_PREFIX}{CHAT} {{
            default_type application/json;
            return 200 {_quote(payloads.upstream_completion())};
        }}
        location = {STREAM_PREFIX}{CHAT} {{
            default_type text/event-stream;
            return 200 {_quote(payloads.upstream_stream())};
        }}
        location = {OTLP_PATH}/v1/traces {{
            default_type application/x-protobuf;
            return 200 '';
        }}
        location / {{
            default_type application/json;
            return 404 '{{"error":{{"message":"not found","type":"invalid_request_error"}}}}';
        }}
    }}
}}
"""


@contextmanager
def run_upstream(nginx: str, workdir: Path) -> Iterator[Upstream]:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_conf(workdir, port))
    log = (workdir / "stderr.log").open("wb")
    command = [nginx, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")]
    process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=log, stderr=log)
    try:
        wait_for_tcp(port, process, "nginx")
        yield Upstream(port, process)
    finally:
        stop(process)
        log.close()
