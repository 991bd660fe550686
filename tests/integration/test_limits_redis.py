"""Three `model-gateway serve` processes on one Redis, hammered at once: together they hold each limit.

Two static keys (`auth.keys`): one with requests per minute, one with a
budget. A bridge in front of the first instance shows the standing and the
refusals as HTTP. The requests are not deterministic (temperature 0.7), so
the response cache answers none of them. (Gateway-wide and per-model limits
run the same Lua step; tests/unit/service/policy covers them.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import redis
from google.rpc import error_details_pb2, status_pb2
from grpc import aio

from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc
from tests.integration.conftest import GATEWAY, ROOT, Fake, free_port, start_fake, stop, wait_for_tcp

LIMIT = 30
INSTANCES = 3
CALLS = 120
BURST_KEY = "mg-burst-0123456789abcdef"
SPENDER_KEY = "mg-spender-0123456789abcdef"
BUDGET = 0.05  # USD a day; a call costs about $0.009 at $1000 per million tokens


def config(
    openai_url: str, redis_url: str, database: Path, grpc_port: int, bridge_port: int, extra: str
) -> str:
    return f"""
server: {{grpc: "127.0.0.1:{grpc_port}", bridge: "127.0.0.1:{bridge_port}"}}
storage: {{redis: "{redis_url}", database: "sqlite:///{database}"}}
providers:
  cloud: {{kind: openai, base_url: "{openai_url}/v1", api_key: test}}
models:
  - name: gpt-4o-mini
    deployments: [{{provider: cloud, model: gpt-4o-mini}}]
    pricing: {{input_per_mtok: 1000, output_per_mtok: 1000}}
{extra}"""


@dataclass(frozen=True)
class Instances:
    targets: list[str]  # host:port of each `serve`
    fake: Fake
    bridge: str  # the bridge's URL, in front of the first instance
    redis: redis.Redis


@contextmanager
def instances(tmp_path: Path, redis_url: str, extra: str) -> Iterator[Instances]:
    database = redis_url.rsplit("/", 1)[0] + "/5"  # a database of its own on the session's Redis
    client = redis.Redis.from_url(database)
    client.flushdb()
    fake, fake_process = start_fake("openai_server", tmp_path)
    ports, bridge_port = [free_port() for _ in range(INSTANCES)], free_port()
    commands = []
    for i, port in enumerate(ports):  # a ledger database each: only Redis is shared
        path = tmp_path / f"gateway-{i}.yaml"
        path.write_text(config(fake.url, database, tmp_path / f"ledger-{i}.db", ports[0], bridge_port, extra))
        commands.append(["--config", str(path), "serve", "--listen", f"127.0.0.1:{port}"])
    commands.append(["--config", str(tmp_path / "gateway-0.yaml"), "bridge"])
    processes = []
    try:
        for i, command in enumerate(commands):
            log = (tmp_path / f"process-{i}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [*GATEWAY, *command],
                    cwd=ROOT,
                    env={**os.environ, "LOG_LEVEL": "WARNING"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for port, process in zip([*ports, bridge_port], processes, strict=True):
            wait_for_tcp(port, process)
        yield Instances(
            [f"127.0.0.1:{port}" for port in ports], fake, f"http://127.0.0.1:{bridge_port}", client
        )
    finally:
        for process in processes:  # all at once: each drains on its own
            process.send_signal(signal.SIGTERM)
        for process in processes:
            stop(process)
        stop(fake_process)
        client.close()


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
    sampling=pb.Sampling(temperature=0.7, max_tokens=5),
)


async def hammer(
    targets: list[str], key: str = "", calls: int = CALLS
) -> tuple[list[pb.GenerateResponse], list[aio.AioRpcError]]:
    metadata = (("authorization", f"Bearer {key}"),) if key else ()
    channels = [aio.insecure_channel(target) for target in targets]
    stubs = [pb_grpc.ModelGatewayStub(channel) for channel in channels]
    for stub in stubs:  # connected before the burst
        await stub.Health(pb.HealthRequest(), timeout=10)

    async def one(i: int) -> pb.GenerateResponse | aio.AioRpcError:
        try:
            return await stubs[i % len(stubs)].Generate(REQUEST, metadata=metadata, timeout=20)
        except aio.AioRpcError as error:
            return error

    try:
        results = await asyncio.gather(*(one(i) for i in range(calls)))
    finally:
        for channel in channels:
            await channel.close()
    answered = [r for r in results if isinstance(r, pb.GenerateResponse)]
    refused = [r for r in results if isinstance(r, aio.AioRpcError)]
    return answered, refused


KEYS = f"""
auth:
  keys:
    - {{name: burst, key: "{BURST_KEY}", rpm: {LIMIT}}}
    - {{name: spender, key: "{SPENDER_KEY}", budget_usd: {BUDGET}, budget_period: day}}
