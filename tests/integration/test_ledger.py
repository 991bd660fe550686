"""The usage ledger with real processes: `model-gateway serve` on SQLite and PostgreSQL, a fake Ollama.

Rows equal calls made (unary, streamed, failed, cancelled by the client, cut
by the shutdown); a SIGTERM loses nothing (the writer drains after the
server); a kill -9 loses at most the calls of the last flush window, measured
here and printed.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from model_gateway.storage.database import open_database
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.integration.conftest import GATEWAY, ROOT, Fake, free_port, start_fake, stop, wait_for_tcp
from tests.integration.test_grpc_service import chat


@pytest.fixture(scope="module")
def ollama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    fake, process = start_fake("ollama_server", tmp_path_factory.mktemp("ollama"))
    try:
        yield fake.url
    finally:
        stop(process)


@contextmanager
def serving(tmp: Path, ollama_url: str, database: str, flush_s: float) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    config = tmp / "gateway.yaml"
    config.write_text(
        f"""
server: {{grpc: "127.0.0.1:{port}", shutdown_grace_s: 3}}
providers: {{local: {{kind: ollama, base_url: "{ollama_url}"}}}}
models:
  - name: llama3.2
    deployments: [{{provider: local, model: llama3.2}}]
    pricing: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}
  - {{name: slow, deployments: [{{provider: local, model: slow-first-byte}}]}}
  - {{name: slow-stream, deployments: [{{provider: local, model: slow-stream}}]}}
