"""Calling a model with failover: each route in order until one answers.

A route is abandoned only before it produced anything: for streams, before
the first chunk. The deadline bounds the whole loop; each attempt gets what
is left of it, and is observed by the call's AttemptObserver (in production
a GenAI span and metrics, obs/genai.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc

from model_gateway.core.observers import AttemptObserver, CallObserver
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers import Provider
from model_gateway.routing.registry import Route
from modelgateway.v1 import gateway_pb2 as pb

T = TypeVar("T", pb.GenerateResponse, pb.EmbedResponse)


@dataclass(slots=True)
class Attempt:
    route: Route
    number: int  # 1-based

    def describe(self, requested: str, decision: str = "") -> pb.Route:
        return pb.Route(
            requested_model=requested,
            served_model=self.route.model.name,
            provider=self.route.deployment.provider,
            deployment=self.route.label,
            upstream_model=self.route.deployment.model,
            attempts=self.number,
            fallback_used=self.route.fallback,
            decision=decision,
        )


def _give_up(model: str, failures: list[tuple[Attempt, GatewayError]], deadline: Deadline) -> GatewayError:
    if deadline.left() <= 0:
        last = failures[-1][1] if failures else None
        why = f": last failure: {last.message}" if last else ""
        return GatewayError(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            Reason.DEADLINE_EXCEEDED,
            f"deadline exceeded calling '{model}'{why}",
        )
    if len(failures) == 1:
        return failures[0][1]
    codes = {error.code for _, error in failures}
    tried = "; ".join(f"{a.route.label}: {e.message}" for a, e in failures)
    if codes == {grpc.StatusCode.RESOURCE_EXHAUSTED}:
        waits = [e.retry_after for _, e in failures if e.retry_after is not None]
        return GatewayError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            Reason.RATE_LIMITED,
            f"every route of '{model}' is rate limited ({tried})",
            retry_after=min(waits) if waits else None,
        )
    return GatewayError(
        grpc.StatusCode.UNAVAILABLE,
        Reason.ALL_ROUTES_FAILED,
        f"all {len(failures)} routes of '{model}' failed: {tried}",
        metadata={"attempts": str(len(failures))},
    )


async def call_unary(
    model: str,
    routes: list[Route],
    providers: dict[str, Provider],
    deadline: Deadline,
    call: Callable[[Provider, Route, float], Awaitable[T]],
    observe: CallObserver,
) -> tuple[T, Attempt]:
    failures: list[tuple[Attempt, GatewayError]] = []
    for number, route in enumerate(routes, start=1):
        attempt = Attempt(route, number)
        left = deadline.left()
        if left <= 0:  # out of time: say so, naming what failed on the way
            raise _give_up(model, failures, deadline)
        provider = providers[route.deployment.provider]
        observed = observe.attempt(provider, route, number)
        try:
            with observed.active():
                result = await call(provider, route, left)
        except GatewayError as error:
            observed.failed(error, moving_on=error.failover and number < len(routes))
            failures.append((attempt, error))
            if not error.failover:
                raise
            continue
        except BaseException as exc:  # cancelled, or a bug: the attempt's span still ends
            observed.failed(exc)
            raise
        observed.succeeded(result)
        return result, attempt
    raise _give_up(model, failures, deadline)


async def open_stream(
    model: str,
    routes: list[Route],
    providers: dict[str, Provider],
    deadline: Deadline,
    call: Callable[[Provider, Route, float], AsyncIterator[pb.StreamChunk]],
    observe: CallObserver,
) -> tuple[pb.StreamChunk, AsyncIterator[pb.StreamChunk], Attempt]:
    """The first chunk of the first route that produces one, and the rest of that stream."""
    failures: list[tuple[Attempt, GatewayError]] = []
    for number, route in enumerate(routes, start=1):
        attempt = Attempt(route, number)
        left = deadline.left()
        if left <= 0:  # out of time: say so, naming what failed on the way
            raise _give_up(model, failures, deadline)
        provider = providers[route.deployment.provider]
        observed = observe.attempt(provider, route, number)
        chunks = call(provider, route, left)
        try:
            with observed.active():
                first = await anext(chunks)
        except StopAsyncIteration:
            error = GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                Reason.UPSTREAM_ERROR,
                f"{route.label} ended the stream without a single chunk",
            )
        except GatewayError as exc:
            error = exc
        except BaseException as exc:
            observed.failed(exc)
            raise
        else:
            observed.chunk(first)
            return first, _observed(chunks, observed), attempt
        observed.failed(error, moving_on=error.failover and number < len(routes))
        failures.append((attempt, error))
        if not error.failover:
            raise error
    raise _give_up(model, failures, deadline)


async def _observed(
    chunks: AsyncIterator[pb.StreamChunk], observed: AttemptObserver
) -> AsyncIterator[pb.StreamChunk]:
    """The rest of the stream, timed chunk by chunk; its end (or its failure) ends the attempt."""
    try:
        async for chunk in chunks:
            observed.chunk(chunk)
            yield chunk
    except BaseException as exc:  # a cut stream, or a client that went away (GeneratorExit)
        observed.stream_ended(exc)
        raise
    else:
        observed.stream_ended(StopAsyncIteration("the stream ended without a final chunk"))
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
