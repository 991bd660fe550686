"""The /models list (providers/openai/models.py) through the provider."""

from __future__ import annotations

import pytest

from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.openai import OpenAIProvider
from model_gateway.providers.openai.models import model_ids
from tests.unit.providers.openai.support import KEY, Reply, Upstream, fixture_bytes


async def test_list_models(upstream: tuple[Upstream, OpenAIProvider]) -> None:
    fake, provider = upstream
    fake.on("GET /models", Reply(fixture_bytes("models.wire.json"), content_type="application/json"))
    assert await provider.list_models(timeout=10) == ["model-id-0", "model-id-1", "model-id-2"]
    assert provider.address == f"http://127.0.0.1:{provider.http.address.rsplit(':', 1)[1]}"
    assert fake.seen[0].headers["Authorization"] == f"Bearer {KEY}"


def test_model_ids_skip_entries_without_an_id() -> None:
    assert model_ids({"object": "list", "data": [{"id": "a"}, {"object": "model"}, "b"]}) == ["a"]


async def test_reply_without_a_data_list_is_a_protocol_error(
    upstream: tuple[Upstream, OpenAIProvider],
) -> None:
    fake, provider = upstream
    fake.on("GET /models", Reply(b'{"object": "list"}', content_type="application/json"))
    with pytest.raises(GatewayError) as caught:
        await provider.list_models(timeout=10)
    assert caught.value.reason == Reason.UPSTREAM_ERROR
    assert "no data list" in caught.value.message
