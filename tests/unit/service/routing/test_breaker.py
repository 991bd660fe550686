"""The circuit breaker's transitions, table-driven on a fake clock (no sockets, no sleeping)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from model_gateway.routing.breaker import Breaker, Breakers, CircuitState
from model_gateway.routing_settings import BreakerSettings
from tests.unit.service.routing.support import Events, FakeClock

CLOSED, OPEN, HALF = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN
SETTINGS = BreakerSettings(
    failures=3, window_s=10, error_rate=0.5, min_calls=6, cooldown_s=30, max_cooldown_s=100
)

# Steps: "ok" / "fail" (an ordinary call's outcome), "wait N" (the clock moves), "probe" (a call is
# admitted as the half-open probe), "probe ok" / "probe fail" / "probe gone" (its outcome),
# "skip" (a call is refused), "admit" (an ordinary call is let through).


@dataclass
class Case:
    name: str
    steps: list[str]
    state: CircuitState
    retry_in: float = 0.0


CASES = [
    Case("closed while failures stay under the streak", ["fail", "fail", "ok", "fail", "fail"], CLOSED),
    Case("opens after N consecutive failures", ["fail", "fail", "fail"], OPEN, 30),
    Case("a success breaks the streak", ["fail", "fail", "ok", "fail", "fail", "admit"], CLOSED),
    Case("failures further apart than the window are no streak", ["fail", "fail", "wait 11", "fail"], CLOSED),
    Case("an open breaker skips calls", ["fail", "fail", "fail", "wait 10", "skip"], OPEN, 20),
    Case(
        "opens on the error rate once the window has enough calls",
        ["fail", "ok", "fail", "ok", "fail", "ok", "fail"],  # 4 of 7 failed, never 3 in a row
        OPEN,
        30,
    ),
    Case(
        "calls are counted from the first failure in the window on",
        ["ok"] * 10 + ["fail", "ok", "fail", "ok", "fail", "ok", "fail"],
        OPEN,
        30,
    ),
    Case("no error-rate verdict below min_calls", ["ok", "fail", "ok", "fail"], CLOSED),
    Case(
        "the error rate forgets calls older than the window",
        ["fail", "ok", "fail", "ok", "wait 12", "ok", "fail", "ok", "ok"],
        CLOSED,
    ),
    Case("half-open once the cooldown is over", ["fail", "fail", "fail", "wait 30"], HALF),
    Case("half-open admits one probe", ["fail", "fail", "fail", "wait 30", "probe", "skip"], HALF),
    Case(
        "a probe's success closes it",
        ["fail", "fail", "fail", "wait 30", "probe", "probe ok", "admit"],
        CLOSED,
    ),
    Case(
        "a probe's failure re-opens it for twice the cooldown, from now",
        ["fail", "fail", "fail", "wait 31", "probe", "wait 5", "probe fail"],
        OPEN,
        60,
    ),
    Case(
        "cooldowns double up to the maximum",
        ["fail"] * 3 + ["wait 30", "probe", "probe fail", "wait 60", "probe", "probe fail"],
        OPEN,
        100,
    ),
    Case(
        "a closed breaker starts from the base cooldown again",
        ["fail"] * 3 + ["wait 30", "probe", "probe fail", "wait 60", "probe", "probe ok"] + ["fail"] * 3,
        OPEN,
        30,
    ),
    Case(
        "an abandoned probe lets the next call probe",
        ["fail", "fail", "fail", "wait 30", "probe", "probe gone", "probe"],
        HALF,
    ),
    Case(
        "a probe that never reports loses its lease",
        ["fail", "fail", "fail", "wait 30", "probe", "wait 6", "probe"],  # lease: 5 s
        HALF,
    ),
    Case(
        "outcomes of calls admitted before it opened change nothing", ["fail"] * 3 + ["ok", "fail"], OPEN, 30
    ),
]


async def play(breaker: Breaker, clock: FakeClock, steps: list[str]) -> None:
    ticket = 0
    for step in steps:
        if step.startswith("wait "):
            clock.advance(float(step.split()[1]))
        elif step == "ok":
            breaker.succeeded(0)
        elif step == "fail":
            breaker.failed(0, "HTTP 500")
        elif step == "admit":
            assert await breaker.admit(5) == 0, step
        elif step == "skip":
            assert await breaker.admit(5) is None, step
        elif step == "probe":
            got = await breaker.admit(5)
            assert got is not None and got > 0, f"{step}: {got}"
            ticket = got
        elif step == "probe ok":
            breaker.succeeded(ticket)
        elif step == "probe fail":
            breaker.failed(ticket, "still down")
        elif step == "probe gone":
            breaker.released(ticket)
        else:
            raise AssertionError(step)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_transitions(case: Case) -> None:
    clock = FakeClock()
    breaker = Breaker("p/m", SETTINGS, clock)
    await play(breaker, clock, case.steps)
    view = breaker.view()
    assert view.state is case.state
    assert view.retry_in_s == pytest.approx(case.retry_in)
    assert breaker.closed is (view.state is CLOSED)


async def test_moves_are_reported_once_each() -> None:
    clock, events = FakeClock(), Events()
    breaker = Breaker("p/m", SETTINGS, clock, events)
    await play(breaker, clock, ["fail"] * 4 + ["wait 30", "probe", "probe ok", "ok"])
    assert events.moves == [("p/m", OPEN), ("p/m", HALF), ("p/m", CLOSED)]


async def test_the_view_names_the_last_failure() -> None:
    breaker = Breaker("p/m", SETTINGS, FakeClock())
    for _ in range(3):
        breaker.failed(0, "provider 'p' failed (HTTP 502): bad gateway")
    view = breaker.view()
    assert (view.deployment, view.failures, view.last_error) == (
        "p/m",
        0,
        "provider 'p' failed (HTTP 502): bad gateway",
    )


def test_one_breaker_per_deployment_and_none_when_disabled() -> None:
    breakers = Breakers(FakeClock())
    first = breakers.get("p/m", SETTINGS)
    assert first is breakers.get("p/m", SETTINGS) is breakers.find("p/m")
    assert breakers.get("p/other", BreakerSettings(enabled=False)) is None
    assert [b.label for b in breakers] == ["p/m"]
