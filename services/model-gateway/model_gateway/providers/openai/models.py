"""`GET /models`: the upstream's model ids."""

from __future__ import annotations

from typing import Any

from model_gateway.providers.readers import WireError

MODELS_PATH = "/models"


def model_ids(obj: Any) -> list[str]:
    data = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(data, list):
        raise WireError("the /models reply has no data list")
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
