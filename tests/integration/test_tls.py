"""TLS and mTLS with real handshakes: `server.tls` on the gRPC port and the bridge, the bridge's TLS
hop to a service on another host, and certificates reloaded on SIGHUP without dropping connections.

Certificates are made for the test (tests/certs.py): a CA, a server leaf for localhost/127.0.0.1,
a client leaf, and a client leaf from a CA the gateway does not trust.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from cryptography import x509

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.certs import CA, Pair
from tests.integration.conftest import GATEWAY, ROOT, free_port, start_fake, stop, wait_for_tcp


@dataclass(frozen=True)
class Secured:
    grpc_port: int
    bridge_port: int
    ca: CA
    client: Pair
    rogue_client: Pair
    served: Pair  # the files the config names (rewritten by the reload test)
    tmp: Path
    fake_url: str
    up: subprocess.Popen[bytes]


def chat() -> pb.GenerateRequest:
    message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="over TLS")])
    return pb.GenerateRequest(model="gpt-4o-mini", messages=[message])


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    tmp = tmp_path_factory.mktemp("tls")
    ca = CA(tmp)
    first = ca.issue("first")
    served = Pair(tmp / "server.crt", tmp / "server.key", first.serial)
    shutil.copy(first.cert, served.cert)
    shutil.copy(first.key, served.key)
    client = ca.issue("client", "gateway-client", client=True)
    rogue_client = CA(tmp, "rogue CA").issue("rogue", "intruder", client=True)
    fake, fake_process = start_fake("openai_server", tmp)
    grpc_port, bridge_port = free_port(), free_port()
    config = tmp / "gateway.yaml"
    config.write_text(
        f"server:\n  grpc: 127.0.0.1:{grpc_port}\n  bridge: 127.0.0.1:{bridge_port}\n"
        f"  tls: {{cert: '{served.cert}', key: '{served.key}', client_ca: '{ca.path}'}}\n"
        f"storage: {{database: 'sqlite:///{tmp}/gateway.db'}}\n"
        f"providers: {{cloud: {{kind: openai, base_url: '{fake.url}/v1'}}}}\n"
        "models: [{name: gpt-4o-mini, deployments: [{provider: cloud, model: gpt-4o-mini}]}]\n"
    )
    with (tmp / "up.log").open("wb") as log:
        up = subprocess.Popen(
            [*GATEWAY, "--config", str(config), "up"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_tcp(grpc_port, up)
        wait_for_tcp(bridge_port, up)
        yield Secured(grpc_port, bridge_port, ca, client, rogue_client, served, tmp, fake.url, up)
    finally:
        stop(up)
        stop(fake_process)


def credentials(secured: Secured, client: Pair | None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=secured.ca.path.read_bytes(),
        private_key=client.key.read_bytes() if client else None,
        certificate_chain=client.cert.read_bytes() if client else None,
    )


def test_grpc_with_a_client_certificate_is_served(secured: Secured) -> None:
    creds = credentials(secured, secured.client)
    with grpc.secure_channel(f"localhost:{secured.grpc_port}", creds) as channel:
        reply = pb_grpc.ModelGatewayStub(channel).Generate(chat(), timeout=10)
    assert "over TLS" in reply.message.content[0].text


@pytest.mark.parametrize("who", ["no certificate", "untrusted certificate", "plaintext"])
def test_grpc_refuses_a_client_without_a_trusted_certificate(secured: Secured, who: str) -> None:
    target = f"localhost:{secured.grpc_port}"
    if who == "plaintext":
        channel = grpc.insecure_channel(target)
    else:
        channel = grpc.secure_channel(
            target, credentials(secured, None if who == "no certificate" else secured.rogue_client)
        )
    with channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.ModelGatewayStub(channel).Generate(chat(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]


def tls_context(secured: Secured, alpn: str = "http/1.1", client: Pair | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(secured.ca.path))
    context.set_alpn_protocols([alpn])
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    return context


def test_the_bridge_serves_https_and_refuses_plain_http(secured: Secured) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "over TLS"}]}
    with httpx.Client(verify=tls_context(secured), timeout=10) as client:
        reply = client.post(f"https://localhost:{secured.bridge_port}/v1/chat/completions", json=body)
    assert reply.status_code == 200 and "over TLS" in reply.text
    assert reply.headers["strict-transport-security"].startswith("max-age=")
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"http://127.0.0.1:{secured.bridge_port}/v1/chat/completions", json=body, timeout=5)


BRIDGE = [sys.executable, "-m", "model_gateway_bridge"]


def start_bridge(secured: Secured, grpc_tls: str) -> tuple[subprocess.Popen[bytes], int]:
    """The bridge alone (as on another host) dialling the service's TCP port."""
    port = free_port()
    config = secured.tmp / f"bridge-{port}.yaml"
    config.write_text(f"server:\n  bridge: 127.0.0.1:{port}\n{grpc_tls}")
    process = subprocess.Popen(
        [*BRIDGE, "--config", str(config), "--grpc-target", f"127.0.0.1:{secured.grpc_port}"],
        cwd=ROOT,
    )
    wait_for_tcp(port, process)
    return process, port


