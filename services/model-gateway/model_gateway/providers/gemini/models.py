"""`GET /v1beta/models`: the model ids of one page, and the token of the next."""

from __future__ import annotations

from typing import Any

from model_gateway.providers.gemini.wire import WireError, read_dict, read_list, read_str

MODELS_PATH = "/models"
PAGE_SIZE = 1000  # the API caps pages at 1000
MAX_PAGES = 20


def models_page(obj: Any) -> tuple[list[str], str]:
    """(ids without the `models/` prefix, nextPageToken or "")."""
    body = read_dict(obj)
    if "models" not in body and body:
        raise WireError("the models reply has no models list")
    ids = [
        read_str(read_dict(model).get("name")).removeprefix("models/")
        for model in read_list(body.get("models"))
        if read_str(read_dict(model).get("name"))
    ]
    return ids, read_str(body.get("nextPageToken"))
