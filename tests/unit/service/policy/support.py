"""A pipeline with the limit and cache stages over a scripted provider, for the policy tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from model_gateway.config import GatewayConfig, parse_config
from model_gateway.core.call import Call
from model_gateway.core.context import Limits, Principal, RequestContext
from model_gateway.core.pipeline import Pipeline
from model_gateway.core.stages import PassStage, Record
from model_gateway.deadline import Deadline
from model_gateway.policy.price import Price
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import ScriptedProvider

# Prices that make costs easy to read: 3 input tokens at $1 and 5 output at $2 cost $13.
CONFIG_TEXT = """
providers: {a: {kind: openai}}
models:
  - name: priced
    aliases: [cheap-name]
    deployments: [{provider: a, model: m}]
    pricing: {input_per_mtok: 1000000, output_per_mtok: 2000000}
  - name: other
    deployments: [{provider: a, model: o}]
"""
CONFIG = parse_config(CONFIG_TEXT)
CALL_COST = 13.0  # the scripted usage (3 in, 5 out) at CONFIG's prices
CALL_TOKENS = 8


class Sink:
    def __init__(self) -> None:
        self.calls: list[Call] = []

    def record(self, call: Call) -> None:
        self.calls.append(call)


@dataclass
class Metrics:
    """Records what the stages report (policy/signals.PolicyMetrics)."""

    cached: list[str] = field(default_factory=list)
    refusals: list[tuple[str, str]] = field(default_factory=list)
    store_errors: list[str] = field(default_factory=list)

    def cache(self, outcome: str) -> None:
        self.cached.append(outcome)

    def refused(self, scope: str, limit: str) -> None:
        self.refusals.append((scope, limit))

    def store_error(self, store: str) -> None:
        self.store_errors.append(store)


def config(extra: str = "") -> GatewayConfig:
    return parse_config(CONFIG_TEXT + extra)


def build(*stages: PassStage, cfg: GatewayConfig = CONFIG) -> tuple[Pipeline, ScriptedProvider, Sink]:
    sink = Sink()
    provider = ScriptedProvider("a")
    return Pipeline(cfg, {"a": provider}, [*stages, Price(), Record([sink])]), provider, sink


def chat(
    model: str = "priced",
    text: str = "x",
    temperature: float | None = 0.0,
    seed: int | None = None,
    max_tokens: int | None = None,
    **fields: object,
) -> pb.GenerateRequest:
    sampling = pb.Sampling()
    if temperature is not None:
        sampling.temperature = temperature
    if seed is not None:
        sampling.seed = seed
    if max_tokens is not None:
        sampling.max_tokens = max_tokens
    message = pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text)])
    return pb.GenerateRequest(model=model, messages=[message], sampling=sampling, **fields)  # type: ignore[arg-type]


def ctx(
    name: str = "anonymous",
    limits: Limits | None = None,
    project: str = "",
    project_limits: Limits | None = None,
    metadata: Sequence[tuple[str, str]] = (),
) -> RequestContext:
    context = RequestContext.from_metadata((("x-request-id", "r-1"), *metadata), Deadline(5))
    if limits is not None or project_limits is not None:
        context.principal = Principal(
            name, project=project, limits=limits or Limits(), project_limits=project_limits or Limits()
        )
    return context
