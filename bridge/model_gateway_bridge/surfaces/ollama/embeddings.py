"""/api/embed and the legacy /api/embeddings: bodies → canonical EmbedRequest, replies back."""

from __future__ import annotations

from model_gateway_bridge.fields import INT32, JSON
from model_gateway_bridge.surfaces.ollama.errors import FIELDS as read
from model_gateway_bridge.surfaces.ollama.request import check_extras, model
from model_gateway_common.structs import dict_to_struct
from modelgateway.v1 import gateway_pb2 as pb


def embed_request(body: JSON) -> pb.EmbedRequest:
    """A POST /api/embed body; `input` is a string or a list of strings."""
    request = pb.EmbedRequest(model=model(body))
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else read.array(raw, "input")
    for i, item in enumerate(inputs):
        if not isinstance(item, str):
            raise read.wrong_type(f"input[{i}]" if not isinstance(raw, str) else "input", "string", item)
        if item:  # Ollama skips an empty string input
            request.input.append(item)
    truncate = read.optional_boolean(body.get("truncate"), "truncate")
    if truncate is not None:
        request.truncate = truncate
    if body.get("dimensions") is not None:
        request.dimensions = read.integer(body["dimensions"], "dimensions", INT32)
    _embed_extras(request, body)
    return request


def embeddings_request(body: JSON) -> pb.EmbedRequest:
    """A legacy POST /api/embeddings body: one `prompt`."""
    request = pb.EmbedRequest(model=model(body))
    prompt = read.string(body.get("prompt"), "prompt")
    if prompt:
        request.input.append(prompt)
    _embed_extras(request, body)
    return request


def _embed_extras(request: pb.EmbedRequest, body: JSON) -> None:
    extras: JSON = {}
    if body.get("options") is not None:
        extras["options"] = read.object(body["options"], "options")
    if body.get("keep_alive") is not None:
        extras["keep_alive"] = body["keep_alive"]
    check_extras(extras)
    if extras:
        dict_to_struct(extras, request.provider_options)


def embed_json(model_name: str, reply: pb.EmbedResponse, duration_ns: int) -> JSON:
    """The /api/embed reply (EmbedResponse in the ollama client)."""
    return {
        "model": model_name,
        "embeddings": [list(e.values) for e in reply.embeddings],
        "total_duration": duration_ns,
        "load_duration": 0,
        "prompt_eval_count": reply.usage.input_tokens,
    }


def embeddings_json(reply: pb.EmbedResponse) -> JSON:
    """The legacy /api/embeddings reply: the one embedding."""
    return {"embedding": list(reply.embeddings[0].values) if reply.embeddings else []}
