"""The native routes in-process, against the whole bridge app and a scripted gateway on loopback."""

from __future__ import annotations

import httpx
import orjson

from tests.unit.bridge.scripted import ScriptedGateway

BODY = {"model": "unfinished", "messages": [{"role": "ROLE_USER", "content": [{"text": "x"}]}]}


async def test_an_ndjson_stream_without_its_final_chunk_ends_with_a_status(
    raw: httpx.AsyncClient, servicer: ScriptedGateway
) -> None:
    reply = await raw.post("/api/v1/generate:stream", json=BODY)
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in reply.text.splitlines()]
    assert lines[0]["result"]["delta"]["text"] == "Hello "
    assert lines[-1] == {
        "error": {"code": 2, "message": "the gateway ended the stream without a final chunk", "details": []}
    }
    assert servicer.surfaces == ["native"]


async def test_an_sse_stream_cut_after_its_first_chunk_ends_with_an_error_event(
    raw: httpx.AsyncClient,
) -> None:
    reply = await raw.post("/api/v1/generate", json={**BODY, "model": "broken", "stream": True})
    assert reply.headers["content-type"].startswith("text/event-stream")
    last = reply.text.rstrip("\n").split("\n\n")[-1]
    assert last.startswith("event: error\n")
    assert orjson.loads(last.split("data: ", 1)[1])["error"]["code"] == 14  # UNAVAILABLE
