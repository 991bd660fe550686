"""The one rule for a caller-chosen request id: a short printable token, or a new one."""

from __future__ import annotations

import os
import re

REQUEST_ID_HEADER = "x-request-id"
_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def valid_request_id(value: str | None) -> str | None:
    """The caller's id when it is safe to log and echo (letters, digits, `._:-`, ≤128), else None."""
    if value and _TOKEN.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return os.urandom(16).hex()  # uuid4().hex's 128 random bits, a fifth of its cost


def request_id_or_new(value: str | None) -> tuple[str, bool]:
    """The caller's id if valid, else a new one; and whether it is new."""
    valid = valid_request_id(value)
    return (valid, False) if valid is not None else (new_request_id(), True)
