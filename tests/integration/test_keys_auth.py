"""API keys with real processes: `model-gateway up` (service + bridge) with keys in config and database.

Every front door authenticates: gRPC (authorization or x-api-key metadata),
the OpenAI, Anthropic, Ollama and native REST surfaces. Keys created or revoked with the
CLI while the gateway runs take effect within 5 seconds; keys never appear in
the logs. And the gateway refuses to start where it should.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.integration.conftest import GATEWAY, ROOT, free_port, start_fake, stop, wait_for_tcp
from tests.integration.test_grpc_service import chat, error_info

ADMIN_KEY = "admin-key-from-config-0123456789"


@dataclass(frozen=True)
class Stack:
    config: Path
    grpc_target: str
    bridge_url: str
    log_path: Path
    team_key: str  # created with the CLI before the start: may use llama*

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*GATEWAY, "--config", str(self.config), *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )


def keyed_config(tmp: Path, openai_url: str, ollama_url: str, grpc_port: int, bridge_port: int) -> str:
    return f"""
server: {{grpc: "127.0.0.1:{grpc_port}", bridge: "127.0.0.1:{bridge_port}", request_timeout_s: 30}}
providers:
  cloud: {{kind: openai, base_url: "{openai_url}/v1", api_key: "sk-upstream"}}
  local: {{kind: ollama, base_url: "{ollama_url}"}}
models:
  - {{name: gpt-4o-mini, deployments: [{{provider: cloud, model: gpt-4o-mini}}]}}
  - {{name: llama3.2, aliases: [tiny], deployments: [{{provider: local, model: llama3.2}}]}}
storage: {{database: "sqlite:///{tmp / "gateway.db"}"}}
auth:
  refresh_s: 0.5
  keys: [{{name: admin, key: "{ADMIN_KEY}", admin: true}}]
usage: {{flush_interval_s: 0.2}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("keys")
    openai_fake, openai_process = start_fake("openai_server", tmp)
    ollama_fake, ollama_process = start_fake("ollama_server", tmp)
    grpc_port, bridge_port = free_port(), free_port()
    config = tmp / "gateway.yaml"
    config.write_text(keyed_config(tmp, openai_fake.url, ollama_fake.url, grpc_port, bridge_port))
    log_path = tmp / "gateway.log"
    created = subprocess.run(
        [*GATEWAY, "--config", str(config), "keys", "create", "--name", "team-a", "--models", "llama*"],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*GATEWAY, "--config", str(config), "up"],
            cwd=ROOT,
            env={**os.environ, "LOG_LEVEL": "INFO"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_tcp(grpc_port, process)
        wait_for_tcp(bridge_port, process)
        yield Stack(
            config,
            f"127.0.0.1:{grpc_port}",
            f"http://127.0.0.1:{bridge_port}",
            log_path,
            created.stdout.strip(),
        )
    finally:
        stop(process)
        stop(openai_process)
        stop(ollama_process)
    assert process.returncode == 0, log_path.read_text()[-3000:]


@pytest.fixture(scope="module")
def stub(stack: Stack) -> Iterator[pb_grpc.ModelGatewayStub]:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        yield pb_grpc.ModelGatewayStub(channel)


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.bridge_url, timeout=30) as client:
        yield client


def bearer(key: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {key}"),)


# --- gRPC ------------------------------------------------------------------------------------------


def test_grpc_without_a_key_or_with_a_wrong_one_is_unauthenticated(stub: pb_grpc.ModelGatewayStub) -> None:
    for metadata in ((), bearer("mg-not-a-real-key"), (("authorization", "Basic dXNlcjpwYXNz"),)):
        with pytest.raises(grpc.RpcError) as raised:
            stub.Generate(chat("llama3.2"), metadata=metadata, timeout=10)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(raised.value)[0].reason == "UNAUTHENTICATED"
    assert "Bearer <key>" in (raised.value.details() or "")


def test_grpc_with_a_key_in_authorization_or_x_api_key(stack: Stack, stub: pb_grpc.ModelGatewayStub) -> None:
    reply = stub.Generate(chat("tiny"), metadata=bearer(stack.team_key), timeout=10)
    assert reply.route.served_model == "llama3.2"
    reply = stub.Generate(chat("llama3.2"), metadata=(("x-api-key", stack.team_key),), timeout=10)
    assert reply.usage.output_tokens > 0
    chunks = list(stub.StreamGenerate(chat("llama3.2"), metadata=bearer(stack.team_key), timeout=10))
    assert chunks[-1].HasField("final")


def test_grpc_a_model_outside_the_keys_patterns_is_denied_by_key_name(
    stack: Stack, stub: pb_grpc.ModelGatewayStub
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.Generate(chat("gpt-4o-mini"), metadata=bearer(stack.team_key), timeout=10)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    details = raised.value.details() or ""
    assert "'gpt-4o-mini'" in details and "'team-a'" in details and stack.team_key not in details
    listed = stub.ListModels(pb.ListModelsRequest(), metadata=bearer(stack.team_key), timeout=10)
    assert [m.name for m in listed.models] == ["llama3.2"]
    every = stub.ListModels(pb.ListModelsRequest(), metadata=bearer(ADMIN_KEY), timeout=10)
    assert [m.name for m in every.models] == ["gpt-4o-mini", "llama3.2"]
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetModel(pb.GetModelRequest(name="gpt-4o-mini"), metadata=bearer(stack.team_key), timeout=10)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as raised:
        stub.ListModels(pb.ListModelsRequest(), timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


# --- REST: OpenAI, Ollama, native --------------------------------------------------------------------

SURFACES = {
    "openai": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}]}, "/v1/models"),
    "ollama": ("/api/chat", {"messages": [{"role": "user", "content": "Hi"}], "stream": False}, "/api/tags"),
    "native": ("/api/v1/generate", {"prompt": "Hi"}, "/api/v1/models"),
}


