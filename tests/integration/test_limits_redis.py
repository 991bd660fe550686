"""Three `model-gateway serve` processes on one Redis, hammered at once: together they admit the limit.

A gateway-wide limit (`limits.gateway.rpm`) gives every caller one shared
bucket, so the test needs no API keys. The requests are not deterministic
(temperature 0.7), so the response cache answers none of them. A bridge in
front of the first instance shows the standing and the refusal as HTTP.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
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


def config(openai_url: str, redis_url: str, database: Path, grpc_port: int, bridge_port: int) -> str:
    return f"""
server: {{grpc: "127.0.0.1:{grpc_port}", bridge: "127.0.0.1:{bridge_port}"}}
storage: {{redis: "{redis_url}", database: "sqlite:///{database}"}}
limits: {{gateway: {{rpm: {LIMIT}}}}}
providers:
  cloud: {{kind: openai, base_url: "{openai_url}/v1", api_key: test}}
models:
  - name: gpt-4o-mini
    deployments: [{{provider: cloud, model: gpt-4o-mini}}]
"""


@pytest.fixture
def instances(tmp_path: Path, redis_url: str) -> Iterator[tuple[list[str], Fake, str]]:
    database = redis_url.rsplit("/", 1)[0] + "/5"  # a database of its own on the session's Redis
    redis.Redis.from_url(database).flushdb()
    fake, fake_process = start_fake("openai_server", tmp_path)
    ports, bridge_port = [free_port() for _ in range(INSTANCES)], free_port()
    path = tmp_path / "gateway.yaml"
    path.write_text(config(fake.url, database, tmp_path / "gateway.db", ports[0], bridge_port))
    commands = [["serve", "--listen", f"127.0.0.1:{port}"] for port in ports] + [["bridge"]]
    processes = []
    try:
        for i, command in enumerate(commands):
            log = (tmp_path / f"process-{i}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [*GATEWAY, "--config", str(path), *command],
                    cwd=ROOT,
                    env={**os.environ, "LOG_LEVEL": "WARNING"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for port, process in zip([*ports, bridge_port], processes, strict=True):
            wait_for_tcp(port, process)
        yield [f"127.0.0.1:{port}" for port in ports], fake, f"http://127.0.0.1:{bridge_port}"
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


HI = {"role": "user", "content": "hi"}
REQUEST = pb.GenerateRequest(
    model="gpt-4o-mini",
    messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hi")])],
    sampling=pb.Sampling(temperature=0.7),
)


async def hammer(targets: list[str]) -> tuple[list[pb.GenerateResponse], list[aio.AioRpcError]]:
    channels = [aio.insecure_channel(target) for target in targets]
    stubs = [pb_grpc.ModelGatewayStub(channel) for channel in channels]
    for stub in stubs:  # connected before the burst
        await stub.Health(pb.HealthRequest(), timeout=10)

    async def one(i: int) -> pb.GenerateResponse | aio.AioRpcError:
        try:
            return await stubs[i % len(stubs)].Generate(REQUEST, timeout=20)
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
    instances: tuple[list[str], Fake, str],
) -> None:
    targets, fake, bridge = instances
    # Before the burst: one call through the bridge and one stream, each with its standing.
    with httpx.Client(base_url=bridge, timeout=10) as client:
        ok = client.post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [HI], "temperature": 1}
        )
    assert ok.status_code == 200, ok.text
    assert ok.headers["x-ratelimit-limit-requests"] == str(LIMIT)
    assert ok.headers["x-ratelimit-remaining-requests"] == str(LIMIT - 1)
    assert ok.headers["x-ratelimit-reset-requests"].endswith("s")
    with grpc.insecure_channel(targets[1]) as channel:
        stream = pb_grpc.ModelGatewayStub(channel).StreamGenerate(REQUEST, timeout=10)
        head = dict(stream.initial_metadata())
        chunks = list(stream)
    assert (
        head["x-ratelimit-limit-requests"] == str(LIMIT)
        and int(head["x-ratelimit-remaining-requests"]) <= LIMIT - 2
    )
    assert chunks[-1].final.rate_limits.limit_requests == LIMIT
    before = 2

    answered, refused = asyncio.run(hammer(targets))
    # The bucket refills 0.5 a second: a burst of a second or two earns at most one more.
    assert LIMIT <= before + len(answered) <= LIMIT + 1, (len(answered), [e.details() for e in refused[:3]])
    assert len(answered) + len(refused) == CALLS
    assert {e.code() for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert all("rate limit reached for the gateway" in (e.details() or "") for e in refused)
    delays = [retry_delay(e) for e in refused]
    assert all(d is not None and 0 < d <= 2.0 for d in delays), delays[:3]
    assert fake.stats()["requests"] == before + len(answered)  # refused calls never reached the upstream
    assert all(r.rate_limits.limit_requests == LIMIT for r in answered)
    assert min(r.rate_limits.remaining_requests for r in answered) == 0

    with httpx.Client(base_url=bridge, timeout=10) as client:
        limited = client.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [HI]})
    assert limited.status_code == 429, limited.text
    error = limited.json()["error"]
    assert (error["code"], error["type"]) == ("rate_limit_exceeded", "requests")
    assert error["message"].startswith("rate limit reached for the gateway")
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"
