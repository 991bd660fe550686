"""/v1/embeddings: CreateEmbeddingRequest → canonical, and the EmbedResponse back as OpenAI's list."""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Iterable

from model_gateway_bridge.fields import INT32, JSON, show
from model_gateway_bridge.surfaces.openai.errors import FIELDS as read
from model_gateway_bridge.surfaces.openai.errors import PARAMS
from model_gateway_common.structs import dict_to_struct
from modelgateway.v1 import gateway_pb2 as pb

_EMBEDDING_KEYS = frozenset({"model", "input", "dimensions", "encoding_format"})


def parse_embedding(body: JSON) -> tuple[pb.EmbedRequest, str]:
    """The canonical request and the encoding_format ("float" or "base64") of the reply."""
    request = pb.EmbedRequest(model=read.required_string(body.get("model"), "model"))
    value = body.get("input")
    if value is None:
        raise PARAMS.missing("input")
    inputs = [value] if isinstance(value, str) else read.array(value, "input")
    if not inputs:
        raise PARAMS.wrong_value("input", "must not be empty")
    for i, item in enumerate(inputs):
        if not isinstance(item, str):
            # Token arrays need the model's tokenizer, which only the upstream has.
            raise PARAMS.wrong_value(
                "input", f"only strings are supported (not token arrays), got {show(item)} at input[{i}]"
            )
        request.input.append(item)
    if body.get("dimensions") is not None:
        request.dimensions = read.integer(body["dimensions"], "dimensions", INT32)
    encoding = body.get("encoding_format")
    if encoding is None:
        encoding = "float"
    if encoding not in ("float", "base64"):
        raise PARAMS.wrong_value("encoding_format", f"expected float or base64, got {show(encoding)}")
    read.string(body.get("user"), "user")  # passed through, but OpenAI's type all the same
    extras = {key: value for key, value in body.items() if key not in _EMBEDDING_KEYS and value is not None}
    if extras:
        dict_to_struct(extras, request.provider_options)  # `user`, vLLM's truncate_prompt_tokens, ...
    return request, encoding


def _float32_base64(values: Iterable[float]) -> str:
    packed = array("f", values)
    if sys.byteorder == "big":
        packed.byteswap()  # the wire format is little-endian float32
    return base64.b64encode(packed.tobytes()).decode("ascii")


def embedding_response(response: pb.EmbedResponse, encoding: str) -> JSON:
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": _float32_base64(e.values) if encoding == "base64" else list(e.values),
        }
        for i, e in enumerate(response.embeddings)
    ]
    prompt_tokens = response.usage.input_tokens
    return {
        "object": "list",
        "data": data,
        "model": response.model,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "total_tokens": response.usage.total_tokens or prompt_tokens,
        },
    }
