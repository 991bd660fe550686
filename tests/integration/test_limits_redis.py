"""Three `model-gateway serve` processes on one Redis, hammered at once: together they admit the limit.

A gateway-wide limit (`limits.gateway.rpm`) gives every caller one shared
bucket, so the test needs no API keys. The requests are not deterministic
(temperature 0.7), so the response cache answers none of them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import redis
from google.rpc import error_details_pb2, status_pb2
from grpc import aio

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.integration.conftest import GATEWAY, ROOT, Fake, free_port, start_fake, stop, wait_for_tcp

LIMIT = 30
INSTANCES = 3
CALLS = 120


def config(openai_url: str, redis_url: str, database: Path) -> str:
    return f"""
storage: {{redis: "{redis_url}", database: "sqlite:///{database}"}}
limits: {{gateway: {{rpm: {LIMIT}}}}}
providers:
  cloud: {{kind: openai, base_url: "{openai_url}/v1", api_key: test}}
models:
  - name: gpt-4o-mini
    deployments: [{{provider: cloud, model: gpt-4o-mini}}]
"""


@pytest.fixture
def instances(tmp_path: Path, redis_url: str) -> Iterator[tuple[list[str], Fake]]:
    database = redis_url.rsplit("/", 1)[0] + "/5"  # a database of its own on the session's Redis
    redis.Redis.from_url(database).flushdb()
    fake, fake_process = start_fake("openai_server", tmp_path)
    path = tmp_path / "gateway.yaml"
    path.write_text(config(fake.url, database, tmp_path / "gateway.db"))
    ports = [free_port() for _ in range(INSTANCES)]
    processes = []
    try:
        for i, port in enumerate(ports):
            log = (tmp_path / f"serve-{i}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [*GATEWAY, "--config", str(path), "serve", "--listen", f"127.0.0.1:{port}"],
                    cwd=ROOT,
                    env={**os.environ, "LOG_LEVEL": "WARNING"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for port, process in zip(ports, processes, strict=True):
            wait_for_tcp(port, process)
        yield [f"127.0.0.1:{port}" for port in ports], fake
    finally:
        for process in processes:
            stop(process)
        stop(fake_process)


def retry_delay(error: aio.AioRpcError) -> float | None:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    info = error_details_pb2.RetryInfo()
                    detail.Unpack(info)
                    return info.retry_delay.ToTimedelta().total_seconds()
    return None


async def hammer(targets: list[str]) -> tuple[list[pb.GenerateResponse], list[aio.AioRpcError]]:
    channels = [aio.insecure_channel(target) for target in targets]
    stubs = [pb_grpc.ModelGatewayStub(channel) for channel in channels]
    request = pb.GenerateRequest(
        model="gpt-4o-mini",
        messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hi")])],
        sampling=pb.Sampling(temperature=0.7),
    )
    for stub in stubs:  # connected before the burst
        await stub.Health(pb.HealthRequest(), timeout=10)

    async def one(i: int) -> pb.GenerateResponse | aio.AioRpcError:
        try:
            return await stubs[i % len(stubs)].Generate(request, timeout=20)
        except aio.AioRpcError as error:
            return error

    try:
        results = await asyncio.gather(*(one(i) for i in range(CALLS)))
    finally:
        for channel in channels:
            await channel.close()
    answered = [r for r in results if isinstance(r, pb.GenerateResponse)]
    refused = [r for r in results if isinstance(r, aio.AioRpcError)]
    return answered, refused


def test_three_instances_on_one_redis_admit_the_limit_and_no_more(
    instances: tuple[list[str], Fake],
) -> None:
    targets, fake = instances
    answered, refused = asyncio.run(hammer(targets))
    # The bucket refills 0.5 a second: a burst of a second or two earns at most one more.
    assert LIMIT <= len(answered) <= LIMIT + 1, (len(answered), [e.details() for e in refused[:3]])
    assert len(answered) + len(refused) == CALLS
    assert {e.code() for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert all("rate limit reached for the gateway" in (e.details() or "") for e in refused)
    delays = [retry_delay(e) for e in refused]
    assert all(d is not None and 0 < d <= 2.0 for d in delays), delays[:3]
    assert fake.stats()["requests"] == len(answered)  # refused calls never reached the upstream
    remaining = sorted(r.rate_limits.remaining_requests for r in answered)
    assert all(r.rate_limits.limit_requests == LIMIT for r in answered)
    assert remaining[0] == 0 and remaining[-1] >= LIMIT - 2