def listed_names(surface: str, body: dict[str, object]) -> list[str]:
    if surface == "openai":
        return [str(m["id"]) for m in body["data"]]  # type: ignore[attr-defined]
    if surface == "ollama":
        return [str(m["name"]) for m in body["models"]]  # type: ignore[attr-defined]
    return [str(m["name"]) for m in body["models"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("surface", list(SURFACES))
def test_rest_surfaces_authenticate(stack: Stack, http: httpx.Client, surface: str) -> None:
    path, body, models_path = SURFACES[surface]
    allowed, denied = {**body, "model": "llama3.2"}, {**body, "model": "gpt-4o-mini"}
    assert http.post(path, json=allowed).status_code == 401
    assert http.post(path, json=allowed, headers={"Authorization": "Bearer mg-wrong"}).status_code == 401
    key = {"Authorization": f"Bearer {stack.team_key}"}
    assert http.post(path, json=allowed, headers=key).status_code == 200
    refused = http.post(path, json=denied, headers=key)
    assert refused.status_code == 403 and "team-a" in refused.text and stack.team_key not in refused.text
    models = http.get(models_path, headers=key)
    assert models.status_code == 200 and "gpt-4o-mini" not in listed_names(surface, models.json())
    assert http.get(models_path).status_code == 401


def test_openai_401_is_invalid_api_key_in_openais_shape(http: httpx.Client) -> None:
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "Hi"}]}
    for headers in ({}, {"Authorization": "Bearer mg-wrong"}):
        reply = http.post("/v1/chat/completions", json=body, headers=headers)
        assert reply.status_code == 401
        error = reply.json()["error"]
        assert (error["code"], error["type"]) == ("invalid_api_key", "invalid_request_error")


def test_native_usage_route_is_for_admin_keys(stack: Stack, http: httpx.Client) -> None:
    http.post(
        "/api/v1/generate",
        json={"model": "llama3.2", "prompt": "Hi"},
        headers={"Authorization": f"Bearer {stack.team_key}"},
    )
    assert http.get("/api/v1/usage").status_code == 401
    assert http.get("/api/v1/usage", headers={"Authorization": f"Bearer {stack.team_key}"}).status_code == 403
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert http.get("/api/v1/usage", params={"by": "team"}, headers=admin).status_code == 400

    def by_model() -> dict[str, object]:
        reply = http.get("/api/v1/usage", params={"by": "model", "since": "2000-01-01"}, headers=admin)
        assert reply.status_code == 200
        return {row["group"]: row for row in reply.json()["rows"]}

    _within(5, lambda: "llama3.2" in by_model())
    row = by_model()["llama3.2"]
    assert int(row["calls"]) >= 1 and int(row["inputTokens"]) > 0  # type: ignore[call-overload,index]


