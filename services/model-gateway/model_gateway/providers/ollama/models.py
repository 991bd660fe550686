"""`GET /api/tags` (the local model names) and `POST /api/show` (one model's details)."""

from __future__ import annotations

from model_gateway.providers.ollama.wire import JSON, read_object, read_text

TAGS_PATH = "/api/tags"
SHOW_PATH = "/api/show"


def model_names(obj: JSON) -> list[str]:
    """The names in a GET /api/tags reply."""
    models = obj.get("models") or []
    if not isinstance(models, list):
        raise ValueError("models is not a list")
    return [read_text(read_object(m, "model").get("name") or m.get("model"), "model name") for m in models]
