"""The backing services the suite starts for itself really answer."""

from __future__ import annotations

import socket
import subprocess


def test_the_private_redis_answers(redis_url: str) -> None:
    host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=2) as sock:
        sock.sendall(b"SET k v\r\nGET k\r\n")
        reply = b""
        while b"v\r\n" not in reply:
            reply += sock.recv(64)
    assert reply.startswith(b"+OK")


def test_the_fresh_postgres_database_is_empty_and_writable(postgres_url: str) -> None:
    run = subprocess.run(
        [
            "psql",
            postgres_url,
            "-tAc",
            "CREATE TABLE t (x int); INSERT INTO t VALUES (1); SELECT count(*) FROM t",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip().splitlines()[-1] == "1"