storage: {{database: "{database}"}}
usage: {{flush_interval_s: {flush_s}}}
"""
    )
    log = (tmp / "serve.log").open("wb")
    process = subprocess.Popen(
        [*GATEWAY, "--config", str(config), "serve"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_tcp(port, process)
        process.target = f"127.0.0.1:{port}"  # type: ignore[attr-defined]
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def ledger_rows(database: str) -> dict[str, tuple[str, str, int, float]]:
    """request id -> (rpc, status, output tokens, cost) of every row in the ledger."""

    async def read() -> list[tuple[object, ...]]:
        db = await open_database(database)
        try:
            return await db.fetch("SELECT request_id, rpc, status, output_tokens, cost_usd FROM usage_ledger")
        finally:
            await db.close()

    rows = asyncio.run(read())
    return {str(r[0]): (str(r[1]), str(r[2]), int(r[3]), float(r[4])) for r in rows}  # type: ignore[arg-type]


def rid(value: str) -> tuple[tuple[str, str]]:
    return (("x-request-id", value),)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_sigterm_loses_nothing_and_rows_equal_calls(tmp_path: Path, ollama: str, database: str) -> None:
    run = f"{time.time_ns()}"  # the PostgreSQL database is shared by the session: this run's ids only
    with serving(tmp_path, ollama, database, flush_s=30) as process:  # no timed flush: all rides on SIGTERM
        with grpc.insecure_channel(process.target) as channel:  # type: ignore[attr-defined]
            stub = pb_grpc.ModelGatewayStub(channel)
            for i in range(5):
                stub.Generate(chat("llama3.2"), metadata=rid(f"{run}-unary-{i}"), timeout=10)
            for i in range(3):
                list(stub.StreamGenerate(chat("llama3.2"), metadata=rid(f"{run}-stream-{i}"), timeout=10))
            with pytest.raises(grpc.RpcError):
                stub.Generate(chat("no-such-model"), metadata=rid(f"{run}-failed"), timeout=10)
            # The client goes away mid-stream.
            left = stub.StreamGenerate(chat("slow-stream"), metadata=rid(f"{run}-client-left"), timeout=10)
            next(left)
            left.cancel()
            # In flight at SIGTERM: one that finishes within the grace period, one cut at its end.
            fake = Fake(ollama)
            before = fake.stats()
            with ThreadPoolExecutor(2) as pool:
                drained = pool.submit(stub.Generate, chat("slow"), metadata=rid(f"{run}-drained"), timeout=10)
                cut_request = chat("slow-stream")
                cut = pool.submit(
                    lambda: list(stub.StreamGenerate(cut_request, metadata=rid(f"{run}-cut"), timeout=10))
                )
                # Both have reached the upstream (the fake says so) before the signal: no sleeping on it.
                end = time.monotonic() + 20
                while True:
                    now = fake.stats()
                    if (
                        now["unary_started"] > before["unary_started"]  # type: ignore[operator]
                        and now["streams_started"] > before["streams_started"]  # type: ignore[operator]
                    ):
                        break
                    assert time.monotonic() < end, "the calls never reached the upstream"
                    time.sleep(0.02)
                process.send_signal(signal.SIGTERM)
                assert drained.result().usage.output_tokens > 0
                with pytest.raises(grpc.RpcError):
                    cut.result()
        assert process.wait(timeout=20) == 0
    rows = {k.removeprefix(f"{run}-"): v for k, v in ledger_rows(database).items() if k.startswith(run)}
    expected = {f"unary-{i}" for i in range(5)} | {f"stream-{i}" for i in range(3)}
    expected |= {"failed", "client-left", "drained", "cut"}
    assert set(rows) == expected
    assert all(rows[f"unary-{i}"][1] == "OK" and rows[f"unary-{i}"][3] > 0 for i in range(5))
    # A streamed call is recorded with its final chunk's usage and the same cost as unstreamed.
    assert all(rows[f"stream-{i}"][:3] == ("StreamGenerate", "OK", rows["unary-0"][2]) for i in range(3))
    assert rows["stream-0"][3] == rows["unary-0"][3]
    assert rows["failed"][1] == "NOT_FOUND" and rows["client-left"][1] == "CANCELLED"
    assert rows["drained"][1] == "OK" and rows["cut"][1] != "OK"


def test_kill_9_loses_at_most_one_flush_window(tmp_path: Path, ollama: str) -> None:
    """Calls completed at a steady rate, then kill -9: only the last flush window may be missing."""
    flush_s = 1.0
    database = f"sqlite:///{tmp_path / 'ledger.db'}"
    completed: list[tuple[str, float]] = []
    stop_calls = threading.Event()
    with serving(tmp_path, ollama, database, flush_s=flush_s) as process:
        channel = grpc.insecure_channel(process.target)  # type: ignore[attr-defined]
        stub = pb_grpc.ModelGatewayStub(channel)

        def call_steadily() -> None:
            i = 0
            while not stop_calls.is_set():
                request_id = f"k{i}"
                try:
                    stub.Generate(chat("llama3.2"), metadata=rid(request_id), timeout=5)
                except grpc.RpcError:
                    return  # killed
                completed.append((request_id, time.monotonic()))
                i += 1
                time.sleep(0.01)

        caller = threading.Thread(target=call_steadily)
        caller.start()
        time.sleep(2.5 + random.random())  # a few flush windows, then a kill anywhere inside one
        process.kill()
        killed_at = time.monotonic()
        process.wait()
        stop_calls.set()
        caller.join(timeout=10)
        channel.close()
    rows = ledger_rows(database)
    lost = [(request_id, at) for request_id, at in completed if request_id not in rows]
    assert len(completed) > 50 and len(rows) > 0
    window = killed_at - min((at for _, at in lost), default=killed_at)
    print(
        f"\nkill -9 after {len(completed)} calls: {len(lost)} not in the ledger, "
        f"all completed in the last {window:.3f} s (flush window {flush_s} s)"
    )
    # Lost rows are only ever the newest ones, and no older than one flush window (plus the
    # time one write takes on this machine).
    assert window <= flush_s + 0.3, f"lost calls completed {window:.3f} s before the kill"
    newest_kept = max((at for request_id, at in completed if request_id in rows), default=0.0)
    assert all(at >= newest_kept - flush_s for _, at in lost)
