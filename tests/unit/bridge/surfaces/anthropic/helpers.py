"""What the Anthropic surface's tests share: SDK-type strictness and SSE parsing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter

T = TypeVar("T")


def undeclared(model: Any, raw: Any, path: str = "") -> Iterator[str]:
    """Paths of keys in `raw` that the parsed pydantic `model` has no field for."""
    if isinstance(model, BaseModel) and isinstance(raw, dict):
        fields = type(model).model_fields
        by_key = {name: name for name in fields} | {f.alias: name for name, f in fields.items() if f.alias}
        for key, value in raw.items():
            where = f"{path}.{key}" if path else key
            if key not in by_key:
                yield where
            else:
                yield from undeclared(getattr(model, by_key[key]), value, where)
    elif isinstance(raw, list) and isinstance(model, Sequence) and not isinstance(model, str):
        for i, (item, raw_item) in enumerate(zip(model, raw, strict=False)):
            yield from undeclared(item, raw_item, f"{path}[{i}]")


def strict(kind: Any, raw: Any) -> Any:
    """`raw` validated as the SDK type `kind` (a class or a union), with no key the type does not declare."""
    parsed = _adapter(kind).validate_python(raw)
    extra = list(undeclared(parsed, raw))
    assert not extra, f"{kind} does not declare {extra}: {raw}"
    return parsed


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def sse(raw: bytes) -> list[tuple[str, Any]]:
    """(event name, data) per SSE event; every event must name itself and carry JSON data."""
    out: list[tuple[str, Any]] = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(lines) == {"event", "data"}, block
        data = orjson.loads(lines["data"])
        assert data["type"] == lines["event"], block
        out.append((lines["event"], data))
    return out
