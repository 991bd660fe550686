"""Calling a model with failover, retries and circuit breakers.

The routes come in the order routing chose. They are tried in groups, one
group per configured model (the requested one, then each fallback):

1. each route of the group once, in order; a route whose breaker is open is
   skipped at once (no time spent on it), a half-open one may take the probe;
2. then, if nothing answered, the group's routes that failed in a retryable
   way (routing/retry.py) are tried again, up to the model's `retries`
   each, after an exponential backoff with full jitter that honours the
   upstream's Retry-After; a wait longer than `backoff.max_s`, or than what
   is left of the deadline, is not taken (never sleeping past it);
3. then the next group.

So a rate-limited or broken deployment hands the call to its siblings at
once, and is only waited for when nothing else is left. A route is
abandoned only before it produced anything: for streams, before the first
chunk. Every try (retries included) is an attempt: observed by the call's
AttemptObserver (a GenAI span and metrics, obs/genai.py), counted in the
route's `attempts`, and reported to the deployment's breaker.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc

from model_gateway.core.observers import AttemptObserver, CallObserver
from model_gateway.core.streams import Abandonable
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from model_gateway.pricing import cost_of
from model_gateway.providers import Provider
from model_gateway.routing.breaker import BreakerView
from model_gateway.routing.events import QUIET_EVENTS, RoutingEvents
from model_gateway.routing.registry import Route
from model_gateway.routing.retry import Verdict, ran_out, retryable, verdict
from model_gateway.routing.router import CASCADE
from modelgateway.v1 import gateway_pb2 as pb

T = TypeVar("T", pb.GenerateResponse, pb.EmbedResponse)
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Resilience:
    """What failover takes from outside besides the routes: time, chance and who to tell."""

    clock: Callable[[], float] = time.monotonic  # for backoff timing (breakers keep their own clock)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    events: RoutingEvents = QUIET_EVENTS


DEFAULT_RESILIENCE = Resilience()


@dataclass(slots=True)
class Attempt:
    route: Route
    number: int  # 1-based, retries included
    decision: str = ""  # the strategy or rule that chose the route (set by the pipeline)
    spent: pb.Cost | None = None  # a cascade: what the answers it rejected cost

    def describe(self, requested: str, decision: str | None = None) -> pb.Route:
        return pb.Route(
            requested_model=requested,
            served_model=self.route.model.name,
            provider=self.route.deployment.provider,
            deployment=self.route.label,
            upstream_model=self.route.deployment.model,
            attempts=self.number,
            fallback_used=self.route.fallback,
            decision=_decided(self.route, self.decision if decision is None else decision),
        )


@dataclass(slots=True)
class _Retry:
    route: Route
    tries: int  # tries so far
    ready: float  # resilience clock time it may go
    error: GatewayError  # why it is tried again


class _Failover(Generic[R]):
    """One call's walk over its routes."""

    __slots__ = (
        "accept",
        "attempt",
        "deadline",
        "model",
        "number",
        "observe",
        "providers",
        "rejected",
        "res",
        "skipped",
        "stream",
        "ticket",
        "tried",
    )

    def __init__(
        self,
        model: str,
        providers: dict[str, Provider],
        deadline: Deadline,
        attempt: Callable[[Provider, Route, float, AttemptObserver], Awaitable[R]],
        observe: CallObserver,
        res: Resilience,
        stream: bool,
        accept: Callable[[Route, R], str] | None = None,
    ) -> None:
        self.model, self.providers, self.deadline = model, providers, deadline
        self.attempt, self.observe, self.res, self.stream = attempt, observe, res, stream
        self.number = 0
        self.ticket = 0  # the breaker ticket of the stream that answered
        self.accept = accept  # a cascade's checks: why a tier's answer is not kept ("" to keep it)
        self.rejected: list[tuple[Route, R]] = []  # cascade answers not kept, cheapest tier first
        self.tried: list[tuple[Attempt, GatewayError]] = []
        self.skipped: list[Route] = []

    async def run(self, routes: list[Route]) -> tuple[R, Attempt]:
        retries: list[_Retry] | None = None
        last = len(routes) - 1
        index = 0
        while index <= last:
            route = routes[index]
            index += 1
            if self.rejected and route.model is self.rejected[-1][0].model:
                continue  # a cascade tier that answered, not well enough: on to the next tier
            if retries and route.model is not routes[index - 2].model:
                won = await self._retry(retries)  # the group is done: its retries before the next group
                if won is not None:
                    return self._won(won)
                retries = None
            sibling = routes[index] if index <= last and routes[index].model is route.model else None
            delay = _hedge_delay(route) if sibling is not None and not self.stream else None
            if sibling is not None and delay is not None:
                outcomes, both = await self._hedged(route, sibling, delay, more=index < last)
                index += both
            else:
                outcomes = [await self._try(route, 1, more=index <= last)]
            for outcome in outcomes:
                if isinstance(outcome, _Retry):
                    retries = retries or []
                    retries.append(outcome)
                elif isinstance(outcome, _Rejected):
                    retries = None
                elif outcome is not None:
                    return self._won(outcome)
        if retries:
            won = await self._retry(retries)
            if won is not None:
                return self._won(won)
        if self.rejected:  # every later tier failed: the last rejected answer beats an error
            route, result = self.rejected.pop()
            return self._won((result, Attempt(route, self.number)))
        raise self._give_up()

    async def _hedged(
        self, first: Route, second: Route, delay: float, more: bool
    ) -> tuple[list[_Outcome[R]], int]:
        """`first`, and `second` too if `first` has not answered within `delay`: the first answer wins
        and the other call is cancelled. The outcomes, and 1 if `second` was tried."""
        one: asyncio.Future[_Outcome[R]] = asyncio.ensure_future(self._try(first, 1, more=True))
        done, _ = await asyncio.wait({one}, timeout=delay)
        if done:
            return [one.result()], 0
        self.res.events.hedged(second)
        two: asyncio.Future[_Outcome[R]] = asyncio.ensure_future(self._try(second, 1, more=more))
        pending: set[asyncio.Future[_Outcome[R]]] = {one, two}
        outcomes: list[_Outcome[R]] = []
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for finished in done:
                    outcome = finished.result()  # a bad request (or the deadline) raises: cancel the other
                    if isinstance(outcome, tuple):
                        return [outcome], 1
                    outcomes.append(outcome)
            return outcomes, 1
        finally:
            for other in pending:
                other.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    def _won(self, won: tuple[R, Attempt]) -> tuple[R, Attempt]:
        if self.rejected:
            won[1].spent = _spent(self.rejected)
        return won

    async def _retry(self, queue: list[_Retry]) -> tuple[R, Attempt] | None:
        while queue:
            later: list[_Retry] = []
            for entry in queue:
                wait = entry.ready - self.res.clock()
                if wait > 0:
                    if wait >= self.deadline.left():
                        continue  # never sleep past the deadline
                    await self.res.sleep(wait)
                self.res.events.retried(entry.route, entry.error)
                outcome = await self._try(entry.route, entry.tries + 1, more=True)
                if isinstance(outcome, _Retry):
                    later.append(outcome)
                elif isinstance(outcome, _Rejected):
                    return None  # a cascade tier answered: no more retries of it
                elif outcome is not None:
                    return outcome
            queue = later
        return None

    async def _try(
        self, route: Route, tries: int, more: bool
    ) -> tuple[R, Attempt] | _Retry | _Rejected | None:
        """One try: the answer, a retry to schedule, a cascade's rejection, or None (failed over, skipped)."""
        left = self.deadline.left()
        if left <= 0:  # out of time: say so, naming what failed on the way
            raise self._give_up()
        breaker = route.breaker
        ticket = 0
        if breaker is not None and not breaker.closed:
            admitted = await breaker.admit(left)
            if admitted is None:
                self.skipped.append(route)
                self.res.events.skipped(route)
                return None
            ticket = admitted
        self.number += 1
        attempt = Attempt(route, self.number)
        provider = self.providers[route.deployment.provider]
        observed = self.observe.attempt(provider, route, self.number)
        stats = route.stats
        started = 0.0
        if stats is not None:
            stats.started()
            started = self.res.clock()
        try:
            with observed.active():
                result = await self.attempt(provider, route, left, observed)
        except GatewayError as error:
            if stats is not None:
                stats.ended()
            return self._failed(route, tries, attempt, observed, error, ticket, more)
        except BaseException as exc:  # cancelled, or a bug: the attempt's span still ends
            if stats is not None:
                stats.ended()
            if breaker is not None:
                breaker.released(ticket)
            observed.failed(exc)
            raise
        if stats is not None:
            stats.answered(self.res.clock() - started, self.stream)
            if not self.stream:
                stats.ended()  # a stream's ends with the stream (_observed)
        if breaker is not None:
            if self.stream:
                self.ticket = ticket  # a stream's verdict comes at its end (_observed)
            else:
                breaker.succeeded(ticket)
        if route.cascade is not None and self.accept is not None and self.accept(route, result):
            self.rejected.append((route, result))
            return _REJECTED
        return result, attempt

    def _failed(
        self,
        route: Route,
        tries: int,
        attempt: Attempt,
        observed: AttemptObserver,
        error: GatewayError,
        ticket: int,
        more: bool,
    ) -> _Retry | None:
        provider = self.providers[route.deployment.provider]
        breaker = route.breaker
        if breaker is not None:
            said = verdict(error, provider.kind, self.deadline.left())
            if said is Verdict.FAILURE:
                breaker.failed(ticket, error.message)
            elif said is Verdict.ALIVE:
                breaker.succeeded(ticket)
            else:
                breaker.released(ticket)
        self.tried.append((attempt, error))
        if not error.failover:
            observed.failed(error)
            raise error
        retry: _Retry | None = None
        policy = route.policy
        if tries <= policy.retries and retryable(error) and (breaker is None or breaker.closed):
            delay = policy.delay(tries, error.retry_after, self.res.rng)
            if delay is not None and delay < self.deadline.left():
                retry = _Retry(route, tries, self.res.clock() + delay, error)
        observed.failed(error, moving_on=retry is not None or more)
        return retry

    def _give_up(self) -> GatewayError:
        model, tried, deadline = self.model, self.tried, self.deadline
        last_error = tried[-1][1] if tried else None
        left = deadline.left()
        if left <= 0 or (last_error is not None and ran_out(last_error, left)):
            last = last_error
            why = f": last failure: {last.message}" if last else ""
            return GatewayError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                Reason.DEADLINE_EXCEEDED,
                f"deadline exceeded calling '{model}'{why}",
            )
        # Each route's last failure, in the order first tried; then the routes skipped as open.
        last_of: dict[str, GatewayError] = {}
        for attempt, error in tried:
            last_of[attempt.route.label] = error
        skipped = [r for r in dict.fromkeys(self.skipped) if r.label not in last_of]
        if not skipped and len(last_of) == 1:
            return next(iter(last_of.values()))
        if not last_of:
            if skipped:
                return _circuit_open(model, skipped)
            return GatewayError(
                grpc.StatusCode.UNAVAILABLE, Reason.ALL_ROUTES_FAILED, f"'{model}' has no route to try"
            )
        waits = [e.retry_after for e in last_of.values() if e.retry_after is not None]
        parts = [f"{label}: {e.message}" for label, e in last_of.items()]
        parts += [f"{r.label}: circuit open{_retry_in(r)}" for r in skipped]
        listed = "; ".join(parts)
        if not skipped and {e.code for e in last_of.values()} == {grpc.StatusCode.RESOURCE_EXHAUSTED}:
            return GatewayError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                Reason.RATE_LIMITED,
                f"every route of '{model}' is rate limited ({listed})",
                retry_after=min(waits) if waits else None,
            )
        return GatewayError(
            grpc.StatusCode.UNAVAILABLE,
            Reason.ALL_ROUTES_FAILED,
            f"all {len(last_of) + len(skipped)} routes of '{model}' failed: {listed}",
            metadata={"attempts": str(self.number)},
        )


