"""Embeddings (providers/openai/embed.py) through the provider, against CreateEmbeddingResponse."""

from __future__ import annotations

import pytest

from model_gateway.providers.openai import OpenAIProvider
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.providers.openai.support import Reply, Upstream, fixture_bytes


async def test_embed(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on(
        "POST /embeddings",
        Reply(fixture_bytes("embeddings_response.wire.json"), content_type="application/json"),
    )
    request = pb.EmbedRequest(model="e", input=["The food was delicious", "and the waiter..."], dimensions=3)
    response = await provider.embed(request, "text-embedding-3-small", timeout=10)
    # Replies are ordered by `index`, whatever order the server listed them in.
    assert [list(e.values) for e in response.embeddings] == [
        pytest.approx([0.0023064255, -0.009327292, 0.25]),
        pytest.approx([-0.0028842222, 0.0112, 0.5]),
    ]
    assert response.usage == pb.Usage(input_tokens=8, total_tokens=8)
    assert fake.seen[0].body == {
        "model": "text-embedding-3-small",
        "input": ["The food was delicious", "and the waiter..."],
        "dimensions": 3,
        "encoding_format": "float",
    }
