"""What the load-aware strategies read of each deployment: calls in flight and how fast it answers.

Kept only for deployments of models whose strategy needs them (least_busy,
latency); failover updates them around each attempt. In process memory:
each instance balances on what it sees itself.
"""

from __future__ import annotations

import math
from collections import deque

# Weight of the newest sample in the moving averages.
EWMA_ALPHA = 0.3
RECENT = 100  # unary latencies kept for percentiles (hedging)


class DeploymentStats:
    __slots__ = ("first_token_s", "in_flight", "label", "latency_s", "recent", "samples")

    def __init__(self, label: str) -> None:
        self.label = label
        self.in_flight = 0
        self.first_token_s = 0.0  # streams: EWMA of the time to the first chunk
        self.latency_s = 0.0  # unary calls: EWMA of the time to the answer
        self.samples = [0, 0]  # [unary, stream] samples taken
        self.recent: deque[float] = deque(maxlen=RECENT)  # the latest unary latencies

    def started(self) -> None:
        self.in_flight += 1

    def ended(self) -> None:
        self.in_flight -= 1

    def answered(self, seconds: float, stream: bool) -> None:
        """An answer (unary) or a first chunk (stream) after `seconds`."""
        index = 1 if stream else 0
        seen = self.samples[index]
        self.samples[index] = seen + 1
        if stream:
            self.first_token_s = (
                seconds if not seen else self.first_token_s + EWMA_ALPHA * (seconds - self.first_token_s)
            )
        else:
            self.latency_s = seconds if not seen else self.latency_s + EWMA_ALPHA * (seconds - self.latency_s)
            self.recent.append(seconds)

    def percentile(self, p: float) -> float:
        """The p-th percentile of the recent unary latencies (nearest rank)."""
        ordered = sorted(self.recent)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    def speed(self, stream: bool) -> tuple[int, float]:
        """(samples, EWMA seconds) for the kind of call asked."""
        return (self.samples[1], self.first_token_s) if stream else (self.samples[0], self.latency_s)