class _Rejected:
    """A cascade tier's answer that failed its checks: failover moves on to the next tier."""


_REJECTED = _Rejected()
_Outcome = tuple[R, Attempt] | _Retry | _Rejected | None


def _hedge_delay(route: Route) -> float | None:
    """How long a unary call waits before asking the next deployment too (None: no hedging)."""
    hedge = route.hedge
    if hedge is None:
        return None
    if hedge.after_s is not None:
        return hedge.after_s
    stats = route.stats
    if stats is None or len(stats.recent) < hedge.min_samples:
        return None
    return stats.percentile(hedge.percentile)


def _decided(route: Route, decision: str) -> str:
    """A cascade's decision names the tier that answered."""
    return f"{CASCADE}:{route.model.name}" if decision == CASCADE else decision


def _spent(rejected: list[tuple[Route, Any]]) -> pb.Cost:
    """What the answers a cascade rejected cost, each at its own model's prices."""
    total = pb.Cost()
    for route, answer in rejected:
        if isinstance(answer, pb.GenerateResponse):
            cost = cost_of(route.model.pricing, answer.usage)
            total.input_usd += cost.input_usd
            total.output_usd += cost.output_usd
            total.total_usd += cost.total_usd
    return total


def _retry_in(route: Route) -> str:
    return _when(route.breaker.view()) if route.breaker is not None else ""


