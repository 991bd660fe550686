"""/api/embed and /api/embeddings bodies → canonical EmbedRequests."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.ollama.embeddings import embed_request, embeddings_request


@pytest.mark.parametrize(
    ("body", "inputs", "extra"),
    [
        ({"model": "e", "input": "Why is the sky blue?"}, ["Why is the sky blue?"], {}),
        ({"model": "e", "input": ["a", "b"], "truncate": False, "dimensions": 8}, ["a", "b"], {}),
        (
            {"model": "e", "input": [], "keep_alive": "1m", "options": {"num_ctx": 8}},
            [],
            {"keep_alive": "1m"},
        ),
    ],
)
def test_embed_request(body: dict[str, Any], inputs: list[str], extra: dict[str, Any]) -> None:
    request = embed_request(body)
    assert list(request.input) == inputs
    if "truncate" in body:
        assert request.HasField("truncate") and request.truncate is False
        assert request.dimensions == 8
    for key, value in extra.items():
        assert json_format.MessageToDict(request.provider_options)[key] == value


def test_legacy_embeddings_request() -> None:
    request = embeddings_request({"model": "e", "prompt": "Here is an article about llamas..."})
    assert list(request.input) == ["Here is an article about llamas..."]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "m", "input": 5}, "invalid input: expected a list, got 5"),
        ({"model": "m", "input": ["a", 5]}, "invalid input[1]: expected a string, got 5"),
        ({"model": "m", "input": "a", "dimensions": "big"}, "invalid dimensions"),
        (
            {"model": "m", "input": "a", "truncate": "yes"},
            'invalid truncate: expected true or false, got "yes"',
        ),
        ({"model": "m", "input": "a", "keep_alive": [1]}, "invalid keep_alive: expected a duration"),
        ({"input": "a"}, "model is required"),
    ],
)
def test_bad_embed_bodies_are_400_naming_field_and_value(body: dict[str, Any], message: str) -> None:
    with pytest.raises(BridgeError) as caught:
        embed_request(body)
    assert caught.value.status == 400
    assert message in caught.value.message
