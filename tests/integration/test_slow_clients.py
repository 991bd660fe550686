"""Slow and greedy clients against real processes: slowloris on the REST port, a trickled body,
streams per key; every wait bounded and polled, never slept on."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.integration.conftest import GATEWAY, ROOT, free_port, start_fake, stop, wait_for_tcp

HEAD_TIMEOUT_S = 2
HALF_OPEN = 500
KEY = "sk-stream-cap-0123456789"
BRIDGE = [sys.executable, "-m", "model_gateway_bridge"]


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A bridge alone (no service behind it: /metrics and 404s are its own answers)."""
    tmp = tmp_path_factory.mktemp("slow")
    port = free_port()
    config = tmp / "bridge.yaml"
    config.write_text(
        f"server:\n  bridge: 127.0.0.1:{port}\n"
        f"  clients: {{header_timeout_s: {HEAD_TIMEOUT_S}, body_timeout_s: 1}}\n"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "model_gateway_bridge",
            "--config",
            str(config),
            "--grpc-target",
            "127.0.0.1:1",
        ],
        cwd=ROOT,
    )
    try:
        wait_for_tcp(port, process)
        yield f"127.0.0.1:{port}"
    finally:
        stop(process)


def connect(address: str) -> socket.socket:
    host, port = address.split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_500_half_open_connections_do_not_stop_others_and_are_reaped(bridge: str) -> None:
    held = []
    try:
        for _ in range(HALF_OPEN):
            sock = connect(bridge)
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")  # a head never finished
            held.append(sock)
        started = time.monotonic()
        reply = httpx.get(f"http://{bridge}/metrics", timeout=10)
        assert reply.status_code == 200
        assert time.monotonic() - started < 5  # served beside them, not after them
        # The server closes them once the head deadline passes (generous bound for a loaded machine).
        assert all(closed_by_server(sock, HEAD_TIMEOUT_S + 10) for sock in held[:: HALF_OPEN // 10])
    finally:
        for sock in held:
            sock.close()


def test_a_head_trickled_a_byte_at_a_time_is_cut_at_the_deadline(bridge: str) -> None:
    """Each byte would reset a keep-alive timer; the head deadline does not move."""
    sock = connect(bridge)
    try:
        started = time.monotonic()
        for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            if closed_by_server(sock, 0.1):
                break
            assert time.monotonic() - started < HEAD_TIMEOUT_S + 15, "the trickling client is still served"
        assert time.monotonic() - started >= HEAD_TIMEOUT_S - 0.5
    finally:
        sock.close()


def test_a_body_that_stops_arriving_gets_408(bridge: str) -> None:
    sock = connect(bridge)
    try:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 500\r\n\r\n{"model": '
        )
        sock.settimeout(15)
        received = b""
        while b"\r\n\r\n" not in received:
            piece = sock.recv(4096)
            assert piece, received
            received += piece
        assert received.startswith(b"HTTP/1.1 408"), received[:200]
        assert b"not received within 1 s" in received + sock.recv(4096)
    finally:
        sock.close()


def test_streams_per_key_are_capped_on_the_grpc_port(tmp_path: Path) -> None:
    fake, fake_process = start_fake("openai_server", tmp_path)
    port = free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"server: {{grpc: '127.0.0.1:{port}', clients: {{max_streams_per_key: 2}}}}\n"
        f"storage: {{database: 'sqlite:///{tmp_path}/gateway.db'}}\n"
        f"auth: {{keys: [{{name: capped, key: '{KEY}'}}, {{name: other, key: '{KEY}-other'}}]}}\n"
        f"providers: {{cloud: {{kind: openai, base_url: '{fake.url}/v1'}}}}\n"
        "models: [{name: slow-stream, deployments: [{provider: cloud, model: slow-stream}]}]\n"
    )
    process = subprocess.Popen([*GATEWAY, "--config", str(config), "serve"], cwd=ROOT)
    message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="go")])
    request = pb.GenerateRequest(model="slow-stream", messages=[message])
    try:
        wait_for_tcp(port, process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.ModelGatewayStub(channel)
            auth = (("authorization", f"Bearer {KEY}"),)
            open_streams = [stub.StreamGenerate(request, metadata=auth, timeout=60) for _ in range(2)]
            for stream in open_streams:
                assert next(stream).HasField("delta")
            with pytest.raises(grpc.RpcError) as refused:
                next(stub.StreamGenerate(request, metadata=auth, timeout=10))
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
            assert "max_streams_per_key" in refused.value.details()  # type: ignore[attr-defined]
            # Another key is not held back by this one.
            other = stub.StreamGenerate(
                request, metadata=(("authorization", f"Bearer {KEY}-other"),), timeout=60
            )
            assert next(other).HasField("delta")
            other.cancel()
            # Closing one stream frees its slot.
            open_streams[0].cancel()
            end = time.monotonic() + 20
            while True:
                again = stub.StreamGenerate(request, metadata=auth, timeout=60)
                try:
                    assert next(again).HasField("delta")
                    break
                except grpc.RpcError:
                    assert time.monotonic() < end, "the cancelled stream's slot was never freed"
                    time.sleep(0.1)
            again.cancel()
            open_streams[1].cancel()
    finally:
        stop(process)
        stop(fake_process)


def serve_with(tmp: Path, clients: str) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], str]:
    fake, fake_process = start_fake("openai_server", tmp)
    port = free_port()
    config = tmp / "gateway.yaml"
    config.write_text(
        f"server: {{grpc: '127.0.0.1:{port}', clients: {clients}}}\n"
        f"storage: {{database: 'sqlite:///{tmp}/gateway.db'}}\n"
        f"providers: {{cloud: {{kind: openai, base_url: '{fake.url}/v1'}}}}\n"
        "models: [{name: slow-stream, deployments: [{provider: cloud, model: slow-stream}]},\n"
        "         {name: gpt-4o-mini, deployments: [{provider: cloud, model: gpt-4o-mini}]}]\n"
    )
    process = subprocess.Popen([*GATEWAY, "--config", str(config), "serve"], cwd=ROOT)
    wait_for_tcp(port, process)
    return process, fake_process, f"127.0.0.1:{port}"