"""


def test_three_instances_on_one_redis_hold_a_keys_rpm_and_budget(tmp_path: Path, redis_url: str) -> None:
    with instances(tmp_path, redis_url, KEYS) as running:
        requests_per_minute(running)
        budget(running)


def requests_per_minute(running: Instances) -> None:
    targets, fake, bridge = running.targets, running.fake, running.bridge
    key = {"authorization": f"Bearer {BURST_KEY}"}
    # Before the burst: one call through the bridge and one stream, each with its standing.
    with httpx.Client(base_url=bridge, timeout=10, headers=key) as client:
        ok = client.post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [HI], "max_tokens": 5}
        )
    assert ok.status_code == 200, ok.text
    assert ok.headers["x-ratelimit-limit-requests"] == str(LIMIT)
    assert ok.headers["x-ratelimit-remaining-requests"] == str(LIMIT - 1)
    assert ok.headers["x-ratelimit-reset-requests"].endswith("s")
    with grpc.insecure_channel(targets[1]) as channel:
        stream = pb_grpc.ModelGatewayStub(channel).StreamGenerate(
            REQUEST, metadata=tuple(key.items()), timeout=10
        )
        head = dict(stream.initial_metadata())
        chunks = list(stream)
    assert head["x-ratelimit-limit-requests"] == str(LIMIT)
    assert int(head["x-ratelimit-remaining-requests"]) <= LIMIT - 2
    assert chunks[-1].final.rate_limits.limit_requests == LIMIT
    before = 2

    answered, refused = asyncio.run(hammer(targets, BURST_KEY))
    # The bucket refills 0.5 a second: a burst of a second or two earns at most one more.
    assert LIMIT <= before + len(answered) <= LIMIT + 1, (len(answered), [e.details() for e in refused[:3]])
    assert len(answered) + len(refused) == CALLS
    assert {e.code() for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert all("rate limit reached for key 'burst'" in (e.details() or "") for e in refused)
    delays = [retry_delay(e) for e in refused]
    assert all(d is not None and 0 < d <= 2.0 for d in delays), delays[:3]
    assert fake.stats()["requests"] == before + len(answered)  # refused calls never reached the upstream
    assert all(r.rate_limits.limit_requests == LIMIT for r in answered)
    assert min(r.rate_limits.remaining_requests for r in answered) == 0

    with httpx.Client(base_url=bridge, timeout=10, headers=key) as client:
        limited = client.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [HI]})
    assert limited.status_code == 429, limited.text
    error = limited.json()["error"]
    assert (error["code"], error["type"]) == ("rate_limit_exceeded", "requests")
    assert error["message"].startswith("rate limit reached for key 'burst'")
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"


def budget(running: Instances) -> None:
    answered, refused = asyncio.run(hammer(running.targets, SPENDER_KEY, calls=60))
    assert answered and refused
    assert {e.code() for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert all("budget exceeded for key 'spender'" in (e.details() or "") for e in refused)
    [total] = list(running.redis.scan_iter(match="mg:limit:key:spender:usd:day:*"))
    spent = float(running.redis.get(total) or 0)
    costs = [r.cost.total_usd for r in answered]
    assert abs(spent - sum(costs)) < 1e-9  # every reservation settled to the real cost
    # Admitted while what was used (settled, and reserved in flight) was below the
    # budget: the overrun is at most one call's cost.
    assert BUDGET <= spent < BUDGET + max(costs)

    with httpx.Client(base_url=running.bridge, timeout=10) as client:
        reply = client.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [HI], "max_tokens": 5},
            headers={"authorization": f"Bearer {SPENDER_KEY}"},
        )
    assert reply.status_code == 429
    assert reply.json()["error"]["code"] == "insufficient_quota"
    assert "budget exceeded" in reply.json()["error"]["message"]
    assert reply.headers["x-should-retry"] == "false"
