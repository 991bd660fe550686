"""Local models (providers/ollama/models.py): /api/tags and /api/show."""

from __future__ import annotations

from model_gateway.providers.ollama import OllamaProvider
from model_gateway.providers.ollama.models import model_names
from tests.unit.providers.ollama.support import FakeOllama, load, serve


def test_model_names() -> None:
    assert model_names(load("tags.wire.json")) == ["deepseek-r1:latest", "llama3.2:latest"]
    assert model_names({"models": [{"model": "only-model-key:latest"}]}) == ["only-model-key:latest"]


async def test_list_models_and_show_over_http(upstream: FakeOllama, provider: OllamaProvider) -> None:
    serve(upstream, "/api/tags", "tags.wire.json")
    serve(upstream, "/api/show", "show.wire.json")

    assert await provider.list_models(timeout=5) == ["deepseek-r1:latest", "llama3.2:latest"]
    shown = await provider.show("llama3.2", timeout=5)

    assert shown == load("show.wire.json")
    assert shown["capabilities"] == ["completion", "vision"]
    assert [(s.method, s.path, s.body) for s in upstream.seen] == [
        ("GET", "/api/tags", None),
        ("POST", "/api/show", {"model": "llama3.2"}),
    ]
