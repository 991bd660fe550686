"""The gateway's request pipeline, independent of gRPC:

    authenticate → limit → cache → route → call with failover → price → record

The stages around the call are a list (core/stages.py) the server builds
from policy/; routing (a strategy ordering the model's routes) and the call
with failover are the pipeline's own. Every front door reaches this once,
so every front door gets the same policy.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from redis.asyncio import Redis

from model_gateway import __version__
from model_gateway.config import GatewayConfig
from model_gateway.core.call import UNKNOWN, Call
from model_gateway.core.capabilities import capable_routes
from model_gateway.core.context import Principal, RequestContext
from model_gateway.core.failover import Attempt, Resilience, call_unary, open_stream
from model_gateway.core.observers import NullObservers, Observers
from model_gateway.core.stages import Stage, StageList
from model_gateway.core.streams import Abandonable
from model_gateway.core.validation import validate_embed, validate_generate
from model_gateway.errors import GatewayError
from model_gateway.providers import Provider
from model_gateway.routing.breaker import Breakers, BreakerView
from model_gateway.routing.breaker_redis import SharedBreakers
from model_gateway.routing.cascade import cascade_check
from model_gateway.routing.registry import Registry, Route, circuit_of
from model_gateway.routing.router import Router
from model_gateway.routing.strategy import RoutingStrategy
from model_gateway.routing.warm import Warm, contested
from model_gateway.tokens import count_request
from modelgateway.v1 import gateway_pb2 as pb

HEALTH_PROBE_TIMEOUT_S = 3.0


def _deployment_health(view: BreakerView) -> pb.DeploymentHealth:
    state, retry_in = circuit_of(view)
    return pb.DeploymentHealth(
        deployment=view.deployment,
        circuit=state,
        retry_in_s=retry_in,
        consecutive_failures=view.failures,
        last_error=view.last_error,
    )


def _plus(cost: pb.Cost, more: pb.Cost | None) -> pb.Cost:
    """The answer's cost, plus what a cascade spent on answers it rejected."""
    if more is None:
        return cost
    return pb.Cost(
        input_usd=cost.input_usd + more.input_usd,
        output_usd=cost.output_usd + more.output_usd,
        total_usd=cost.total_usd + more.total_usd,
    )


def _new_id() -> str:
    return f"chatcmpl-{os.urandom(12).hex()}"  # as random as uuid4, without building a UUID


def may_use(patterns: Sequence[str], names: Iterable[str]) -> bool:
    """Whether any of a model's names matches one of the glob patterns (none: every model)."""
    return not patterns or any(fnmatchcase(name, pattern) for name in names for pattern in patterns)


def principal_may_use(principal: Principal, names: Sequence[str]) -> bool:
    return may_use(principal.models, names) and may_use(principal.project_models, names)


@dataclass(slots=True)
class Replayed:
    """A stream a stage answered (the cache): described by the answer's own route."""

    route: pb.Route

    def describe(self, requested: str, decision: str = "") -> pb.Route:
        return self.route


def _as_chunks(answer: pb.GenerateResponse) -> list[pb.StreamChunk]:
    """A whole answer as a stream: reasoning, text and tool calls as deltas, then the final chunk."""
    message, chunks = answer.message, []
    if message.reasoning and not any(part.HasField("reasoning") for part in message.content):
        chunks.append(pb.StreamChunk(delta=pb.Delta(reasoning=message.reasoning)))
    for part in message.content:
        if part.HasField("text") and part.text:
            chunks.append(pb.StreamChunk(delta=pb.Delta(text=part.text)))
        elif part.HasField("reasoning"):
            thought = part.reasoning
            delta = (
                pb.Delta(redacted_reasoning=thought.data)
                if thought.redacted
                else pb.Delta(reasoning=thought.text, reasoning_signature=thought.signature)
            )
            chunks.append(pb.StreamChunk(delta=delta))
    if message.tool_calls:
        calls = [
            pb.ToolCallDelta(index=i, id=c.id, name=c.name, arguments=c.arguments, signature=c.signature)
            for i, c in enumerate(message.tool_calls)
        ]
        chunks.append(pb.StreamChunk(delta=pb.Delta(tool_calls=calls)))
    final = pb.FinalChunk(
        finish_reason=answer.finish_reason, usage=answer.usage, route=answer.route, timings=answer.timings
    )
    chunks.append(pb.StreamChunk(final=final))
    return chunks


