"""GET /v1/models and /v1/models/{model_id} in the Models API's shape (requests with `anthropic-version`).

Every configured name and every alias is a model of its own, as on the
OpenAI surface; the list pages as Anthropic's does (`limit`, `after_id`,
`before_id`; `has_more`, `first_id`, `last_id`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from model_gateway_bridge.fields import JSON
from modelgateway.v1 import gateway_pb2 as pb

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


def created_at(unix_seconds: int) -> str:
    """RFC 3339 in UTC, as the API writes it ("2025-02-19T00:00:00Z")."""
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_info(name: str, model: pb.Model) -> JSON:
    info: JSON = {
        "type": "model",
        "id": name,
        "display_name": name,
        "created_at": created_at(model.created),
        "lifecycle": "active",
    }
    if model.context_window:
        info["max_input_tokens"] = model.context_window
    return info


def model_page(reply: pb.ListModelsResponse, limit: int, after_id: str = "", before_id: str = "") -> JSON:
    entries = [model_info(name, m) for m in reply.models for name in (m.name, *m.aliases)]
    ids = [entry["id"] for entry in entries]
    if after_id:
        start = ids.index(after_id) + 1 if after_id in ids else len(ids)
        page, has_more = entries[start : start + limit], start + limit < len(entries)
    elif before_id:
        end = ids.index(before_id) if before_id in ids else 0
        page, has_more = entries[max(0, end - limit) : end], end - limit > 0
    else:
        page, has_more = entries[:limit], limit < len(entries)
    return {
        "data": page,
        "has_more": has_more,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
    }
