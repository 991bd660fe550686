"""/v1/embeddings both ways; replies judged by the SDK's CreateEmbeddingResponse."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from openai.types import CreateEmbeddingResponse

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces.openai.embeddings import embedding_response, parse_embedding
from modelgateway.v1 import gateway_pb2 as pb
from tests.unit.bridge.surfaces.openai.helpers import as_struct


def test_parse_embedding() -> None:
    request, encoding = parse_embedding(
        {
            "model": "embed-cloud",
            "input": ["a", "b"],
            "dimensions": 256,
            "encoding_format": "base64",
            "user": "u",
        }
    )
    assert request == pb.EmbedRequest(
        model="embed-cloud", input=["a", "b"], dimensions=256, provider_options=as_struct({"user": "u"})
    )
    assert encoding == "base64"
    single, encoding = parse_embedding({"model": "embed-cloud", "input": "a"})
    assert (list(single.input), encoding) == (["a"], "float")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "e", "input": [1, 2, 3]}, "input"),
        ({"model": "e", "input": [[1, 2]]}, "input"),
        ({"model": "e", "input": []}, "input"),
        ({"model": "e"}, "input"),
        ({"model": "e", "input": "a", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "e", "input": "a", "dimensions": "big"}, "dimensions"),
    ],
)
def test_parse_embedding_rejects(body: dict[str, Any], param: str) -> None:
    with pytest.raises(BridgeError) as caught:
        parse_embedding(body)
    assert (caught.value.status, caught.value.param) == (400, param)


def test_embedding_response_float_and_base64() -> None:
    values = [0.5, -0.25, 0.0023064255]
    reply = pb.EmbedResponse(
        model="embed-cloud",
        embeddings=[pb.Embedding(values=values), pb.Embedding(values=[1.0, 2.0, 3.0])],
        usage=pb.Usage(input_tokens=8),
    )
    floats = CreateEmbeddingResponse.model_validate(embedding_response(reply, "float"))
    assert [d.index for d in floats.data] == [0, 1]
    assert floats.data[0].embedding == pytest.approx(values, rel=1e-6)
    assert (floats.usage.prompt_tokens, floats.usage.total_tokens) == (8, 8)

    encoded = embedding_response(reply, "base64")["data"][0]["embedding"]
    decoded = struct.unpack("<3f", base64.b64decode(encoded))
    assert list(decoded) == floats.data[0].embedding  # the same float32 values, little-endian
