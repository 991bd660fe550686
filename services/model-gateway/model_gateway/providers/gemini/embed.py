"""`models/{m}:batchEmbedContents` both ways.

One EmbedContentRequest per input, each naming the model again (the API
requires it to match the URL's). `dimensions` becomes outputDimensionality;
a `taskType` (RETRIEVAL_QUERY, SEMANTIC_SIMILARITY, ...) comes from the
request's provider_options or the model's `task_type` option. The reply
carries no token counts, so usage is estimated unless Gemini adds them.
"""

from __future__ import annotations

from typing import Any

from model_gateway.providers.base import ModelSettings
from model_gateway.providers.gemini.wire import JSON, WireError, read_dict, read_int, read_list, resource_name
from model_gateway.tokens import count_text
from model_gateway_common.structs import struct_to_dict
from modelgateway.v1 import gateway_pb2 as pb


def embed_body(request: pb.EmbedRequest, model: str, settings: ModelSettings) -> JSON:
    extras = struct_to_dict(request.provider_options)
    task = extras.get("taskType", extras.get("task_type", settings.options.get("task_type")))
    title = extras.get("title")
    entries: list[JSON] = []
    for text in request.input:
        entry: JSON = {"model": resource_name(model), "content": {"parts": [{"text": text}]}}
        if isinstance(task, str) and task:
            entry["taskType"] = task
        if isinstance(title, str) and title:
            entry["title"] = title  # only meaningful with RETRIEVAL_DOCUMENT
        if request.HasField("dimensions"):
            entry["outputDimensionality"] = request.dimensions
        entries.append(entry)
    return {"requests": entries}


def embed_response(obj: Any, request: pb.EmbedRequest) -> pb.EmbedResponse:
    embeddings = read_list(read_dict(obj).get("embeddings"))
    if len(embeddings) != len(request.input):
        raise WireError(f"expected {len(request.input)} embeddings, got {len(embeddings)}")
    response = pb.EmbedResponse()
    for item in embeddings:
        values = read_dict(item).get("values")
        if not isinstance(values, list):
            raise WireError("an embedding has no list of values")
        response.embeddings.add(values=values)
    usage = read_dict(read_dict(obj).get("usageMetadata"))
    if "promptTokenCount" in usage:
        tokens = read_int(usage.get("promptTokenCount"))
        total = read_int(usage.get("totalTokenCount")) or tokens
        response.usage.CopyFrom(pb.Usage(input_tokens=tokens, total_tokens=total))
    else:
        tokens = sum(count_text(text) for text in request.input)
        response.usage.CopyFrom(pb.Usage(input_tokens=tokens, total_tokens=tokens, estimated=True))
    return response
