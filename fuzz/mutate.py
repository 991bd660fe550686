"""A structure-aware mutator: JSON seeds stay JSON, with values swapped for hostile ones.

libFuzzer's byte mutations mostly break JSON, and a parser's interesting paths
are behind valid JSON of the wrong shape: a string where a list was, a huge
number, a null, an object nested a thousand deep. Half the time a JSON input
gets one such structural change; otherwise (and for non-JSON) libFuzzer mutates
the bytes.
"""

from __future__ import annotations

import json
import random
from typing import Any

import atheris

HOSTILE: tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    2**31,
    2**63,
    -(2**63) - 1,
    10**400,
    1e308,
    -0.0,
    "",
    "\x00",
    "\ud800",
    "x" * 5000,
    [],
    {},
    [None],
    {"": None},
    [[[[[]]]]],
    {"type": "text", "text": None},
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def mutate_json(value: Any, pick: random.Random) -> Any:
    paths = _paths(value)
    target = pick.choice(paths)
    move = pick.randrange(5)
    if move == 0:  # a hostile value
        return _replace(value, target, pick.choice(HOSTILE))
    if move == 1:  # another part of the document, in the wrong place
        return _replace(value, target, _get(value, pick.choice(paths)))
    if move == 2 and target:  # drop a key or an item
        parent, last = target[:-1], target[-1]
        container = _get(value, parent)
        if isinstance(container, dict):
            return _replace(value, parent, {k: v for k, v in container.items() if k != last})
        return _replace(value, parent, [v for i, v in enumerate(container) if i != last])
    if move == 3:  # deep nesting
        nested: Any = pick.choice(HOSTILE)
        for _ in range(pick.choice((10, 200, 2000))):
            nested = [nested] if pick.random() < 0.5 else {"x": nested}
        return _replace(value, target, nested)
    return _replace(value, target, [_get(value, target)] * pick.randrange(2, 50))  # many of them


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    pick = random.Random(seed)
    if pick.random() < 0.5:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            value = None
        if value is not None:
            try:
                out = json.dumps(mutate_json(value, pick)).encode()
            except (ValueError, RecursionError):
                out = b""
            if out and len(out) <= max_size:
                return out
    mutated: bytes = atheris.Mutate(data, max_size)
    return mutated


def custom_line_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    """For SSE and NDJSON: mutate the JSON of one line structurally, or the bytes."""
    pick = random.Random(seed)
    lines = data.split(b"\n")
    if pick.random() < 0.5 and lines:
        index = pick.randrange(len(lines))
        line = lines[index]
        prefix = b"data: " if line.startswith(b"data: ") else b""
        try:
            value = json.loads(line[len(prefix) :])
            lines[index] = prefix + json.dumps(mutate_json(value, pick)).encode()
            out = b"\n".join(lines)
            if len(out) <= max_size:
                return out
        except (ValueError, RecursionError, TypeError):
            pass
    mutated: bytes = atheris.Mutate(data, max_size)
    return mutated
