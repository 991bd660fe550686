"""What core tells the outside about a call, as protocols that obs/ implements.

Core never imports telemetry: the server hands it an `Observers` (OpenTelemetry
GenAI spans and metrics in obs/genai.py) and `OutcomeSink`s (the access log,
later the usage ledger). Tests hand it the null ones.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Protocol

from model_gateway.providers import Provider
from model_gateway.routing.registry import Route
from modelgateway.v1 import gateway_pb2 as pb

if TYPE_CHECKING:
    from model_gateway.core.call import Call


class AttemptObserver(Protocol):
    """One attempt at one route; ended by exactly one of succeeded / failed / the stream's end."""

    def active(self) -> contextlib.AbstractContextManager[Any]:
        """Entered around the upstream request (tracing makes its span current)."""

    def failed(self, error: BaseException, moving_on: bool = False) -> None: ...

    def succeeded(self, result: pb.GenerateResponse | pb.EmbedResponse) -> None: ...

    def chunk(self, chunk: pb.StreamChunk) -> None:
        """Every chunk of a stream, the first one included."""

    def stream_ended(self, error: BaseException) -> None:
        """The stream stopped: after its final chunk a no-op, else a failure."""


class CallObserver(Protocol):
    """One call (all of its attempts)."""

    def attempt(self, provider: Provider, route: Route, number: int) -> AttemptObserver: ...


class Observers(Protocol):
    def generate(self, request: pb.GenerateRequest, stream: bool) -> CallObserver: ...

    def embed(self, request: pb.EmbedRequest) -> CallObserver: ...


class OutcomeSink(Protocol):
    def record(self, call: Call) -> None:
        """A finished call (answered, failed or abandoned); called once, must be quick."""


class _NullAttempt:
    def active(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def failed(self, error: BaseException, moving_on: bool = False) -> None:
        return None

    def succeeded(self, result: pb.GenerateResponse | pb.EmbedResponse) -> None:
        return None

    def chunk(self, chunk: pb.StreamChunk) -> None:
        return None

    def stream_ended(self, error: BaseException) -> None:
        return None


_NULL_ATTEMPT = _NullAttempt()


class NullObservers:
    """Observes nothing: for tests, and for a pipeline built without telemetry."""

    def generate(self, request: pb.GenerateRequest, stream: bool) -> CallObserver:
        return self

    def embed(self, request: pb.EmbedRequest) -> CallObserver:
        return self

    def attempt(self, provider: Provider, route: Route, number: int) -> AttemptObserver:
        return _NULL_ATTEMPT