def chat(model: str) -> pb.GenerateRequest:
    message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hi")])
    return pb.GenerateRequest(model=model, messages=[message])


def test_a_client_pinging_too_often_is_sent_away(tmp_path: Path) -> None:
    """keepalive enforcement: pings every second with no data flowing are strikes; then GOAWAY."""
    process, fake_process, target = serve_with(tmp_path, "{min_client_ping_interval_s: 10}")
    pushy = [
        ("grpc.keepalive_time_ms", 1000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]
    try:
        with grpc.insecure_channel(target, options=pushy) as channel:
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as caught:  # a unary call that would wait 60 s
                pb_grpc.ModelGatewayStub(channel).Generate(chat("slow-stream"), timeout=50)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value  # type: ignore[attr-defined]
            assert "too many pings" in caught.value.details().lower()  # type: ignore[attr-defined]
            assert time.monotonic() - started < 45
    finally:
        stop(process)
        stop(fake_process)


def test_connections_older_than_their_max_age_are_closed_and_clients_reconnect(tmp_path: Path) -> None:
    process, fake_process, target = serve_with(
        tmp_path, "{max_connection_age_s: 1, max_connection_age_grace_s: 1}"
    )
    try:
        with grpc.insecure_channel(target) as channel:
            stub = pb_grpc.ModelGatewayStub(channel)
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as caught:  # 60 s of ticks, on a connection aged out
                for _ in stub.StreamGenerate(chat("slow-stream"), timeout=50):
                    pass
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
            assert time.monotonic() - started < 45
            assert stub.Generate(chat("gpt-4o-mini"), timeout=10).message.content  # a new connection
    finally:
        stop(process)
        stop(fake_process)


def test_streams_per_key_are_capped_on_the_rest_port_too(tmp_path: Path) -> None:
    """Through `up` (the bridge calls the same servicer): the third stream of a key is a 429."""
    fake, fake_process = start_fake("openai_server", tmp_path)
    grpc_port, bridge_port = free_port(), free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"server: {{grpc: '127.0.0.1:{grpc_port}', bridge: '127.0.0.1:{bridge_port}', "
        "clients: {max_streams_per_key: 2}}\n"
        f"storage: {{database: 'sqlite:///{tmp_path}/gateway.db'}}\n"
        f"auth: {{keys: [{{name: capped, key: '{KEY}'}}]}}\n"
        f"providers: {{cloud: {{kind: openai, base_url: '{fake.url}/v1'}}}}\n"
        "models: [{name: slow-stream, deployments: [{provider: cloud, model: slow-stream}]}]\n"
    )
    up = subprocess.Popen([*GATEWAY, "--config", str(config), "up"], cwd=ROOT)
    body = {"model": "slow-stream", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    headers = {"authorization": f"Bearer {KEY}"}
    url = f"http://127.0.0.1:{bridge_port}/v1/chat/completions"
    try:
        wait_for_tcp(bridge_port, up)
        with httpx.Client(timeout=30) as client:
            held = [client.stream("POST", url, json=body, headers=headers) for _ in range(2)]
            readers = []  # kept: a line reader let go of closes its response, and so the stream
            for stream in held:
                reply = stream.__enter__()
                assert reply.status_code == 200
                readers.append(reply.iter_lines())
                next(readers[-1])  # its first event: the stream is open
            refused = client.post(url, json=body, headers=headers)
            assert refused.status_code == 429, refused.text
            assert "max_streams_per_key" in refused.json()["error"]["message"]
            for stream in held:
                stream.__exit__(None, None, None)
    finally:
        stop(up)
        stop(fake_process)