def _when(view: BreakerView) -> str:
    return f" (retry in {view.retry_in_s:.0f} s)" if view.retry_in_s > 0 else " (probing)"


def _circuit_open(model: str, routes: list[Route]) -> GatewayError:
    """Every route skipped: fail at once, saying why each is open and when one will be tried again."""
    views = [r.breaker.view() for r in routes if r.breaker is not None]
    waits = [v.retry_in_s for v in views if v.retry_in_s > 0]
    listed = "; ".join(
        f"{v.deployment}: circuit open{_when(v)}{f'; last failure: {v.last_error}' if v.last_error else ''}"
        for v in views
    )
    single = len(routes) == 1
    return GatewayError(
        grpc.StatusCode.UNAVAILABLE,
        Reason.UPSTREAM_UNAVAILABLE if single else Reason.ALL_ROUTES_FAILED,
        f"{'the route' if single else f'every route ({len(routes)})'} of '{model}' is skipped: {listed}",
        retry_after=min(waits) if waits else None,
        metadata={"circuit": "open", "attempts": "0"},
    )


async def call_unary(
    model: str,
    routes: list[Route],
    providers: dict[str, Provider],
    deadline: Deadline,
    call: Callable[[Provider, Route, float], Awaitable[T]],
    observe: CallObserver,
    resilience: Resilience = DEFAULT_RESILIENCE,
    accept: Callable[[Route, T], str] | None = None,
) -> tuple[T, Attempt]:
    async def attempt(provider: Provider, route: Route, left: float, observed: AttemptObserver) -> T:
        result = await call(provider, route, left)
        observed.succeeded(result)
        return result

    failover = _Failover(
        model, providers, deadline, attempt, observe, resilience, stream=False, accept=accept
    )
    return await failover.run(routes)


