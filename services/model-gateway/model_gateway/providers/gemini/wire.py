"""Paths of the Gemini API, the shared lenient readers, and FailedFinish.

Readers (providers/readers.py) are lenient: a missing or mistyped optional
field reads as empty; only a reply without the shape a translator needs
raises WireError.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from model_gateway.providers.readers import JSON, WireError, read_dict, read_int, read_list, read_str

API_VERSION = "v1beta"
_VERSIONED = re.compile(r"/v\d+(?:alpha|beta)?\d*$")


def api_root(base_url: str) -> str:
    """The versioned API root: `base_url` as is when it already ends in /v1beta (or /v1), else + /v1beta."""
    base = base_url.rstrip("/")
    return base if _VERSIONED.search(base) else f"{base}/{API_VERSION}"


def resource_name(model: str) -> str:
    """`models/<id>` for a bare id; `models/...` and `tunedModels/...` names pass as they are."""
    return model if "/" in model else f"models/{model}"


def method_path(model: str, method: str) -> str:
    """`/models/<id>:<method>`, relative to the API root."""
    return "/" + quote(resource_name(model), safe="/-._~") + ":" + method


__all__ = [
    "JSON",
    "FailedFinish",
    "WireError",
    "api_root",
    "method_path",
    "read_dict",
    "read_int",
    "read_list",
    "read_str",
    "resource_name",
]


class FailedFinish(Exception):
    """A candidate that ended in a failure Gemini reports as a finish reason (MALFORMED_FUNCTION_CALL)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message
