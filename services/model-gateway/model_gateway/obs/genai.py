"""One upstream call as the OpenTelemetry GenAI conventions describe it: a CLIENT span named
`{gen_ai.operation.name} {gen_ai.request.model}` and the gen_ai_client_* metrics.

`GenAIObservers` implements core's Observers protocol; each failover attempt
is one UpstreamCall. The span carries the request's
sampling, the response's finish reasons and usage, the upstream's address,
`error.type` (the GatewayError reason, else the exception class) on failure,
and the gateway's own `gateway.route.*`. Prompt and completion text are
recorded only when the operator opts in (telemetry.record_content).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import orjson
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from model_gateway import __version__
from model_gateway.errors import GatewayError
from model_gateway.obs import metrics
from model_gateway.providers import Provider
from model_gateway.routing.registry import Route
from modelgateway.v1 import gateway_pb2 as pb

_tracer = trace.get_tracer("model_gateway", __version__)


@dataclass(slots=True)
class _Settings:
    tracing: bool = False
    record_content: bool = False


_settings = _Settings()


def configure(tracing: bool, record_content: bool = False) -> None:
    """Called once at start: without tracing no span is even started."""
    _settings.tracing, _settings.record_content = tracing, record_content


# gen_ai.provider.name: the conventions' well-known value where one applies, else the kind.
PROVIDER_NAMES = {"gemini": "gcp.gemini"}
FINISH_REASONS = {
    pb.FINISH_REASON_STOP: "stop",
    pb.FINISH_REASON_LENGTH: "length",
    pb.FINISH_REASON_TOOL_CALLS: "tool_calls",
    pb.FINISH_REASON_CONTENT_FILTER: "content_filter",
    pb.FINISH_REASON_ERROR: "error",
}
_ROLES = {
    pb.ROLE_SYSTEM: "system",
    pb.ROLE_DEVELOPER: "system",
    pb.ROLE_USER: "user",
    pb.ROLE_ASSISTANT: "assistant",
    pb.ROLE_TOOL: "tool",
}


@dataclass(frozen=True, slots=True)
class Operation:
    """What every route of one call is asked: the operation, and its request-side span attributes."""

    name: str  # chat | text_completion | embeddings
    requested_model: str = ""  # as the client said it (maybe an alias)
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    input_messages: str | None = None  # opt-in content, JSON per the conventions' schema

    def attempt(self, provider: Provider, route: Route, number: int) -> UpstreamCall:
        return UpstreamCall(self, provider, route, number)


class GenAIObservers:
    """Core's Observers: one Operation per call, one UpstreamCall per attempt."""

    def generate(self, request: pb.GenerateRequest, stream: bool) -> Operation:
        return chat_operation(request, stream)

    def embed(self, request: pb.EmbedRequest) -> Operation:
        return embed_operation(request)


def chat_operation(request: pb.GenerateRequest, stream: bool) -> Operation:
    name = "text_completion" if request.prompt and not request.messages else "chat"
    if not _settings.tracing:
        return Operation(name, request.model)
    attributes: dict[str, AttributeValue] = {}
    sampling = request.sampling
    if sampling.HasField("max_tokens"):
        attributes["gen_ai.request.max_tokens"] = sampling.max_tokens
    if sampling.HasField("temperature"):
        attributes["gen_ai.request.temperature"] = sampling.temperature
    if sampling.HasField("top_p"):
        attributes["gen_ai.request.top_p"] = sampling.top_p
    if sampling.HasField("top_k"):
        attributes["gen_ai.request.top_k"] = float(sampling.top_k)
    if sampling.HasField("seed"):
        attributes["gen_ai.request.seed"] = sampling.seed
    if sampling.HasField("presence_penalty"):
        attributes["gen_ai.request.presence_penalty"] = sampling.presence_penalty
    if sampling.HasField("frequency_penalty"):
        attributes["gen_ai.request.frequency_penalty"] = sampling.frequency_penalty
    if sampling.stop:
        attributes["gen_ai.request.stop_sequences"] = list(sampling.stop)
    if stream:
        attributes["gen_ai.request.stream"] = True
    content = _input_messages(request) if _settings.record_content else None
    return Operation(name, request.model, attributes, content)


def embed_operation(request: pb.EmbedRequest) -> Operation:
    if not _settings.tracing or not request.HasField("dimensions"):
        return Operation("embeddings", request.model)
    dimensions: dict[str, AttributeValue] = {"gen_ai.embeddings.dimension.count": request.dimensions}
    return Operation("embeddings", request.model, dimensions)


def _input_messages(request: pb.GenerateRequest) -> str:
    if not request.messages:
        parts = [{"type": "text", "content": request.prompt}]
        messages: list[dict[str, Any]] = [{"role": "user", "parts": parts}]
        if request.system:
            messages.insert(0, {"role": "system", "parts": [{"type": "text", "content": request.system}]})
    else:
        messages = [
            {
                "role": _ROLES.get(m.role, "user"),
                "parts": [{"type": "text", "content": p.text} for p in m.content if p.HasField("text")],
            }
            for m in request.messages
        ]
        if request.system:
            messages.insert(0, {"role": "system", "parts": [{"type": "text", "content": request.system}]})
    return orjson.dumps(messages).decode()


@lru_cache(maxsize=256)
def _server(address: str) -> tuple[str, int]:
    parts = urlsplit(address)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def error_type(error: BaseException) -> str:
    """error.type: the gateway's stable reason, or the exception's class (bounded either way)."""
    if isinstance(error, GatewayError):
        return error.reason
    if isinstance(error, GeneratorExit | asyncio.CancelledError):
        return "CANCELLED"  # the client went away
    return type(error).__qualname__


