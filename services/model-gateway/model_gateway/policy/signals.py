"""What the policy stages report (cache verdicts, refusals, store failures), as a protocol.

Policy never imports telemetry: the server hands the stages an object that
implements this (obs/metrics.py PolicyMetrics); tests and a pipeline built
without metrics get NO_METRICS.
"""

from __future__ import annotations

from typing import Literal, Protocol

CacheOutcome = Literal["hit", "miss", "bypass"]
Scope = Literal["key", "project", "model", "gateway"]
LimitKind = Literal["requests", "tokens", "budget"]
Store = Literal["limits", "cache"]


class PolicyMetrics(Protocol):
    def cache(self, outcome: CacheOutcome) -> None: ...

    def refused(self, scope: Scope, limit: LimitKind) -> None: ...

    def store_error(self, store: Store) -> None:
        """The shared store (Redis) failed; the stage went on without it (or refused, if closed)."""


class _NoMetrics:
    def cache(self, outcome: CacheOutcome) -> None:
        return None

    def refused(self, scope: Scope, limit: LimitKind) -> None:
        return None

    def store_error(self, store: Store) -> None:
        return None


NO_METRICS: PolicyMetrics = _NoMetrics()
