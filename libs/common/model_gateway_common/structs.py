"""google.protobuf.Struct ⇄ plain JSON, once for both processes.

Struct stores every number as a double, so `num_ctx: 4096` comes back as
4096.0; upstreams and clients expect integers where they wrote integers.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

_MAX_EXACT_INT = 2**53  # past this a double no longer holds every integer


def plain_json(value: Any) -> Any:
    """A Struct-decoded value with integral floats turned back into ints, at any depth."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _MAX_EXACT_INT:
        return int(value)
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    return value


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain JSON (see plain_json); an empty Struct as {}."""
    if not struct.fields:
        return {}
    return {key: plain_json(value) for key, value in json_format.MessageToDict(struct).items()}


# Each JSON level is two protobuf levels (Struct/ListValue and Value), and protobuf refuses
# messages nested past 100: deeper JSON would fail later, in a copy or on the wire, as a 500.
MAX_DEPTH = 32


class TooDeep(ValueError):
    """A JSON value nested past MAX_DEPTH levels, refused before it becomes a Struct."""


def _within(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values() if isinstance(child, dict | list))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item if isinstance(child, dict | list))
    return True


def dict_to_struct(value: dict[str, Any], out: struct_pb2.Struct | None = None) -> struct_pb2.Struct:
    """A JSON object into a Struct (`out` when given, to fill a message's field in place).

    Raises TooDeep past MAX_DEPTH levels (the bridge answers 400 naming the limit)."""
    if not _within(value, MAX_DEPTH):
        raise TooDeep(f"a JSON object nests deeper than {MAX_DEPTH} levels, the most accepted")
    struct = struct_pb2.Struct() if out is None else out
    struct.update(value)
    return struct