def test_the_bridge_reaches_a_remote_service_over_mtls(secured: Secured) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hop"}]}
    grpc_tls = (
        f"  grpc_tls: {{ca: '{secured.ca.path}', cert: '{secured.client.cert}', "
        f"key: '{secured.client.key}', server_name: localhost}}\n"
    )
    with_cert, port = start_bridge(secured, grpc_tls)
    try:
        reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=10)
        assert reply.status_code == 200, reply.text
    finally:
        stop(with_cert)
    # Without its client certificate the service refuses the hop: the bridge says it is unavailable.
    without, port = start_bridge(
        secured, f"  grpc_tls: {{ca: '{secured.ca.path}', server_name: localhost}}\n"
    )
    try:
        reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=10)
        assert reply.status_code == 503, reply.text
    finally:
        stop(without)


def served_serial(port: int, context: ssl.SSLContext) -> int:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def http_get(tls: ssl.SSLSocket, path: str) -> bytes:
    tls.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received:
        received += tls.recv(4096)
    head, _, rest = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(rest) < length:
        rest += tls.recv(4096)
    return head.split(b"\r\n")[0]


def test_sighup_reloads_certificates_without_dropping_connections(secured: Secured) -> None:
    rest, grpc_context = tls_context(secured), tls_context(secured, "h2", secured.client)
    assert served_serial(secured.bridge_port, rest) == secured.served.serial
    assert served_serial(secured.grpc_port, grpc_context) == secured.served.serial
    # Connections open before the reload: a kept-alive HTTPS connection and a gRPC channel.
    kept = rest.wrap_socket(socket.create_connection(("127.0.0.1", secured.bridge_port), timeout=5),
                            server_hostname="localhost")  # fmt: skip
    channel = grpc.secure_channel(f"localhost:{secured.grpc_port}", credentials(secured, secured.client))
    try:
        assert b" 200 " in http_get(kept, "/api/v1/health") + b" "
        stub = pb_grpc.ModelGatewayStub(channel)
        stub.Generate(chat(), timeout=10)

        second = secured.ca.issue("second")
        shutil.copy(second.cert, secured.served.cert)
        shutil.copy(second.key, secured.served.key)
        os.kill(secured.up.pid, signal.SIGHUP)  # `up` passes it to its worker(s)

        end = time.monotonic() + 20
        while served_serial(secured.bridge_port, rest) != second.serial:
            assert time.monotonic() < end, "the REST port still serves the old certificate"
            time.sleep(0.1)
        while served_serial(secured.grpc_port, grpc_context) != second.serial:
            assert time.monotonic() < end, "the gRPC port still serves the old certificate"
            time.sleep(0.1)
        # The old connections were not dropped: the same socket and channel go on serving.
        assert b" 200 " in http_get(kept, "/api/v1/health") + b" "
        stub.Generate(chat(), timeout=10)
        assert secured.up.poll() is None
    finally:
        kept.close()
        channel.close()
