"""`POST /embeddings`: canonical EmbedRequest → body, and the reply → canonical EmbedResponse."""

from __future__ import annotations

import base64
from array import array
from typing import Any

from model_gateway.providers.openai.flavors import GENERIC, Flavor
from model_gateway.providers.openai.request import merge_provider_options
from model_gateway.providers.readers import JSON, WireError, read_int
from model_gateway.tokens import count_text
from modelgateway.v1 import gateway_pb2 as pb

EMBEDDINGS_PATH = "/embeddings"
# openai-python `embedding_create_params`: what a strict server (flavor openai, groq, tgi) is sent.
EMBEDDING_KEYS = frozenset({"model", "input", "dimensions", "encoding_format", "user"})


def embed_body(request: pb.EmbedRequest, model: str, flavor: Flavor = GENERIC) -> JSON:
    return embed_translation(request, model, flavor)[0]


def embed_translation(
    request: pb.EmbedRequest, model: str, flavor: Flavor = GENERIC
) -> tuple[JSON, list[str]]:
    """The body, and the provider_options keys left out of it."""
    body: JSON = {"model": model, "input": list(request.input), "encoding_format": "float"}
    if request.HasField("dimensions"):
        body["dimensions"] = request.dimensions
    # `truncate` has no OpenAI equivalent (vLLM: truncate_prompt_tokens); provider_options can say it.
    keys = EMBEDDING_KEYS if flavor.strict else None
    return body, merge_provider_options(body, request.provider_options, keys)


def embed_response(obj: Any, request: pb.EmbedRequest) -> pb.EmbedResponse:
    data = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(data, list) or len(data) != len(request.input):
        raise WireError(f"expected {len(request.input)} embeddings in data")
    items = sorted((d for d in data if isinstance(d, dict)), key=lambda d: read_int(d.get("index")))
    response = pb.EmbedResponse()
    for item in items:
        values = item.get("embedding")
        if isinstance(values, str):
            # A server that ignored encoding_format=float: base64 of little-endian float32.
            floats = array("f")
            floats.frombytes(base64.b64decode(values))
            values = floats.tolist()
        if not isinstance(values, list):
            raise WireError("an embedding is not a list of numbers")
        response.embeddings.add(values=values)
    usage = obj.get("usage") if isinstance(obj, dict) else None
    if isinstance(usage, dict) and "prompt_tokens" in usage:
        tokens = read_int(usage.get("prompt_tokens"))
        response.usage.CopyFrom(
            pb.Usage(input_tokens=tokens, total_tokens=read_int(usage.get("total_tokens")) or tokens)
        )
    else:
        tokens = sum(count_text(text) for text in request.input)
        response.usage.CopyFrom(pb.Usage(input_tokens=tokens, total_tokens=tokens, estimated=True))
    return response
