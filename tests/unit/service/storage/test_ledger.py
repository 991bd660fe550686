"""The usage ledger on SQLite and a real PostgreSQL: one row per call, batched off the request's path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import grpc
import orjson
import pytest

from model_gateway.config import UsageConfig, parse_config
from model_gateway.core.context import RequestContext
from model_gateway.core.pipeline import Pipeline
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError
from model_gateway.obs.ledger import Ledger
from model_gateway.policy import policy_stages
from model_gateway.storage.database import Database
from model_gateway.storage.usage import USAGE_COLUMNS, count_rows, usage_report
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import CUT, ScriptedProvider

KEY = "team-a-key-0123456789"
CONFIG = parse_config(
    f"""
providers: {{a: {{kind: openai}}}}
models:
  - name: priced
    aliases: [cheap]
    deployments: [{{provider: a, model: m}}]
    pricing: {{input_per_mtok: 1000000, output_per_mtok: 2000000}}
auth:
  keys: [{{name: team-a, key: "{KEY}"}}]
"""
)


def ctx(request_id: str, credential: str = f"Bearer {KEY}") -> RequestContext:
    metadata = [("x-request-id", request_id), ("x-gateway-surface", "openai")]
    if credential:
        metadata.append(("authorization", credential))
    return RequestContext.from_metadata(metadata, Deadline(5))


def request(model: str = "cheap") -> pb.GenerateRequest:
    return pb.GenerateRequest(
        model=model, messages=[pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text="hello")])]
    )


def build(database: Database, **usage: Any) -> tuple[Pipeline, ScriptedProvider, Ledger]:
    config = CONFIG.model_copy(update={"usage": UsageConfig(**usage)})
    ledger = Ledger(database, config.usage)
    provider = ScriptedProvider("a")
    return Pipeline(config, {"a": provider}, policy_stages(config, sinks=[ledger])), provider, ledger


async def rows(database: Database) -> dict[str, dict[str, Any]]:
    found = await database.fetch(f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_ledger")
    return {row[2]: dict(zip(USAGE_COLUMNS, row, strict=True)) for row in found}


async def test_rows_equal_calls_unary_stream_failed_cancelled_and_refused(database: Database) -> None:
    gateway, provider, ledger = build(database)
    await gateway.generate(request(), ctx("unary"))
    _, chunks = await gateway.stream(request(), ctx("stream"))
    streamed = [chunk async for chunk in chunks]
    with pytest.raises(GatewayError):
        await gateway.generate(request("nope"), ctx("unknown-model"))
    provider.script = {"m": [CUT]}
    _, chunks = await gateway.stream(request(), ctx("cut"))
    with pytest.raises(GatewayError):
        async for _ in chunks:
            pass
    _, chunks = await gateway.stream(request(), ctx("client-left"))
    await anext(chunks)
    await chunks.aclose()  # type: ignore[attr-defined]
    with pytest.raises(GatewayError):
        await gateway.generate(request(), ctx("no-key", credential=""))
    with pytest.raises(GatewayError):  # the scripted provider cannot embed: still a call, still a row
        await gateway.embed(pb.EmbedRequest(model="priced", input=["x"]), ctx("embed"))

    assert ledger.pending == 7
    assert await ledger.flush() == 7 and ledger.pending == 0
    written = await rows(database)
    assert set(written) == {"unary", "stream", "unknown-model", "cut", "client-left", "no-key", "embed"}

    unary, stream = written["unary"], written["stream"]
    assert unary["key_name"] == "team-a" and unary["surface"] == "openai" and unary["rpc"] == "Generate"
    assert (unary["requested_model"], unary["served_model"], unary["provider"]) == ("cheap", "priced", "a")
    assert (unary["deployment"], unary["attempts"], unary["status"], unary["reason"]) == ("a/m", 1, "OK", "")
    assert (unary["input_tokens"], unary["output_tokens"], unary["cost_usd"]) == (3, 5, 13.0)
    assert unary["ttft_ms"] is None and unary["latency_ms"] >= 0
    assert unary["day"] == time.strftime("%Y-%m-%d", time.gmtime(unary["ts"]))
    # A stream is recorded with the usage of its final chunk, priced like the same call unstreamed.
    final = streamed[-1].final
    assert (stream["input_tokens"], stream["output_tokens"]) == (final.usage.input_tokens, 5)
    assert stream["cost_usd"] == unary["cost_usd"] == final.cost.total_usd
    assert stream["rpc"] == "StreamGenerate" and stream["ttft_ms"] is not None
    assert (written["unknown-model"]["status"], written["unknown-model"]["reason"]) == (
        "NOT_FOUND",
        "MODEL_NOT_FOUND",
    )
    assert (written["cut"]["status"], written["cut"]["reason"]) == ("UNAVAILABLE", "STREAM_INTERRUPTED")
    assert (written["client-left"]["status"], written["client-left"]["output_tokens"]) == ("CANCELLED", 0)
    # A refused caller is recorded under no key name (it has none).
    assert (written["no-key"]["status"], written["no-key"]["key_name"]) == ("UNAUTHENTICATED", "")
    assert (written["embed"]["rpc"], written["embed"]["status"]) == ("Embed", "UNIMPLEMENTED")


async def test_the_writer_flushes_on_its_own_every_interval(database: Database) -> None:
    gateway, _, ledger = build(database, flush_interval_s=0.05)
    ledger.start()
    try:
        for i in range(5):
            await gateway.generate(request(), ctx(f"r{i}"))
        end = time.monotonic() + 3
        while await count_rows(database) < 5:
            assert time.monotonic() < end, "rows were not flushed"
            await asyncio.sleep(0.02)
    finally:
        await ledger.close()


async def test_close_writes_what_is_left(database: Database) -> None:
    gateway, _, ledger = build(database, flush_interval_s=60)
    ledger.start()
    for i in range(3):
        await gateway.generate(request(), ctx(f"c{i}"))
    assert await count_rows(database) == 0
    await ledger.close()
    assert await count_rows(database) == 3


class Flaky(Database):
    """Fails the first `failures` writes, then hands them to the real database."""

    def __init__(self, real: Database, failures: int) -> None:
        self.real, self.failures = real, failures
        self.dialect, self.shown = real.dialect, real.shown

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk on fire")
        await self.real.executemany(sql, rows)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self.real.execute(sql, params)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await self.real.fetch(sql, params)

    async def upgrade(self, migrations: Any = ()) -> list[Any]:
        return []

    async def versions(self) -> list[int]:
        return await self.real.versions()

    async def close(self) -> None:
        return None


async def test_rows_wait_while_the_database_fails_and_are_written_once_it_is_back(database: Database) -> None:
    gateway, _, ledger = build(Flaky(database, failures=1))
    await gateway.generate(request(), ctx("first"))
    assert await ledger.flush() == 0 and ledger.pending == 1
    await gateway.generate(request(), ctx("second"))
    assert await ledger.flush() == 2
    assert set(await rows(database)) == {"first", "second"}


async def test_a_full_queue_drops_new_rows_and_counts_them(database: Database) -> None:
    gateway, _, ledger = build(database, max_queue=2)
    for i in range(4):
        await gateway.generate(request(), ctx(f"q{i}"))
    assert (ledger.pending, ledger.dropped) == (2, 2)


async def test_content_is_captured_only_when_asked_and_purged_after_retention(database: Database) -> None:
    gateway, _, ledger = build(database)
    await gateway.generate(request(), ctx("quiet"))
    await ledger.flush()
    assert await database.fetch("SELECT COUNT(*) FROM usage_content") == [(0,)]

    gateway, _, ledger = build(database, capture_content=True, content_retention_days=1)
    await gateway.generate(request(), ctx("captured"))
    _, chunks = await gateway.stream(request(), ctx("captured-stream"))
    [_ async for _ in chunks]
    await ledger.flush()
    captured = {
        row[0]: row[1:]
        for row in await database.fetch(
            "SELECT request_id, key_name, requested_model, request, response FROM usage_content"
        )
    }
    key_name, model, stored_request, stored_response = captured["captured"]
    assert (key_name, model) == ("team-a", "cheap")
    assert orjson.loads(stored_request)["messages"][0]["content"][0]["text"] == "hello"
    assert orjson.loads(stored_response)["message"]["content"][0]["text"] == "from m"
    streamed = orjson.loads(captured["captured-stream"][3])
    assert streamed["message"]["content"][0]["text"] == "from m!"  # the stream's deltas, assembled
    # Nothing of the content reaches the ledger row itself.
    assert "hello" not in repr(await database.fetch("SELECT * FROM usage_ledger"))
    await database.execute("UPDATE usage_content SET ts = ts - 2 * 86400")
    await ledger._purge()
    assert await database.fetch("SELECT COUNT(*) FROM usage_content") == [(0,)]


async def test_the_ledger_holds_key_names_never_keys(database: Database) -> None:
    gateway, _, ledger = build(database)
    await gateway.generate(request(), ctx("named"))
    with pytest.raises(GatewayError):
        await gateway.generate(request(), ctx("wrong", credential="Bearer mg-wrong-key-presented"))
    await ledger.flush()
    stored = repr(await database.fetch("SELECT * FROM usage_ledger"))
    assert KEY not in stored and "mg-wrong-key-presented" not in stored


async def test_reports_group_by_key_model_provider_and_day(database: Database) -> None:
    def row(
        day: str, key: str, model: str, provider: str, status: str, tokens: int, cost: float
    ) -> tuple[Any, ...]:
        ts = time.mktime(time.strptime(day, "%Y-%m-%d")) + 3600
        values = dict.fromkeys(USAGE_COLUMNS, "")
        values.update(
            ts=ts, day=day, key_name=key, requested_model=model, provider=provider, status=status,
            attempts=1, input_tokens=tokens, output_tokens=2 * tokens, cached_input_tokens=1,
            reasoning_tokens=0, estimated=0, cost_usd=cost, saved_usd=cost / 2, cache_hit=0,
            latency_ms=1.0, ttft_ms=None,
        )  # fmt: skip
        return tuple(values[c] for c in USAGE_COLUMNS)

    from model_gateway.storage.usage import insert_usage

    await insert_usage(
        database,
        [
            row("2026-03-01", "a", "llama", "local", "OK", 10, 0.5),
            row("2026-03-01", "b", "gpt", "cloud", "OK", 20, 1.0),
            row("2026-03-02", "a", "gpt", "cloud", "UNAVAILABLE", 0, 0.0),
            row("2026-03-03", "a", "llama", "local", "OK", 5, 0.25),
        ],
    )
    by_key = await usage_report(database, "key")
    assert [r.as_dict("key") for r in by_key] == [
        {"key": "a", "calls": 3, "errors": 1, "input_tokens": 15, "output_tokens": 30,
         "cached_input_tokens": 3, "cost_usd": 0.75, "saved_usd": 0.375},
        {"key": "b", "calls": 1, "errors": 0, "input_tokens": 20, "output_tokens": 40,
         "cached_input_tokens": 1, "cost_usd": 1.0, "saved_usd": 0.5},
    ]  # fmt: skip
    assert [(r.group, r.calls) for r in await usage_report(database, "model")] == [("gpt", 2), ("llama", 2)]
    assert [(r.group, r.calls) for r in await usage_report(database, "provider")] == [
        ("cloud", 2),
        ("local", 2),
    ]
    days = await usage_report(database, "day", since="2026-03-02", until="2026-03-03")
    assert [(r.group, r.calls) for r in days] == [("2026-03-02", 1), ("2026-03-03", 1)]
    with pytest.raises(ValueError, match="by: 'team'"):
        await usage_report(database, "team")
    with pytest.raises(ValueError, match="since: 'yesterday' is not a date"):
        await usage_report(database, "day", since="yesterday")


def test_a_grpc_status_names_every_outcome() -> None:
    assert grpc.StatusCode.OK.name == "OK"  # the ledger's status column holds these names
