"""Capabilities (core/capabilities.py) and dropped parameters through the pipeline, with scripted
providers in process.

The rule: a model that lists `capabilities` in its config is held to them (images need
`vision`, tools need `tools`); a model that lists none has the default `[chat]` and is not
checked, so configs written before the check keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from model_gateway.config import parse_config
from model_gateway.core.call import Call
from model_gateway.core.capabilities import capable_routes, declared, needs
from model_gateway.core.context import RequestContext
from model_gateway.core.pipeline import Pipeline
from model_gateway.core.stages import Record
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError
from model_gateway.providers.base import NO_SETTINGS, ModelSettings
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import ScriptedProvider

CONFIG = parse_config(
    """
providers: {a: {kind: openai}, b: {kind: openai}}
models:
  - name: undeclared
    deployments: [{provider: a, model: m-undeclared}]
  - name: text
    deployments: [{provider: a, model: m-text}]
    capabilities: [chat]
  - name: tools
    deployments: [{provider: a, model: m-tools}]
    capabilities: [chat, tools]
  - name: vision
    deployments: [{provider: a, model: m-vision}]
    capabilities: [chat, vision]
  - name: everything
    deployments: [{provider: a, model: m-everything}]
    capabilities: [chat, tools, vision]
    fallbacks: [text, all-too]
  - name: all-too
    deployments: [{provider: b, model: m-all-too}]
    capabilities: [chat, vision, tools, embed]
"""
)
TOOL = pb.Tool(name="get_weather")
IMAGE = pb.ContentPart(image=pb.ImagePart(url="https://example.com/cat.png"))


def request(model: str, tools: bool = False, image: bool = False) -> pb.GenerateRequest:
    content = [pb.ContentPart(text="look")] + ([IMAGE] if image else [])
    return pb.GenerateRequest(
        model=model,
        messages=[pb.Message(role=pb.ROLE_USER, content=content)],
        tools=[TOOL] if tools else [],
    )


@dataclass
class Sink:
    calls: list[Call] = field(default_factory=list)

    def record(self, call: Call) -> None:
        self.calls.append(call)


class Dropping(ScriptedProvider):
    """A provider that leaves fields out, as the OpenAI translator does for strict flavors."""

    def dropped_params(
        self, request: pb.GenerateRequest | pb.EmbedRequest, model: str, settings: ModelSettings = NO_SETTINGS
    ) -> list[str]:
        return ["top_k", "options.num_ctx"] if model == "m-text" else []


def gateway() -> tuple[Pipeline, dict[str, ScriptedProvider], Sink]:
    providers: dict[str, ScriptedProvider] = {"a": Dropping("a"), "b": ScriptedProvider("b")}
    sink = Sink()
    return Pipeline(CONFIG, dict(providers), stages=[Record([sink])]), providers, sink


def ctx() -> RequestContext:
    return RequestContext.from_metadata((), Deadline(10))


def test_what_a_request_needs_names_the_field() -> None:
    assert needs(request("x")) == []
    assert needs(request("x", tools=True, image=True)) == [
        ("tools", "tools"),
        ("vision", "messages[0].content[1].image"),
    ]


def test_only_listed_capabilities_count() -> None:
    by_name = {m.name: m for m in CONFIG.models}
    assert not declared(by_name["undeclared"]) and by_name["undeclared"].capabilities == ["chat"]
    assert declared(by_name["text"])


@pytest.mark.parametrize(
    ("model", "tools", "image", "refused"),
    [
        ("undeclared", True, True, None),  # the default [chat]: not checked
        ("text", False, False, None),
        ("text", True, False, ("tools", "tools")),
        ("text", False, True, ("vision", "messages[0].content[1].image")),
        ("tools", True, False, None),
        ("tools", False, True, ("vision", "messages[0].content[1].image")),
        ("vision", False, True, None),
        ("vision", True, True, ("tools", "tools")),
        ("everything", True, True, None),
    ],
)
async def test_a_model_without_the_capability_is_refused_before_any_upstream(
    model: str, tools: bool, image: bool, refused: tuple[str, str] | None
) -> None:
    pipeline, providers, sink = gateway()
    for stream in (False, True):
        if refused is None:
            if stream:
                _, chunks = await pipeline.stream(request(model, tools, image), ctx())
                assert [c async for c in chunks][-1].HasField("final")
            else:
                await pipeline.generate(request(model, tools, image), ctx())
            continue
        with pytest.raises(GatewayError) as caught:
            if stream:
                await pipeline.stream(request(model, tools, image), ctx())
            else:
                await pipeline.generate(request(model, tools, image), ctx())
        error = caught.value
        feature, where = refused
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.message.startswith(f"{where}: model '{model}' does not support {feature}")
        assert error.metadata["field"] == where
        assert not providers["a"].calls  # no upstream heard of it
        assert isinstance(sink.calls[-1].error, GatewayError)  # the refusal is recorded like any other


def test_fallbacks_that_cannot_are_left_out_of_the_routes() -> None:
    pipeline, _, _ = gateway()
    routes = pipeline.router.plan("everything", None, {}, "anonymous").routes
    assert [r.model.name for r in routes] == ["everything", "text", "all-too"]
    kept = capable_routes(request("everything", image=True), list(routes))
    assert [r.model.name for r in kept] == ["everything", "all-too"]
    assert capable_routes(request("everything"), list(routes)) == list(routes)


# --- dropped parameters --------------------------------------------------------------------------


async def test_dropped_params_ride_in_the_route_and_the_call() -> None:
    pipeline, _, sink = gateway()
    reply = await pipeline.generate(request("text"), ctx())
    assert list(reply.route.dropped_params) == ["top_k", "options.num_ctx"]
    assert sink.calls[-1].dropped == ["top_k", "options.num_ctx"]
    head, chunks = await pipeline.stream(request("text"), ctx())
    # Known before the first chunk is sent: the service puts it in the stream's headers.
    assert pipeline.dropped(request("text"), head) == ["top_k", "options.num_ctx"]
    final = [c async for c in chunks][-1].final
    assert list(final.route.dropped_params) == ["top_k", "options.num_ctx"]
    assert sink.calls[-1].dropped == ["top_k", "options.num_ctx"]


async def test_nothing_dropped_is_no_field() -> None:
    pipeline, _, sink = gateway()
    reply = await pipeline.generate(request("tools"), ctx())
    assert not reply.route.dropped_params and sink.calls[-1].dropped == []


def test_the_route_header_names_each_dropped_field_once_in_printable_ascii() -> None:
    from model_gateway_common.route_headers import DROPPED_PARAMS_HEADER, dropped_value, route_metadata

    route = pb.Route(
        served_model="m", attempts=1, dropped_params=["top_k", "options.num_ctx", "top_k", "té,mp"]
    )
    headers: dict[str, Any] = dict(route_metadata(route))
    assert headers[DROPPED_PARAMS_HEADER] == "top_k, options.num_ctx, t??mp"
    assert DROPPED_PARAMS_HEADER not in dict(route_metadata(pb.Route(served_model="m", attempts=1)))
    # A front door's own dropped fields come first, then the provider's, each once.
    assert dropped_value(["top_k", "seed"], also="thinking, top_k") == "thinking, top_k, seed"
    assert dropped_value([f"option_{i:04d}" for i in range(1000)]).endswith(", ...")