async def _aiter(chunks: list[pb.StreamChunk]) -> AsyncIterator[pb.StreamChunk]:
    for chunk in chunks:
        yield chunk


class Pipeline:
    def __init__(
        self,
        config: GatewayConfig,
        providers: dict[str, Provider],
        stages: Sequence[Stage] = (),
        observers: Observers | None = None,
        strategy: RoutingStrategy | None = None,
        resilience: Resilience | None = None,
        redis: Redis | None = None,
    ) -> None:
        """`strategy` replaces every model's own (tests); `resilience` brings the clock, sleep,
        randomness and routing events; `redis` shares the breakers between instances."""
        self.config = config
        self.resilience = resilience or Resilience()
        breakers = Breakers(self.resilience.clock, self.resilience.events)
        self.registry = Registry(config, breakers)
        # Which upstreams hold which models in memory (Ollama's /api/ps), where that can change an order.
        polled = contested(self.registry)
        self.warm = Warm({name: p for name, p in providers.items() if name in polled})
        self.router = Router(self.registry, self.resilience.rng, strategy, providers, warm=self.warm)
        self.shared = SharedBreakers(redis, breakers) if redis is not None else None
        self.providers = providers
        self.stages = StageList(stages)
        self.observers: Observers = observers or NullObservers()
        # Requests that are not model calls (list, get, count, usage) pass the authenticate stage alone.
        self._authenticate = next((s for s in self.stages.stages if s.name == "authenticate"), None)

    async def start(self) -> None:
        """Background work: reading the breakers' shared state (storage.redis), and which models the
        upstreams hold in memory (routing/warm.py)."""
        if self.shared is not None:
            self.shared.start()
        self.warm.start()

    async def close(self) -> None:
        await self.warm.close()
        if self.shared is not None:
            await self.shared.close()
        await asyncio.gather(*(p.close() for p in self.providers.values()), return_exceptions=True)

    def _call(self, rpc: str, ctx: RequestContext, request: pb.GenerateRequest | pb.EmbedRequest) -> Call:
        return Call(rpc, ctx, request, self.registry.canonical(request.model) or UNKNOWN)

    async def _route(self, call: Call, stream: bool = False) -> list[Route]:
        """The routing step (routing/router.py): auto rules, A/B split, the model's strategy."""
        request, ctx = call.request, call.ctx
        generate = request if isinstance(request, pb.GenerateRequest) else None
        plan = await self.router.aplan(request.model, generate, ctx.client, ctx.principal.name, stream)
        call.routes, call.decision, call.arm = plan.routes, plan.decision, plan.arm
        if generate is not None:  # the routed model must declare what the request needs (vision, tools)
            call.routes = capable_routes(generate, call.routes)
        return call.routes

    def dropped(self, request: pb.GenerateRequest | pb.EmbedRequest, head: Attempt | Replayed) -> list[str]:
        """The request fields the answering provider left out (x-gateway-dropped-params, the access
        log); a replayed answer's route already names its own."""
        if not isinstance(head, Attempt):
            return []
        route = head.route
        provider = self.providers[route.deployment.provider]
        return provider.dropped_params(request, route.deployment.model, route.settings)

    def _answered(self, call: Call, attempt: Attempt, usage: pb.Usage) -> pb.Route:
        call.served_by = attempt.route
        route = attempt.describe(call.request.model, call.decision)
        route.cache = call.ctx.cache
        call.dropped = call.dropped or self.dropped(call.request, attempt)
        route.dropped_params.extend(call.dropped)
        call.answered(route, usage)
        return route

    async def generate(self, request: pb.GenerateRequest, ctx: RequestContext) -> pb.GenerateResponse:
        call = self._call("Generate", ctx, request)
        try:
            await self.stages.enter(call)
            response = call.answer or await self._generate(call, request)
        except BaseException as exc:
            call.error = exc
            await self.stages.leave(call)
            raise
        await self.stages.leave(call)
        if call.cost is not None:
            spent = response.cost if call.answer is None and response.HasField("cost") else None
            response.cost.CopyFrom(_plus(call.cost, spent))
        if call.ctx.rate_limits is not None:
            response.rate_limits.CopyFrom(call.ctx.rate_limits)
        return response

    async def _generate(self, call: Call, request: pb.GenerateRequest) -> pb.GenerateResponse:
        validate_generate(request)
        response, attempt = await call_unary(
            request.model,
            await self._route(call),
            self.providers,
            call.ctx.deadline,
            lambda provider, route, left: provider.generate(
                request, route.deployment.model, left, route.settings
            ),
            self.observers.generate(request, stream=False),
            self.resilience,
            cascade_check(request),
        )
        if attempt.spent is not None:  # a cascade: the answers it paid for and did not keep
            response.cost.CopyFrom(attempt.spent)
        response.id = response.id or _new_id()
        response.model = request.model
        response.created = response.created or int(time.time())
        response.route.CopyFrom(self._answered(call, attempt, response.usage))
        call.response = response
        return response

    async def stream(
        self, request: pb.GenerateRequest, ctx: RequestContext
    ) -> tuple[Attempt | Replayed, Abandonable[pb.StreamChunk]]:
        """The route that answered, and its chunks stamped with id, model and (final) route and cost.

        The route is known before the first chunk is sent, so a front door
        can put it in response headers. A stage's answer (the cache's) is
        replayed as a stream: its deltas, then one final chunk.
        """
        call = self._call("StreamGenerate", ctx, request)
        try:
            await self.stages.enter(call)
            if call.answer is not None:
                replay = _as_chunks(call.answer)
                rest = _aiter(replay[1:])
                return Replayed(call.answer.route), self._stamped(call, None, replay[0], rest)
            validate_generate(request)
            first, rest, attempt = await open_stream(
                request.model,
                await self._route(call, stream=True),
                self.providers,
                ctx.deadline,
                lambda provider, route, left: provider.stream(
                    request, route.deployment.model, left, route.settings
                ),
                self.observers.generate(request, stream=True),
                self.resilience,
            )
        except BaseException as exc:
            call.error = exc
            await self.stages.leave(call)
            raise
        attempt.decision = call.decision
        call.served_by = attempt.route
        call.route = attempt.describe(request.model, call.decision)
        call.dropped = self.dropped(request, attempt)
        call.route.dropped_params.extend(call.dropped)
        return attempt, self._stamped(call, attempt, first, rest)

    def _stamped(
        self, call: Call, attempt: Attempt | None, first: pb.StreamChunk, rest: AsyncIterator[pb.StreamChunk]
    ) -> Abandonable[pb.StreamChunk]:
        async def abandon() -> None:
            # Closed before its first chunk was asked for: the generator below never ran,
            # so its finally would not either: close the upstream and end the call here.
            call.error = asyncio.CancelledError("the client left before the first chunk")
            try:
                close = getattr(rest, "aclose", None)
                if close is not None:
                    await close()
            finally:
                await self.stages.leave(call)

        return Abandonable(self._stamp(call, attempt, first, rest), abandon)

    async def _stamp(
        self,
        call: Call,
        attempt: Attempt | None,  # None: a replayed answer, whose final chunk has its route
        first: pb.StreamChunk,
        rest: AsyncIterator[pb.StreamChunk],
    ) -> AsyncGenerator[pb.StreamChunk, None]:
        stream_id, created, model = _new_id(), int(time.time()), call.request.model
        chunk: pb.StreamChunk | None = first
        left = False
        try:
            while chunk is not None:
                chunk.id, chunk.model, chunk.created = stream_id, model, created
                call.chunk()
                if call.chunks is not None:
                    call.chunks.append(chunk)
                if chunk.HasField("final"):
                    final = chunk.final
                    if attempt is not None:
                        final.route.CopyFrom(self._answered(call, attempt, final.usage))
                    left = True
                    await self.stages.leave(call)
                    if call.cost is not None:
                        final.cost.CopyFrom(call.cost)
                    if call.ctx.rate_limits is not None:
                        final.rate_limits.CopyFrom(call.ctx.rate_limits)
                yield chunk
                chunk = await anext(rest, None)
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            try:
                # Closes the upstream request when the client goes away mid-stream.
                close = getattr(rest, "aclose", None)
                if close is not None:
                    await close()
            finally:
                if not left:
                    await self.stages.leave(call)

    async def embed(self, request: pb.EmbedRequest, ctx: RequestContext) -> pb.EmbedResponse:
        call = self._call("Embed", ctx, request)
        try:
            await self.stages.enter(call)
            response = await self._embed(call, request)
        except BaseException as exc:
            call.error = exc
            await self.stages.leave(call)
            raise
        await self.stages.leave(call)
        if call.cost is not None:
            response.cost.CopyFrom(call.cost)
        if call.ctx.rate_limits is not None:
            response.rate_limits.CopyFrom(call.ctx.rate_limits)
        return response

    async def _embed(self, call: Call, request: pb.EmbedRequest) -> pb.EmbedResponse:
        validate_embed(request)
        response, attempt = await call_unary(
            request.model,
            await self._route(call),
            self.providers,
            call.ctx.deadline,
            lambda provider, route, left: provider.embed(
                request, route.deployment.model, left, route.settings
            ),
            self.observers.embed(request),
            self.resilience,
        )
        response.model = request.model
        response.route.CopyFrom(self._answered(call, attempt, response.usage))
        return response

    async def admit(self, ctx: RequestContext, rpc: str, model: str = "") -> None:
        """Authenticate a request that calls no model (sets ctx.principal, or raises)."""
        if self._authenticate is not None:
            label = (self.registry.canonical(model) if model else None) or UNKNOWN
            await self._authenticate.enter(Call(rpc, ctx, pb.GenerateRequest(model=model), label))

    async def count_tokens(self, request: pb.GenerateRequest, ctx: RequestContext) -> pb.CountTokensResponse:
        """The first route whose provider can count, else the estimator; never a completion."""
        await self.admit(ctx, "CountTokens", request.model)
        validate_generate(request)
        plan = await self.router.aplan(request.model, request, ctx.client, ctx.principal.name)
        routes = plan.routes
        for number, route in enumerate(routes, start=1):
            left = ctx.deadline.left()
            if left <= 0:
                break
            provider = self.providers[route.deployment.provider]
            try:
                counted = await provider.count_tokens(request, route.deployment.model, left, route.settings)
            except GatewayError as error:
                if not error.failover:
                    raise
                continue  # a provider that cannot count now: the next one, or the estimate
            if counted is not None:
                route_taken = Attempt(route, number).describe(request.model, plan.decision)
                return pb.CountTokensResponse(input_tokens=counted, route=route_taken)
        route_taken = Attempt(routes[0], 1).describe(request.model, "estimate")
        return pb.CountTokensResponse(input_tokens=count_request(request), estimated=True, route=route_taken)

    async def list_models(self, ctx: RequestContext) -> pb.ListModelsResponse:
        """The models the caller's key may use."""
        await self.admit(ctx, "ListModels")
        principal = ctx.principal
        return pb.ListModelsResponse(
            models=[
                self.registry.describe(m)
                for m in self.registry.models()
                if principal_may_use(principal, (m.name, *m.aliases))
            ]
        )

    async def get_model(self, name: str, ctx: RequestContext) -> pb.Model:
        await self.admit(ctx, "GetModel", name)
        return self.registry.describe(self.registry.resolve(name))

    async def health(self, detailed: bool) -> pb.HealthResponse:
        if not detailed:
            return pb.HealthResponse(status=pb.HealthResponse.STATUS_SERVING, version=__version__)
        checks = await asyncio.gather(*(self._probe(name, p) for name, p in self.providers.items()))
        if self.shared is not None:
            await self.shared.sync()
        deployments = [_deployment_health(view) for view in self.registry.breakers.views()]
        healthy = all(c.healthy for c in checks)
        healthy = healthy and all(d.circuit != pb.CIRCUIT_STATE_OPEN for d in deployments)
        status = pb.HealthResponse.STATUS_SERVING if healthy else pb.HealthResponse.STATUS_DEGRADED
        return pb.HealthResponse(
            status=status, version=__version__, providers=checks, deployments=deployments
        )

    async def _probe(self, name: str, provider: Provider) -> pb.ProviderHealth:
        started = time.perf_counter()
        result = pb.ProviderHealth(name=name, kind=provider.kind, address=provider.address, healthy=True)
        try:
            await asyncio.wait_for(provider.list_models(HEALTH_PROBE_TIMEOUT_S), HEALTH_PROBE_TIMEOUT_S)
        except Exception as exc:  # any failure is a health finding, not a crash
            result.healthy = False
            result.error = str(exc) or type(exc).__name__
        result.latency_ms = (time.perf_counter() - started) * 1000
        return result
