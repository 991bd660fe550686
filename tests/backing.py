"""Backing services the tests start for themselves: a private redis-server, a fresh PostgreSQL database.

Nothing here skips: a test that asks for Redis or PostgreSQL fails loudly
when they cannot be had, so CI never passes by silently testing less.
`make test` installs redis-server when it is missing; PostgreSQL is reached
at $MODEL_GATEWAY_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres,
the machine's server), where each run creates and drops its own database.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POSTGRES_ADMIN_URL = os.environ.get(
    "MODEL_GATEWAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server on a free loopback port, nothing on disk; yields its redis:// URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed (make test installs it: apt-get install redis-server)"
        )
    port = _free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [*command, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        end = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"redis-server did not answer on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _psql(admin_url: str, sql: str) -> None:
    subprocess.run(
        ["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
        check=True,
        capture_output=True,
        timeout=30,
    )


@contextmanager
def postgres_database(admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[str]:
    """A database of its own on the PostgreSQL server, dropped afterwards; yields its URL."""
    if shutil.which("psql") is None:
        raise RuntimeError("psql is not installed: the PostgreSQL tests need a server and its client")
    name = f"mg_test_{uuid.uuid4().hex[:12]}"
    try:
        _psql(admin_url, f'CREATE DATABASE "{name}"')
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"cannot create a test database at {admin_url}: {exc.stderr.decode().strip()}"
        ) from None
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        _psql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
