"""Embeddings (providers/ollama/embed.py): the /api/embed body and reply, and through the provider."""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from model_gateway.providers.ollama import OllamaProvider
from model_gateway.providers.ollama.embed import embed_body, embed_response
from model_gateway.tokens import count_text
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers.ollama.support import FakeOllama, load, serve


def test_embed_body() -> None:
    request = json_format.ParseDict(load("embed_request.canonical.json"), pb.EmbedRequest())
    assert embed_body(request, "all-minilm") == load("embed_request.wire.json")
    plain = pb.EmbedRequest(model="x", input=["a"])
    assert embed_body(plain, "all-minilm") == {"model": "all-minilm", "input": ["a"]}


def test_embed_reply() -> None:
    request = pb.EmbedRequest(model="all-minilm", input=["Why is the sky blue?"])
    response = embed_response(load("embed_response.wire.json"), request)
    assert list(response.embeddings[0].values) == pytest.approx(
        load("embed_response.wire.json")["embeddings"][0], rel=1e-6
    )
    assert response.usage == pb.Usage(input_tokens=8, total_tokens=8)

    multi = pb.EmbedRequest(model="all-minilm", input=["Why is the sky blue?", "Why is the grass green?"])
    response = embed_response(load("embed_response_multi.wire.json"), multi)
    assert len(response.embeddings) == 2
    assert response.embeddings[1].values[0] == pytest.approx(-0.0098027075)
    expected_tokens = count_text("Why is the sky blue?") + count_text("Why is the grass green?")
    assert response.usage == pb.Usage(
        input_tokens=expected_tokens, total_tokens=expected_tokens, estimated=True
    )

    with pytest.raises(ValueError, match="2 embeddings for 1 inputs"):
        embed_response(load("embed_response_multi.wire.json"), request)


async def test_embed_over_http(upstream: FakeOllama, provider: OllamaProvider) -> None:
    serve(upstream, "/api/embed", "embed_response_multi.wire.json")
    request = json_format.ParseDict(load("embed_request.canonical.json"), pb.EmbedRequest())

    response = await provider.embed(request, "all-minilm", timeout=5)

    assert upstream.seen[0].body == load("embed_request.wire.json")
    assert [len(e.values) for e in response.embeddings] == [10, 10]
    assert response.usage.estimated