class UpstreamCall:
    """One attempt at one route: started on creation, ended by succeeded/failed/stream_ended."""

    __slots__ = (
        "_ended",
        "_labels",
        "_last_chunk",
        "_op",
        "_output",
        "_per_chunk",
        "_route",
        "_span",
        "_started",
    )

    def __init__(self, op: Operation, provider: Provider, route: Route, number: int) -> None:
        host, port = _server(provider.address)
        model = route.deployment.model
        provider_name = PROVIDER_NAMES.get(provider.kind, provider.kind)
        # The upstream's own model name is not parsed from replies: the deployment's is the best known.
        self._labels = (op.name, provider_name, model, model, host, str(port))
        self._op, self._route = op, route
        self._started = self._last_chunk = time.perf_counter()
        self._per_chunk: Any = None
        self._ended = False
        self._output: list[str] | None = [] if op.input_messages is not None else None
        self._span: Span = INVALID_SPAN
        if _settings.tracing:
            attributes: dict[str, AttributeValue] = {
                "gen_ai.operation.name": op.name,
                "gen_ai.provider.name": provider_name,
                "gen_ai.request.model": model,
                "server.address": host,
                "server.port": port,
                **op.attributes,
                "gateway.route.requested_model": op.requested_model,
                "gateway.route.served_model": route.model.name,
                "gateway.route.provider": route.deployment.provider,
                "gateway.route.deployment": route.label,
                "gateway.route.attempt": number,
                "gateway.route.fallback_used": route.fallback,
                "gateway.route.cache_hit": False,
            }
            if op.input_messages is not None:
                attributes["gen_ai.input.messages"] = op.input_messages
            self._span = _tracer.start_span(f"{op.name} {model}", kind=SpanKind.CLIENT, attributes=attributes)

    def active(self) -> contextlib.AbstractContextManager[Any]:
        """The span as the current one, so the upstream HTTP span becomes its child."""
        if self._span is INVALID_SPAN:
            return contextlib.nullcontext()
        return trace.use_span(self._span, record_exception=False, set_status_on_exception=False)

    def _elapsed(self) -> float:
        return time.perf_counter() - self._started

    def failed(self, error: BaseException, moving_on: bool = False) -> None:
        if self._ended:
            return
        self._ended = True
        kind = error_type(error)
        metrics.OPERATION_DURATION.labels(*self._labels, kind).observe(self._elapsed())
        if moving_on:
            route = self._route
            metrics.FAILOVERS.labels(route.model.name, route.deployment.provider, kind).inc()
        if self._span.is_recording():
            self._span.set_attribute("error.type", kind)
            self._span.set_status(Status(StatusCode.ERROR, str(error) or kind))
            self._span.end()

    def succeeded(self, result: pb.GenerateResponse | pb.EmbedResponse) -> None:
        if isinstance(result, pb.GenerateResponse):
            if self._output is not None:
                self._output += [p.text for p in result.message.content if p.HasField("text")]
            self._done(result.usage, result.finish_reason, result.id)
        else:
            self._done(result.usage, None, "")

    def chunk(self, chunk: pb.StreamChunk) -> None:
        """Every chunk of the stream, the first one included."""
        now = time.perf_counter()
        if self._per_chunk is None:
            metrics.TIME_TO_FIRST_CHUNK.labels(*self._labels).observe(now - self._started)
            self._per_chunk = metrics.TIME_PER_OUTPUT_CHUNK.labels(*self._labels)
            if self._span.is_recording():
                self._span.set_attribute("gen_ai.response.time_to_first_chunk", now - self._started)
        elif chunk.HasField("delta"):
            self._per_chunk.observe(now - self._last_chunk)
        self._last_chunk = now
        if chunk.HasField("final"):
            final = chunk.final
            self._done(final.usage, final.finish_reason, "")
        elif self._output is not None:
            self._output.append(chunk.delta.text)

    def stream_ended(self, error: BaseException) -> None:
        """The stream stopped: after its final chunk a no-op, else a failure (or a client gone)."""
        self.failed(error)

    def _done(self, usage: pb.Usage, finish: pb.FinishReason.ValueType | None, response_id: str) -> None:
        if self._ended:
            return
        self._ended = True
        elapsed = self._elapsed()
        labels = self._labels
        metrics.OPERATION_DURATION.labels(*labels, "").observe(elapsed)
        metrics.TOKEN_USAGE.labels(*labels, "input").observe(usage.input_tokens)
        if self._op.name != "embeddings":
            metrics.TOKEN_USAGE.labels(*labels, "output").observe(usage.output_tokens)
        span = self._span
        if not span.is_recording():
            return
        attributes: dict[str, AttributeValue] = {
            "gen_ai.response.model": labels[3],
            "gen_ai.usage.input_tokens": usage.input_tokens,
            "gateway.usage.estimated": usage.estimated,
        }
        if self._op.name != "embeddings":
            attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
        if usage.cached_input_tokens:
            attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_input_tokens
        if usage.reasoning_tokens:
            attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
        reason = FINISH_REASONS.get(finish) if finish is not None else None
        if reason:
            attributes["gen_ai.response.finish_reasons"] = [reason]
        if response_id:
            attributes["gen_ai.response.id"] = response_id
        if self._output is not None:
            message = {"role": "assistant", "parts": [{"type": "text", "content": "".join(self._output)}]}
            attributes["gen_ai.output.messages"] = orjson.dumps(
                [{**message, "finish_reason": reason}]
            ).decode()
        span.set_attributes(attributes)
        span.end()
