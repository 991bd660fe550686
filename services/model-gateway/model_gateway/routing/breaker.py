"""Circuit breakers, one per deployment (`provider/model`): closed → open → half-open → closed.

- **closed**: calls flow. It opens after `failures` consecutive failures
  (none older than `window_s`), or when at least `min_calls` calls in the
  last `window_s` failed at `error_rate` or more. (Calls are counted from
  the first failure in the window on: a healthy deployment's calls cost no
  counting, and the rate is that of the calls since trouble began.)
- **open**: the deployment is skipped at once (failover moves on without
  spending time on it) until `cooldown_s` has passed.
- **half-open**: exactly one call, the probe, is admitted. Its success
  closes the breaker (and the cooldown is back to `cooldown_s`); its failure
  opens it again for twice the last cooldown (at most `max_cooldown_s`),
  counted from now, never from the older deadline.

The failover loop (core/failover.py) reports outcomes; routing never sees
a call. The hot path of a healthy deployment's breaker is two attribute
reads before the call (`closed`) and after it (no streak, no failure in the
window): no I/O, no clock. With `storage.redis` the state is shared (routing/breaker_redis.py):
`shared` is then set and failures, probes and closings go through Redis.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from model_gateway.routing_settings import BreakerSettings

if TYPE_CHECKING:
    from model_gateway.routing.breaker_redis import SharedBreakers

Clock = Callable[[], float]

_BUCKETS = 10  # the error-rate window is kept as this many buckets of window_s / _BUCKETS


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerListener(Protocol):
    def breaker_changed(self, deployment: str, state: CircuitState) -> None:
        """A breaker moved to `state` (metrics, logs)."""


class _Quiet:
    def breaker_changed(self, deployment: str, state: CircuitState) -> None:
        return None


QUIET = _Quiet()


@dataclass(frozen=True, slots=True)
class BreakerView:
    """A breaker as Health and ListModels show it."""

    deployment: str
    state: CircuitState
    retry_in_s: float  # open: seconds until a probe is admitted
    failures: int  # the current streak of consecutive failures
    last_error: str  # the last failure seen (providers redact secrets from their messages)


class Breaker:
    """One deployment's breaker. `admit` before a call (unless `closed`), then one of
    `succeeded`, `failed`, `released` with the ticket `admit` gave (0 for an ordinary call)."""

    __slots__ = (
        "_calls",
        "_fails",
        "_index",
        "_ring_calls",
        "_ring_fails",
        "_tickets",
        "bucket_s",
        "clock",
        "closed",
        "cooldown",
        "label",
        "last_error",
        "last_failure_at",
        "listener",
        "open_until",
        "probe",
        "probe_until",
        "settings",
        "shared",
        "shared_version",
        "state",
        "streak",
    )

    def __init__(
        self,
        label: str,
        settings: BreakerSettings,
        clock: Clock = time.monotonic,
        listener: BreakerListener = QUIET,
    ) -> None:
        self.label, self.settings, self.clock, self.listener = label, settings, clock, listener
        self.shared: SharedBreakers | None = None
        self.shared_version = 0  # of the last shared state applied here
        self.closed = True  # read on the hot path: state is CLOSED
        self.state = CircuitState.CLOSED
        self.open_until = 0.0
        self.cooldown = settings.cooldown_s
        self.streak = 0
        self.last_failure_at = -math.inf
        self.last_error = ""
        self.probe = 0  # the ticket of the probe in flight; -1: another instance probes (shared)
        self.probe_until = 0.0
        self._tickets = 0
        self.bucket_s = settings.window_s / _BUCKETS
        self._index = 0
        self._ring_calls = [0] * _BUCKETS
        self._ring_fails = [0] * _BUCKETS
        self._calls = self._fails = 0

    # --- before a call --------------------------------------------------------------------

    async def admit(self, lease_s: float) -> int | None:
        """None: skip this deployment now; 0: an ordinary call; > 0: the probe's ticket.

        `lease_s` is how long the probe may take before another call may probe.
        """
        if self.closed:
            return 0
        if self.shared is not None:
            return await self.shared.admit(self, lease_s)
        return self.admit_here(lease_s)

    def admit_here(self, lease_s: float) -> int | None:
        now = self.clock()
        if self.state is CircuitState.CLOSED:
            return 0
        if self.state is CircuitState.OPEN:
            if now < self.open_until:
                return None
            self._move(CircuitState.HALF_OPEN)
        if self.probe and now < self.probe_until:
            return None  # one probe at a time
        return self.take_probe(now, lease_s)

    def take_probe(self, now: float, lease_s: float) -> int:
        self._tickets += 1
        self.probe, self.probe_until = self._tickets, now + max(lease_s, 0.001)
        if self.state is not CircuitState.HALF_OPEN:
            self._move(CircuitState.HALF_OPEN)
        return self.probe

    # --- after a call ---------------------------------------------------------------------

    def succeeded(self, ticket: int) -> None:
        """The deployment answered (for a stream: its first chunk)."""
        if self.closed and not self.streak:  # the hot path
            if self._fails:  # successes count toward the error rate only while the window holds a failure
                self._count(self.clock(), failed=False)
            return
        if self.state is CircuitState.HALF_OPEN:
            if ticket > 0 and ticket == self.probe:
                self.close()
                if self.shared is not None:
                    self.shared.push(self, "ok", probe=True)
            return
        if self.state is CircuitState.OPEN:
            return  # a call admitted before it opened: says nothing new
        self._count(self.clock(), failed=False)
        self.streak = 0
        if self.shared is not None:
            self.shared.push(self, "ok")

    def failed(self, ticket: int, why: str) -> None:
        """The deployment failed in a way that says it is unwell (5xx, refused, its own timeout)."""
        now = self.clock()
        self.last_error = why
        if self.state is CircuitState.HALF_OPEN:
            if ticket > 0 and ticket == self.probe:
                self.open(now, min(self.cooldown * 2, self.settings.max_cooldown_s))
                if self.shared is not None:
                    self.shared.push(self, "fail", probe=True)
            return
        if self.state is CircuitState.OPEN:
            return
        if now - self.last_failure_at > self.settings.window_s:
            self.streak = 0
        self.streak += 1
        self.last_failure_at = now
        self._count(now, failed=True)
        settings = self.settings
        rate = self._calls >= settings.min_calls and self._fails >= settings.error_rate * self._calls
        shared = self.shared
        if shared is not None and shared.reachable:
            # The streak is counted in Redis, across instances; the error rate on this one's own calls.
            if rate:
                self.open(now, settings.cooldown_s)
            shared.push(self, "fail", force=rate)
        elif rate or self.streak >= settings.failures:
            self.open(now, settings.cooldown_s)

    def trip_here(self) -> None:
        """Open on this instance's own streak (when the shared one cannot be reached)."""
        if self.state is CircuitState.CLOSED and self.streak >= self.settings.failures:
            self.open(self.clock(), self.settings.cooldown_s)

    def released(self, ticket: int) -> None:
        """The call ended without a verdict (cancelled, or the caller's deadline ran out)."""
        if ticket > 0 and ticket == self.probe:
            self.probe, self.probe_until = 0, 0.0
            if self.shared is not None:
                self.shared.push(self, "release")

    # --- transitions ----------------------------------------------------------------------

    def open(self, now: float, cooldown: float) -> None:
        self.cooldown = cooldown
        self.open_until = now + cooldown
        self.streak = 0
        self.probe, self.probe_until = 0, 0.0
        self._reset_window()
        self._move(CircuitState.OPEN)

    def close(self) -> None:
        self.cooldown = self.settings.cooldown_s
        self.streak = 0
        self.probe, self.probe_until = 0, 0.0
        self._reset_window()
        self._move(CircuitState.CLOSED)

    def mirror(self, state: CircuitState, remaining_s: float, cooldown_s: float, streak: int) -> None:
        """Take on the shared state (routing/breaker_redis.py): `remaining_s` of an open cooldown."""
        now = self.clock()
        if state is CircuitState.CLOSED:
            if not self.closed:
                self.close()
            self.streak = streak
            return
        if cooldown_s > 0:
            self.cooldown = cooldown_s
        if state is CircuitState.OPEN:
            until = now + remaining_s
            if self.state is not CircuitState.OPEN or abs(until - self.open_until) > 0.05:
                cooldown = self.cooldown
                self.open(now, remaining_s)
                self.cooldown = cooldown
            return
        # Half-open there: here open with the cooldown over, so the next call asks for the probe lease.
        if self.state is CircuitState.CLOSED or (self.state is CircuitState.OPEN and self.open_until > now):
            cooldown = self.cooldown
            self.open(now, 0.0)
            self.cooldown = cooldown

    def _move(self, state: CircuitState) -> None:
        if state is self.state:
            return
        self.state = state
        self.closed = state is CircuitState.CLOSED
        self.listener.breaker_changed(self.label, state)

    def view(self) -> BreakerView:
        state, retry_in = self.state, 0.0
        if state is CircuitState.OPEN:
            retry_in = max(0.0, self.open_until - self.clock())
            if retry_in == 0.0:
                state = CircuitState.HALF_OPEN  # the next call will probe
        return BreakerView(self.label, state, retry_in, self.streak, self.last_error)

    # --- the error-rate window ---------------------------------------------------------------

    def _count(self, now: float, failed: bool) -> None:
        index = int(now / self.bucket_s)
        if index != self._index:
            self._advance(index)
        slot = index % _BUCKETS
        self._ring_calls[slot] += 1
        self._calls += 1
        if failed:
            self._ring_fails[slot] += 1
            self._fails += 1

    def _advance(self, index: int) -> None:
        """Forget the buckets that fell out of the window."""
        steps = min(index - self._index, _BUCKETS) if index > self._index else _BUCKETS
        for step in range(1, steps + 1):
            slot = (self._index + step) % _BUCKETS
            self._calls -= self._ring_calls[slot]
            self._fails -= self._ring_fails[slot]
            self._ring_calls[slot] = self._ring_fails[slot] = 0
        self._index = index

    def _reset_window(self) -> None:
        self._ring_calls = [0] * _BUCKETS
        self._ring_fails = [0] * _BUCKETS
        self._calls = self._fails = 0


class Breakers:
    """Every deployment's breaker, by label; one per deployment however many models use it."""

    def __init__(self, clock: Clock = time.monotonic, listener: BreakerListener = QUIET) -> None:
        self.clock, self.listener = clock, listener
        self._by_label: dict[str, Breaker] = {}

    def get(self, label: str, settings: BreakerSettings) -> Breaker | None:
        """The deployment's breaker (made on first use), or None when breakers are off for it."""
        if not settings.enabled:
            return None
        breaker = self._by_label.get(label)
        if breaker is None:
            breaker = self._by_label[label] = Breaker(label, settings, self.clock, self.listener)
        return breaker

    def find(self, label: str) -> Breaker | None:
        return self._by_label.get(label)

    def __iter__(self) -> Iterator[Breaker]:
        return iter(self._by_label.values())

    def views(self) -> list[BreakerView]:
        return [breaker.view() for breaker in self._by_label.values()]
