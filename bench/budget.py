"""The issue's performance budget, read off a run. Reported, never asserted by tests."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.measure import Run, Scenario

RSS_LIMIT_MB = 150.0
GROWTH_LIMIT_PCT = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    limit: str  # e.g. "≥ 1,500 req/s"
    value: float | None  # None: not measured in this run
    unit: str
    ok: bool | None


def _value(scenario: Scenario | None, field: str) -> float | None:
    if scenario is None or scenario.result is None:
        return None
    value: float | None = getattr(scenario, field, None)
    if value is None:
        value = getattr(scenario.result, field, None)
    return None if value is None or math.isnan(value) else value


def _check(
    name: str, value: float | None, limit: float, at_least: bool, unit: str, strict: bool = False
) -> Check:
    sign = "≥" if at_least else ("<" if strict else "≤")
    if value is None:
        ok = None
    elif at_least:
        ok = value >= limit
    else:
        ok = value < limit if strict else value <= limit
    return Check(name, f"{sign} {limit:,g} {unit}", value, unit, ok)


def checks(run: Run) -> list[Check]:
    found = [
        _check(
            "REST /v1/chat/completions, 32 conns",
            _value(run.find("openai", "unary", 32), "rps"),
            1500,
            True,
            "req/s",
        ),
        _check("gRPC Generate, 32 conns", _value(run.find("grpc", "unary", 32), "rps"), 2500, True, "req/s"),
    ]
    for key, label, limit in (
        ("openai", "REST /v1/chat/completions", 1.5),
        ("ollama", "REST Ollama /api/chat", 1.5),
        ("grpc", "gRPC Generate", 0.8),
    ):
        value = _value(run.find(key, "unary", 1), "added_p50_ms")
        found.append(_check(f"added p50, {label}, 1 conn", value, limit, False, "ms"))
    for key, label in (
        ("grpc", "gRPC StreamGenerate"),
        ("openai", "REST /v1/chat/completions"),
        ("ollama", "REST Ollama /api/chat"),
    ):
        value = _value(run.find(key, "stream", 1), "added_ttfc_p50_ms")
        found.append(_check(f"added first chunk p50, {label}, 1 conn", value, 2.0, False, "ms"))
    for memory in run.memory:
        if memory.process in ("serve", "bridge"):
            found.append(
                _check(f"RSS of {memory.process} at the end", memory.at_full_mb, RSS_LIMIT_MB, False, "MB")
            )
            found.append(
                _check(
                    f"RSS growth of {memory.process}, half to end",
                    memory.growth_pct,
                    GROWTH_LIMIT_PCT,
                    False,
                    "%",
                    strict=True,
                )
            )
    return found
