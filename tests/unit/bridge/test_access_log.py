"""The bridge's metric labels stay bounded, and request ids are sane (the access log middleware)."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY

from model_gateway_bridge.app import create_app
from model_gateway_bridge.config import parse_bridge_config
from model_gateway_bridge.metrics import method_label
from tests.integration.conftest import free_port
from tests.unit.bridge.scripted import ScriptedGateway


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_methods_are_a_fixed_set() -> None:
    assert method_label("POST") == "POST" and method_label("BREW") == "_OTHER"


async def test_bridge_labels_are_route_templates_and_request_ids_are_sane() -> None:
    config = parse_bridge_config("server: {request_timeout_s: 2}")
    app = create_app(config, f"127.0.0.1:{free_port()}")  # nothing listens: calls fail fast
    requests = "model_gateway_bridge_requests_total"
    template = {"surface": "native", "route": "/api/v1/models/{name:path}", "method": "GET", "status": "503"}
    unmatched = {"surface": "ollama", "route": "_unmatched", "method": "GET", "status": "404"}
    before = sample(requests, **template), sample(requests, **unmatched)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
        down = await client.get("/api/v1/models/customer-42-model", headers={"x-request-id": "bad id\n"})
        missing = await client.get("/no/such/path/42", headers={"x-request-id": "trace-me.1"})
        scraped = (await client.get("/metrics")).text
    assert down.status_code == 503 and missing.status_code == 404
    assert sample(requests, **template) - before[0] == 1
    assert sample(requests, **unmatched) - before[1] == 1
    assert "customer-42" not in scraped and "/no/such" not in scraped
    # A caller's id is echoed when it is a plain token, replaced when it is not.
    assert missing.headers["x-request-id"] == "trace-me.1"
    assert len(down.headers["x-request-id"]) == 32 and "\n" not in down.headers["x-request-id"]


async def test_a_stream_is_counted_under_its_surface_until_it_ends(
    raw: httpx.AsyncClient, servicer: ScriptedGateway
) -> None:
    labels = {"surface": "ollama", "route": "/api/generate", "method": "POST", "status": "200"}
    before = sample("model_gateway_bridge_requests_total", **labels)
    reply = await raw.post("/api/generate", json={"model": "llama3.2", "prompt": "x"})
    assert reply.headers["content-type"] == "application/x-ndjson"
    assert sample("model_gateway_bridge_requests_total", **labels) - before == 1
    # One gauge per registered surface, each back at zero once its streams ended.
    for surface in ("native", "openai", "ollama"):
        assert REGISTRY.get_sample_value("model_gateway_bridge_streams_in_flight", {"surface": surface}) == 0
    assert servicer.surfaces == ["ollama"]
