"""Budget arithmetic, pure: periods, and when a budget admits a call.

A budget holds one number per period: what has been used, in USD — the
settled cost of finished calls plus the estimated cost of calls still in
flight. A call is admitted while that number is below the budget; admission
adds the call's estimate, and settling swaps the estimate for the real cost.
So concurrent calls can overrun a budget by at most the last admitted
call's estimate (and by what a call costs beyond its estimate, which with
max_tokens set is nothing).

Periods are calendar periods in UTC: `day` (2025-06-01), `month` (2025-06)
and `total` (never resets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PERIODS = ("day", "month", "total")
# A period's store entry outlives it by this much, so a late settle still finds it.
_SLACK_S = 3600


@dataclass(frozen=True, slots=True)
class Window:
    id: str  # "2025-06-01", "2025-06" or "total"
    ends_at: float | None  # unix seconds the next period starts; None: never

    def ends_in(self, now: float) -> float | None:
        return None if self.ends_at is None else max(0.0, self.ends_at - now)


def window(period: str, now: float) -> Window:
    """The period containing `now` (unix seconds)."""
    if period == "total":
        return Window("total", None)
    moment = datetime.fromtimestamp(now, UTC)
    if period == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return Window(start.strftime("%Y-%m-%d"), (start + timedelta(days=1)).timestamp())
    if period == "month":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        return Window(start.strftime("%Y-%m"), following.timestamp())
    raise ValueError(f"unknown budget period '{period}' (expected one of {', '.join(PERIODS)})")


class Windows:
    """The current window of each period, worked out again only when it ends: cheap per call."""

    def __init__(self) -> None:
        self._current: dict[str, Window] = {}

    def at(self, period: str, now: float) -> Window:
        current = self._current.get(period)
        if current is None or (current.ends_at is not None and now >= current.ends_at):
            current = self._current[period] = window(period, now)
        return current


@dataclass(frozen=True, slots=True)
class Spec:
    """One budget a call is held to, in the period it falls in."""

    key: str  # the store key, period included
    limit: float  # USD
    estimate: float  # USD reserved at admission
    ends_in: float | None  # seconds until the period ends (None: never)

    @property
    def ttl_s(self) -> int | None:
        """How long the store keeps the period's total (None: for ever)."""
        return None if self.ends_in is None else int(self.ends_in) + _SLACK_S


def admits(used: float, limit: float) -> bool:
    return used < limit


def settled(used: float, estimate: float, cost: float) -> float:
    """The period's total once a call that reserved `estimate` turned out to cost `cost`."""
    return max(0.0, used - estimate + cost)