def test_anthropic_surface_takes_x_api_key(stack: Stack, http: httpx.Client) -> None:
    body = {"model": "llama3.2", "max_tokens": 32, "messages": [{"role": "user", "content": "Hi"}]}
    version = {"anthropic-version": "2023-06-01"}
    reply = http.post("/v1/messages", json=body, headers={**version, "x-api-key": stack.team_key})
    assert reply.status_code == 200, reply.text
    refused = http.post("/v1/messages", json=body, headers=version)
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
    keyed = {**version, "x-api-key": stack.team_key}
    denied = http.post("/v1/messages", json={**body, "model": "gpt-4o-mini"}, headers=keyed)
    assert denied.status_code == 403 and denied.json()["error"]["type"] == "permission_error"
    # Any surface takes either header.
    openai_body = {"model": "llama3.2", "messages": [{"role": "user", "content": "Hi"}]}
    reply = http.post("/v1/chat/completions", json=openai_body, headers={"x-api-key": stack.team_key})
    assert reply.status_code == 200


# --- keys that change while the gateway runs ------------------------------------------------------------


def _within(seconds: float, check: Callable[[], bool]) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_keys_created_and_revoked_while_running_take_effect_within_5_s(
    stack: Stack, stub: pb_grpc.ModelGatewayStub
) -> None:
    created = stack.cli("keys", "create", "--name", "late", "--json")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["key"]

    def works() -> bool:
        try:
            stub.Generate(chat("llama3.2"), metadata=bearer(key), timeout=10)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            return False
        return True

    _within(5, works)
    assert stack.cli("keys", "revoke", "late").returncode == 0
    _within(5, lambda: not works())
    with pytest.raises(grpc.RpcError) as raised:
        stub.Generate(chat("llama3.2"), metadata=bearer(key), timeout=10)
    assert "API key 'late' was revoked" in (raised.value.details() or "")


# --- usage for admins -----------------------------------------------------------------------------------


def test_get_usage_is_for_admin_keys(stack: Stack, stub: pb_grpc.ModelGatewayStub) -> None:
    stub.Generate(chat("llama3.2"), metadata=bearer(stack.team_key), timeout=10)
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetUsage(pb.GetUsageRequest(), metadata=bearer(stack.team_key), timeout=10)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED

    def team_usage() -> pb.UsageRow | None:
        reply = stub.GetUsage(pb.GetUsageRequest(by="key"), metadata=bearer(ADMIN_KEY), timeout=10)
        return next((row for row in reply.rows if row.group == "team-a"), None)

    _within(5, lambda: team_usage() is not None)
    row = team_usage()
    assert row is not None and row.calls >= 1 and row.input_tokens > 0
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetUsage(pb.GetUsageRequest(by="team"), metadata=bearer(ADMIN_KEY), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_keys_never_reach_the_logs(stack: Stack, http: httpx.Client) -> None:
    http.post(
        "/v1/chat/completions", json={"model": "llama3.2"}, headers={"Authorization": "Bearer mg-wrong"}
    )
    logs = stack.log_path.read_text(errors="replace")
    assert '"status":"UNAUTHENTICATED"' in logs  # the refused calls are logged, by status only
    for secret in (stack.team_key, ADMIN_KEY, "mg-wrong"):
        assert secret not in logs


# --- refusing to start ------------------------------------------------------------------------------------


def serve(tmp: Path, config: str, *listen: str) -> subprocess.CompletedProcess[str]:
    path = tmp / "gateway.yaml"
    path.write_text(config)
    argv = [*GATEWAY, "--config", str(path), "serve"] + [f"--listen={a}" for a in listen]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=30)


def test_no_keys_on_a_public_bind_refuses_to_start(tmp_path: Path) -> None:
    database = f'storage: {{database: "sqlite:///{tmp_path / "g.db"}"}}\n'
    done = serve(tmp_path, database, f"0.0.0.0:{free_port()}")
    assert done.returncode == 2
    assert "no API keys exist and 0.0.0.0:" in done.stderr and "auth.allow_anonymous" in done.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root:hunter2@db/gw", "storage.database: 'mysql://root:***@db/gw' is not a database URL"),
        (
            "postgresql://mg:hunter2@127.0.0.1:{port}/gw",
            "storage.database: cannot connect to postgresql://mg:***@",
        ),
    ],
)
def test_a_bad_database_is_a_one_line_start_error(tmp_path: Path, url: str, expected: str) -> None:
    done = serve(tmp_path, f'storage: {{database: "{url.format(port=free_port())}"}}\n')
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if "storage.database" in line]
    assert len(lines) == 1 and expected in lines[0] and "hunter2" not in done.stderr
