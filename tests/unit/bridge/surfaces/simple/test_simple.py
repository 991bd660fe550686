"""POST /v1/chat, the simplest gateways' shape, through the bridge app against the scripted gateway."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from model_gateway_bridge.surfaces.simple import models
from model_gateway_bridge.surfaces.simple.models import first_model
from model_gateway_bridge.surfaces.simple.request import parse_chat
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.scripted import ScriptedGateway


def data_events(raw: bytes) -> list[Any]:
    out: list[Any] = []
    for block in raw.split(b"\n\n")[:-1]:
        assert block.startswith(b"data: "), block
        payload = block.removeprefix(b"data: ")
        out.append("[DONE]" if payload == b"[DONE]" else orjson.loads(payload))
    return out


@pytest.fixture(autouse=True)
def fresh_model_cache() -> None:
    models._cache.clear()


async def test_a_prompt_and_a_model(raw: httpx.AsyncClient, servicer: ScriptedGateway) -> None:
    reply = await raw.post(
        "/v1/chat", json={"prompt": "Hi", "model": "llama3.2", "max_tokens": 16, "temperature": 0.1}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "text": "Hello there",
        "model": "llama3.2",
        "provider": "local",
        "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
        "cost": 0.0,
        "finish_reason": "stop",
    }
    request = servicer.requests[0]
    assert [(m.role, m.content[0].text) for m in request.messages] == [(pb.ROLE_USER, "Hi")]
    assert (request.sampling.max_tokens, request.sampling.temperature) == (16, 0.1)
    assert servicer.surfaces == ["simple"]


async def test_a_provider_alone_picks_its_first_model(
    raw: httpx.AsyncClient, servicer: ScriptedGateway
) -> None:
    reply = await raw.post("/v1/chat", json={"prompt": "Hi", "provider": "local"})
    assert reply.status_code == 200
    assert servicer.requests[-1].model == "llama3.2"
    again = await raw.post("/v1/chat", json={"prompt": "Hi", "provider": "local"})
    assert again.status_code == 200
    assert servicer.surfaces.count("simple") == 3  # one ListModels, then from the cache


async def test_an_unknown_provider_is_a_404_listing_the_known(raw: httpx.AsyncClient) -> None:
    reply = await raw.post("/v1/chat", json={"prompt": "Hi", "provider": "nope"})
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert error["param"] == "provider" and "providers: local" in error["message"]


async def test_a_stream_of_text_then_the_summary_then_done(raw: httpx.AsyncClient) -> None:
    reply = await raw.post("/v1/chat", json={"prompt": "Hi", "model": "llama3.2", "stream": True})
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = data_events(reply.content)
    assert events[:2] == [{"text": "Hello "}, {"text": "there "}]
    assert events[2] == {
        "done": True,
        "model": "llama3.2",
        "provider": "",
        "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
        "cost": 0.0,
        "finish_reason": "stop",
    }
    assert events[3] == "[DONE]"


async def test_a_stream_that_fails_midway_ends_with_an_error_then_done(raw: httpx.AsyncClient) -> None:
    events = data_events(
        (await raw.post("/v1/chat", json={"prompt": "Hi", "model": "broken", "stream": True})).content
    )
    assert events[0] == {"text": "Hello "}
    assert "error" in events[1] and events[2] == "[DONE]"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "llama3.2"}, "prompt"),
        ({"prompt": "Hi"}, "model"),
        ({"prompt": "Hi", "model": "x", "messages": []}, "messages"),
        ({"prompt": "Hi", "model": "x", "max_tokens": 0}, "max_tokens"),
        ({"prompt": "Hi", "model": "x", "temperature": "hot"}, "temperature"),
        ({"prompt": 3, "model": "x"}, "prompt"),
    ],
)
async def test_bad_bodies_name_the_field(raw: httpx.AsyncClient, body: dict[str, Any], param: str) -> None:
    reply = await raw.post("/v1/chat", json=body)
    assert reply.status_code == 400 and reply.json()["error"]["param"] == param


def test_model_wins_over_provider() -> None:
    assert parse_chat({"prompt": "p", "model": "m", "provider": "x"}).request.model == "m"


def test_first_model_skips_embedding_models() -> None:
    reply = pb.ListModelsResponse(
        models=[
            pb.Model(name="embed", capabilities=["embed"], deployments=[pb.Deployment(provider="local")]),
            pb.Model(name="other", deployments=[pb.Deployment(provider="cloud")]),
            pb.Model(
                name="chat", deployments=[pb.Deployment(provider="cloud"), pb.Deployment(provider="local")]
            ),
        ]
    )
    assert first_model(reply, "local") == "chat"
    assert first_model(reply, "cloud") == "other"
