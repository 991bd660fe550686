"""The issue's performance budget, read off a run. Reported, never asserted by tests.

Lines without a topology are the default topology's (the first measured);
the sidecar's figures are in the tables beside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench import payloads
from bench.measure import Run, Scenario

RSS_LIMIT_MB = 150.0
GROWTH_LIMIT_PCT = 5.0
GATEWAY_PROCESSES = ("worker", "serve", "bridge")


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
    shown = f"{limit:,g}x" if unit == "x LiteLLM" else f"{limit:,g} {unit}"
    return Check(name, f"{sign} {shown}", value, unit, ok)


def _ratio(run: Run, key: str, mode: str, connections: int) -> float | None:
    ours = _value(run.find(key, mode, connections), "rps")
    theirs = _value(run.find("litellm", mode, connections), "rps")
    return ours / theirs if ours is not None and theirs else None


def cpu_per_delta(scenario: Scenario | None) -> dict[str, float]:
    """CPU ms per streamed delta of each gateway process: the whole stream's CPU over its deltas."""
    if scenario is None:
        return {}
    deltas = len(payloads.PIECES)
    return {
        name: value / deltas
        for name, value in scenario.cpu_ms_per_request.items()
        if name in GATEWAY_PROCESSES and not math.isnan(value) and value > 0.005 * deltas
    }


def checks(run: Run) -> list[Check]:
    rest32 = run.find("openai", "unary", 32)
    found = [
        _check("REST /v1/chat/completions, 32 conns", _value(rest32, "rps"), 1500, True, "req/s"),
        _check(
            "REST /v1/chat/completions, 32 conns, vs LiteLLM",
            _ratio(run, "openai", "unary", 32),
            40,
            True,
            "x LiteLLM",
        ),
        _check(
            "REST streams of 10 deltas, 32 conns, vs LiteLLM",
            _ratio(run, "openai", "stream", 32),
            30,
            True,
            "x LiteLLM",
        ),
    ]
    stream32 = run.find("openai", "stream", 32)
    for process, per_delta in cpu_per_delta(stream32).items():
        name = f"REST stream CPU per delta, {process} (stream / 10)"
        found.append(_check(name, per_delta, 0.1, False, "ms"))
        unary = rest32.cpu_ms_per_request.get(process) if rest32 is not None else None
        if unary is not None and not math.isnan(unary):
            marginal = per_delta - unary / len(payloads.PIECES)
            found.append(
                _check(
                    f"REST stream CPU per delta, {process} ((stream - unary call) / 10)",
                    marginal,
                    0.1,
                    False,
                    "ms",
                )
            )
    found.append(
        _check("gRPC Generate, 32 conns", _value(run.find("grpc", "unary", 32), "rps"), 2500, True, "req/s")
    )
    for key, label, limit in (
        ("openai", "REST /v1/chat/completions", 1.5),
        ("ollama", "REST Ollama /api/chat", 1.5),
        ("grpc", "gRPC Generate", 0.8),
    ):
        value = _value(run.find(key, "unary", 1), "added_p50_ms")
        found.append(_check(f"added p50, {label}, 1 conn", value, limit, False, "ms"))
    for key, label, limit in (
        ("openai", "REST /v1/chat/completions", 2.0),
        ("ollama", "REST Ollama /api/chat", 2.0),
        ("grpc", "gRPC StreamGenerate", 1.0),
    ):
        value = _value(run.find(key, "stream", 1), "added_ttfc_p50_ms")
        found.append(_check(f"added first chunk p50, {label}, 1 conn", value, limit, False, "ms"))
    found.append(
        _check(
            "cache hit, REST /v1/chat/completions, 32 conns",
            _value(run.find("cache", "unary", 32), "rps"),
            3000,
            True,
            "req/s",
        )
    )
    for memory in run.memory:
        if memory.process in GATEWAY_PROCESSES and memory.at_full_mb is not None:
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
