"""Breakers and retries through real processes: two `model-gateway serve` instances sharing one Redis,
in front of the fake OpenAI upstream.

`cloud/fail-500` answers 500; `slowcloud/slow-first-byte` takes 2 s to answer but its
provider gives up after 0.4 s, so each try of it costs 0.4 s until its breaker opens.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
import redis

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.integration.conftest import GATEWAY, ROOT, Fake, free_port, start_fake, stop, wait_for_tcp

COOLDOWN_S = 2.0
DEPLOYMENTS = ("cloud/fail-500", "cloud/gpt-4o-mini", "slowcloud/slow-first-byte")


def config(fake: Fake, redis_url: str, grpc_port: int, metrics_port: int, database: Path) -> str:
    return f"""
server: {{grpc: "127.0.0.1:{grpc_port}", metrics: "127.0.0.1:{metrics_port}", request_timeout_s: 20}}
storage: {{redis: "{redis_url}", database: "sqlite:///{database}"}}
routing:
  retries: 1
  backoff: {{initial_s: 0.05, max_s: 1}}
  breaker: {{failures: 3, cooldown_s: {COOLDOWN_S}, max_cooldown_s: 8, sync_s: 0.1}}
providers:
  cloud: {{kind: openai, base_url: "{fake.url}/v1", api_key: test}}
  slowcloud: {{kind: openai, base_url: "{fake.url}/v1", api_key: test, timeout_s: 0.4}}
models:
  - name: sick
    routing: {{retries: 0}}
    deployments: [{{provider: cloud, model: fail-500}}, {{provider: cloud, model: gpt-4o-mini}}]
  - name: slow
    routing: {{retries: 0}}
    deployments: [{{provider: slowcloud, model: slow-first-byte}}, {{provider: cloud, model: gpt-4o-mini}}]
  - name: broken
    deployments: [{{provider: cloud, model: fail-500}}]
  - name: picky
    strategy: weighted
    deployments: [{{provider: cloud, model: gpt-4o-mini, weight: 1}}]
"""


@dataclass
class Instance:
    stub: pb_grpc.ModelGatewayStub
    metrics_url: str


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[tuple[Fake, Instance, Instance]]:
    tmp = tmp_path_factory.mktemp("routing")
    fake, fake_process = start_fake("openai_server", tmp)
    processes: list[subprocess.Popen[bytes]] = []
    channels: list[grpc.Channel] = []
    instances: list[Instance] = []
    try:
        # The session's Redis may hold these deployments' breakers from an earlier test: start clean.
        redis.Redis.from_url(redis_url).delete(*(f"mgw:breaker:{d}" for d in DEPLOYMENTS))
        for n in range(2):
            grpc_port, metrics_port = free_port(), free_port()
            path = tmp / f"gateway-{n}.yaml"
            path.write_text(config(fake, redis_url, grpc_port, metrics_port, tmp / f"db-{n}.sqlite"))
            log = (tmp / f"gateway-{n}.log").open("wb")
            process = subprocess.Popen(
                [*GATEWAY, "--config", str(path), "serve"],
                cwd=ROOT,
                env={**os.environ, "LOG_LEVEL": "WARNING"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            processes.append(process)
            wait_for_tcp(grpc_port, process)
            channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
            channels.append(channel)
            instances.append(
                Instance(pb_grpc.ModelGatewayStub(channel), f"http://127.0.0.1:{metrics_port}/metrics")
            )
        yield fake, instances[0], instances[1]
    finally:
        for channel in channels:
            channel.close()
        for process in processes:
            stop(process)
        stop(fake_process)


def chat(model: str) -> pb.GenerateRequest:
    message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="Hello there")])
    return pb.GenerateRequest(model=model, messages=[message])


def served(fake: Fake, model: str) -> int:
    by_model = fake.stats()["by_model"]
    assert isinstance(by_model, dict)
    return int(by_model.get(model, 0))


def circuit(instance: Instance, deployment: str) -> pb.DeploymentHealth:
    health = instance.stub.Health(pb.HealthRequest(detailed=True), timeout=10)
    return next(d for d in health.deployments if d.deployment == deployment)


def test_a_breaker_opens_after_n_failures_and_the_open_deployment_costs_no_time(
    stack: tuple[Fake, Instance, Instance],
) -> None:
    fake, one, _ = stack
    for _ in range(3):  # each call: 0.4 s lost on the slow deployment, then the healthy one answers
        started = time.monotonic()
        reply = one.stub.Generate(chat("slow"), timeout=10)
        assert reply.route.attempts == 2 and time.monotonic() - started >= 0.4
    assert circuit(one, "slowcloud/slow-first-byte").circuit == pb.CIRCUIT_STATE_OPEN
    tries = served(fake, "slow-first-byte")
    started = time.monotonic()
    reply = one.stub.Generate(chat("slow"), timeout=10)
    assert time.monotonic() - started < 0.3  # skipped at once, not after a timeout
    assert reply.route.attempts == 1 and reply.route.upstream_model == "gpt-4o-mini"
    assert served(fake, "slow-first-byte") == tries


def test_instances_sharing_redis_skip_the_same_sick_upstream(stack: tuple[Fake, Instance, Instance]) -> None:
    fake, one, two = stack
    for _ in range(3):
        assert one.stub.Generate(chat("sick"), timeout=10).route.attempts == 2
    before = served(fake, "fail-500")
    time.sleep(0.3)  # the other instance reads the shared state every 0.1 s
    reply = two.stub.Generate(chat("sick"), timeout=10)  # it never saw fail-500 fail itself
    assert reply.route.attempts == 1 and reply.route.upstream_model == "gpt-4o-mini"
    assert served(fake, "fail-500") == before
    health = circuit(two, "cloud/fail-500")
    assert health.circuit == pb.CIRCUIT_STATE_OPEN and "HTTP 500" in health.last_error
    assert 0 < health.retry_in_s <= COOLDOWN_S
    model = two.stub.GetModel(pb.GetModelRequest(name="sick"), timeout=10)
    assert [d.circuit for d in model.deployments] == [pb.CIRCUIT_STATE_OPEN, pb.CIRCUIT_STATE_CLOSED]
    # A model with nothing else fails at once, saying why and when to come back.
    with pytest.raises(grpc.RpcError) as caught:
        two.stub.Generate(chat("broken"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "circuit open" in str(caught.value.details())
    # After the cooldown one probe goes through; it fails, so the breaker re-opens for longer.
    time.sleep(COOLDOWN_S + 0.2)
    assert two.stub.Generate(chat("sick"), timeout=10).route.attempts == 2  # the probe, then the healthy one
    assert served(fake, "fail-500") == before + 1
    time.sleep(0.3)
    reopened = circuit(one, "cloud/fail-500")
    assert reopened.circuit == pb.CIRCUIT_STATE_OPEN and reopened.retry_in_s > COOLDOWN_S
    metrics = httpx.get(one.metrics_url, timeout=5).text
    assert 'model_gateway_breaker_state{deployment="cloud/fail-500"} 1.0' in metrics
    assert 'model_gateway_breaker_transitions_total{deployment="cloud/fail-500",state="open"}' in metrics


def test_the_decision_travels_with_the_route(stack: tuple[Fake, Instance, Instance]) -> None:
    _, one, _ = stack
    assert one.stub.Generate(chat("picky"), timeout=10).route.decision == "weighted"
    stream = one.stub.StreamGenerate(chat("picky"), timeout=10)  # a stream carries it as initial metadata
    chunks = list(stream)
    assert dict(stream.initial_metadata())["x-gateway-decision"] == "weighted"
    assert chunks[-1].final.route.decision == "weighted"
