"""/api/tags and /api/show, judged by the ollama client's ListResponse and ShowResponse."""

from __future__ import annotations

import re

import ollama

from model_gateway_bridge.surfaces.ollama.models import digest, show_json, tags_json
from tests.unit.bridge.scripted import LLAMA, TAGGED


def test_tags_parse_as_list_response() -> None:
    body = tags_json([LLAMA, TAGGED])
    listing = ollama.ListResponse.model_validate(body)
    assert [m.model for m in listing.models] == ["llama3.2:latest", "tiny:latest", "qwen3:8b"]
    assert [m["name"] for m in body["models"]] == ["llama3.2:latest", "tiny:latest", "qwen3:8b"]
    first = listing.models[0]
    assert first.details is not None and first.details.family == "llama" and first.details.format == "gguf"
    assert first.modified_at is not None and first.modified_at.year == 2023
    # An alias is the same model: the same digest, stable across calls.
    assert body["models"][0]["digest"] == body["models"][1]["digest"] == digest("llama3.2")
    assert re.fullmatch(r"[0-9a-f]{64}", body["models"][2]["digest"])


def test_show_parses_as_show_response() -> None:
    reply = ollama.ShowResponse.model_validate(show_json(LLAMA))
    assert reply.capabilities == ["completion", "tools"]
    assert reply.modelinfo is not None and reply.modelinfo["llama.context_length"] == 131072
    assert reply.details is not None and reply.details.family == "llama"
    assert reply.parameters is not None and "num_ctx" in reply.parameters
