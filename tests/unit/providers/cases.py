"""The golden wire fixtures in tests/fixtures/<dialect>/, listed for table-driven tests.

A case is `<case>.canonical.json` with `<case>.wire.json` (a request or a
reply) or `<case>.wire.ndjson` / `<case>.wire.sse` (a stream). Replies have
`response` in the name; see tests/fixtures/README.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import orjson

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

_CANONICAL = ".canonical.json"
_STREAM_SUFFIXES = (".wire.ndjson", ".wire.sse")


def path(dialect: str, name: str) -> Path:
    return FIXTURES / dialect / name


def read_bytes(dialect: str, name: str) -> bytes:
    return path(dialect, name).read_bytes()


def read_json(dialect: str, name: str) -> Any:
    return orjson.loads(read_bytes(dialect, name))


def cases(dialect: str, kind: Literal["request", "response", "stream"]) -> list[str]:
    """The names of the dialect's cases of one kind, sorted."""
    found: list[str] = []
    for canonical in (FIXTURES / dialect).glob(f"*{_CANONICAL}"):
        case = canonical.name.removesuffix(_CANONICAL)
        stream = any((FIXTURES / dialect / f"{case}{suffix}").exists() for suffix in _STREAM_SUFFIXES)
        if stream:
            is_kind = kind == "stream"
        elif (FIXTURES / dialect / f"{case}.wire.json").exists():
            reply = "response" in case.split("_")
            is_kind = kind == ("response" if reply else "request")
        else:
            raise AssertionError(f"{canonical} has no wire side")
        if is_kind:
            found.append(case)
    assert found, f"no {kind} cases in {FIXTURES / dialect}"
    return sorted(found)
