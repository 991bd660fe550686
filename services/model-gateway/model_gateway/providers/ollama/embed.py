"""`POST /api/embed`: canonical EmbedRequest → body, and the reply → canonical EmbedResponse."""

from __future__ import annotations

from model_gateway.providers.ollama.request import with_extras
from model_gateway.providers.ollama.wire import JSON, read_count
from model_gateway.tokens import count_text
from modelgateway.v1 import gateway_pb2 as pb

EMBED_PATH = "/api/embed"


def embed_body(request: pb.EmbedRequest, model: str) -> JSON:
    body: JSON = {"model": model, "input": list(request.input)}
    if request.HasField("truncate"):
        body["truncate"] = request.truncate
    if request.HasField("dimensions"):
        body["dimensions"] = request.dimensions
    return with_extras(body, {}, request.provider_options)


def embed_response(obj: JSON, request: pb.EmbedRequest) -> pb.EmbedResponse:
    vectors = obj.get("embeddings")
    if not isinstance(vectors, list):
        raise ValueError("the reply has no embeddings list")
    if len(vectors) != len(request.input):
        raise ValueError(f"{len(vectors)} embeddings for {len(request.input)} inputs")
    input_tokens = read_count(obj, "prompt_eval_count")
    estimated = input_tokens is None
    if input_tokens is None:
        input_tokens = sum(count_text(text) for text in request.input)
    return pb.EmbedResponse(
        embeddings=[pb.Embedding(values=vector) for vector in vectors],
        usage=pb.Usage(input_tokens=input_tokens, total_tokens=input_tokens, estimated=estimated),
    )