async def open_stream(
    model: str,
    routes: list[Route],
    providers: dict[str, Provider],
    deadline: Deadline,
    call: Callable[[Provider, Route, float], AsyncIterator[pb.StreamChunk]],
    observe: CallObserver,
    resilience: Resilience = DEFAULT_RESILIENCE,
) -> tuple[pb.StreamChunk, AsyncIterator[pb.StreamChunk], Attempt]:
    """The first chunk of the first route that produces one, and the rest of that stream.

    The first chunk is the first with content (text, reasoning, a tool-call
    fragment) or the final one: a stream that fails after only empty deltas
    still fails over, since nothing reached the client.
    """

    async def attempt(
        provider: Provider, route: Route, left: float, observed: AttemptObserver
    ) -> tuple[pb.StreamChunk, AsyncIterator[pb.StreamChunk], AttemptObserver]:
        chunks = call(provider, route, left)
        while True:  # leading empty deltas (a bare role chunk) show a client nothing: no commitment yet
            try:
                first = await anext(chunks)
            except StopAsyncIteration:
                raise GatewayError(
                    grpc.StatusCode.UNAVAILABLE,
                    Reason.UPSTREAM_ERROR,
                    f"{route.label} ended the stream without a single chunk",
                ) from None
            if first.HasField("final") or first.delta.ListFields():
                break
        observed.chunk(first)
        return first, chunks, observed

    failover = _Failover(model, providers, deadline, attempt, observe, resilience, stream=True)
    (first, chunks, observed), won = await failover.run(routes)
    kind = providers[won.route.deployment.provider].kind
    route, ticket = won.route, failover.ticket

    async def abandoned() -> None:  # closed before a chunk was asked for: end the attempt here
        observed.stream_ended(asyncio.CancelledError("the client left before the first chunk"))
        if route.breaker is not None:
            route.breaker.released(ticket)
        if route.stats is not None:
            route.stats.ended()
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()

    return first, Abandonable(_observed(chunks, observed, route, kind, ticket), abandoned), won


async def _observed(
    chunks: AsyncIterator[pb.StreamChunk],
    observed: AttemptObserver,
    route: Route,
    kind: str,
    ticket: int,
) -> AsyncGenerator[pb.StreamChunk, None]:
    """The rest of the stream, timed chunk by chunk; its end (or its failure) ends the attempt.

    The deployment's breaker hears the stream's verdict at its end: a stream
    cut mid-answer is a failure, one that finished a success, one the client
    left says nothing.
    """
    breaker = route.breaker
    try:
        async for chunk in chunks:
            observed.chunk(chunk)
            yield chunk
    except GatewayError as exc:  # cut mid-answer
        observed.stream_ended(exc)
        if breaker is not None:
            if verdict(exc, kind, 1.0) is Verdict.FAILURE:
                breaker.failed(ticket, exc.message)
            else:
                breaker.released(ticket)
        raise
    except BaseException as exc:  # a client that went away (GeneratorExit), or a bug
        observed.stream_ended(exc)
        if breaker is not None:
            breaker.released(ticket)
        raise
    else:
        observed.stream_ended(StopAsyncIteration("the stream ended without a final chunk"))
        if breaker is not None:
            breaker.succeeded(ticket)
    finally:
        if route.stats is not None:
            route.stats.ended()
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
