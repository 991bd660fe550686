"""What one load run yields, and the percentile arithmetic shared by every tool."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoadResult:
    requests: int  # completed and good
    errors: int  # failed, refused, bad status or bad body
    duration_s: float
    p50_ms: float  # unary: whole request; stream: time to the last chunk
    p99_ms: float
    ttfc_p50_ms: float | None = None  # streams only: time to the first chunk
    ttfc_p99_ms: float | None = None
    first_error: str | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Scenario:
    """One path, one mode, one concurrency: the load result and what it cost each process."""

    key: str  # direct | grpc | openai | ollama | litellm
    label: str
    mode: str  # unary | stream
    connections: int
    tool: str
    result: LoadResult | None = None
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    added_p50_ms: float | None = None  # p50 (stream: to the last chunk) minus direct's, same run
    added_ttfc_p50_ms: float | None = None  # streams: first-chunk p50 minus direct's


@dataclass
class Memory:
    """Resident memory of one process: after the scenarios, then along the growth run."""

    process: str
    after_scenarios_mb: float
    at_half_mb: float | None = None
    at_full_mb: float | None = None

    @property
    def growth_pct(self) -> float | None:
        if not self.at_half_mb or self.at_full_mb is None:
            return None
        return (self.at_full_mb - self.at_half_mb) / self.at_half_mb * 100.0


@dataclass
class Growth:
    target: int  # requests asked for
    connections: int
    half_requests: int = 0  # requests done when the half-way memory was read
    full_requests: int = 0
    errors: int = 0
    rps: float = 0.0
    error: str | None = None


@dataclass
class Run:
    """Everything one `python -m bench` measured."""

    date: str  # ISO 8601, UTC
    machine: dict[str, str | int | float]
    settings: dict[str, object]
    scenarios: list[Scenario] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    growth: Growth | None = None
    notes: list[str] = field(default_factory=list)
    # Share of the machine's CPU used by processes other than the benchmark's
    # during the run: other work on a shared box makes every figure noisy.
    background_cpu_pct: float | None = None

    def find(self, key: str, mode: str, connections: int) -> Scenario | None:
        for scenario in self.scenarios:
            if (scenario.key, scenario.mode, scenario.connections) == (key, mode, connections):
                return scenario
        return None

    @property
    def failures(self) -> list[str]:
        found = [
            f"{s.label} ({s.mode}, {s.connections} conn): {s.error or (s.result and s.result.first_error)}"
            for s in self.scenarios
            if s.error or s.result is None or s.result.errors or not s.result.requests
        ]
        if self.growth and (self.growth.error or self.growth.errors):
            found.append(f"growth run: {self.growth.error or f'{self.growth.errors} errors'}")
        return found
