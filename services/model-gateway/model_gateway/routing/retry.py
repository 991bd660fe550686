"""What a failed attempt means: retry the deployment? count it against its breaker? And how long to wait.

- **Failover** (another route may succeed) is `GatewayError.failover`: every
  upstream failure except a bad request (and cancellation).
- **Retry** (the same deployment again, after a backoff) only for failures
  that may pass: 429, 5xx (529 included), refused connections, timeouts,
  garbled replies — gRPC UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN,
  DEADLINE_EXCEEDED. An upstream that rejected the gateway's key (401/403)
  or does not have the model (404) answers the same way again: failover, no
  retry.
- **Breaker failure**: the failover kinds, except a rate limit (429: the
  deployment is up, only busy), Ollama's "server busy" 503 (back-pressure:
  next deployment, no failure) and a timeout that was the caller's own
  deadline running out. An upstream that answered anything else (429, a
  400) is alive: that resets the failure streak and closes a half-open
  breaker.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

import grpc

from model_gateway.errors import GatewayError, Reason

_RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    }
)
_TIMEOUTS = frozenset({Reason.UPSTREAM_TIMEOUT, Reason.DEADLINE_EXCEEDED})
# Less than this left of the call when a timeout came: the caller's deadline, not the upstream's timeout.
_DEADLINE_SLACK_S = 0.05


class Verdict(Enum):
    FAILURE = "failure"  # counts against the deployment's breaker
    ALIVE = "alive"  # the upstream answered (rate limit, busy, bad request): not a failure
    UNKNOWN = "unknown"  # says nothing of the deployment (the caller's deadline, no answer)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 0  # extra tries of one deployment
    initial_s: float = 0.25
    max_s: float = 8.0

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds before the `retry`-th extra try (1-based), or None: do not retry.

        Full jitter (uniform between 0 and initial_s·2^(retry-1), capped at
        max_s); a Retry-After (retry-after-ms) hint is a floor, and one
        longer than max_s is not waited for.
        """
        ceiling = min(self.max_s, self.initial_s * 2.0 ** (retry - 1))
        wait = rng.uniform(0.0, ceiling)
        if retry_after is not None:
            if retry_after > self.max_s:
                return None
            wait = max(wait, retry_after)
        return wait


NO_RETRIES = RetryPolicy()


def retryable(error: GatewayError) -> bool:
    return error.code in _RETRYABLE


def busy(error: GatewayError, kind: str) -> bool:
    """Ollama's 503 "server busy" (OLLAMA_MAX_QUEUE reached): back-pressure, not sickness."""
    return (
        kind == "ollama"
        and error.metadata.get("upstream_status") == "503"
        and "server busy" in error.message.lower()
    )


def ran_out(error: GatewayError, left_s: float) -> bool:
    """A timeout with (almost) nothing left of the call: the caller's deadline, not the upstream's
    timeout. The upstream's timer and the call's deadline read different clocks (uvloop caches its
    time per loop turn), so the timer may fire a few milliseconds before the deadline passes."""
    timed_out = error.reason in _TIMEOUTS or error.code == grpc.StatusCode.DEADLINE_EXCEEDED
    return timed_out and left_s <= _DEADLINE_SLACK_S


def verdict(error: GatewayError, kind: str, left_s: float) -> Verdict:
    """What an attempt's failure says of its deployment; `left_s` is what was left of the call after it."""
    if not error.failover:
        return Verdict.ALIVE if "upstream_status" in error.metadata else Verdict.UNKNOWN
    if error.code == grpc.StatusCode.RESOURCE_EXHAUSTED or busy(error, kind):
        return Verdict.ALIVE
    if ran_out(error, left_s):
        return Verdict.UNKNOWN
    return Verdict.FAILURE
