"""The response cache: key normalisation, hit / miss / bypass, cache control, stream replay, bounds."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from google.protobuf import struct_pb2

from model_gateway.cache_config import CacheConfig
from model_gateway.core.context import Limits
from model_gateway.core.pipeline import Pipeline
from model_gateway.core.stages import Record, StageList
from model_gateway.errors import GatewayError
from model_gateway.policy import policy_stages
from model_gateway.policy.cache import NoCache, ResponseCache
from model_gateway.policy.cache_answers import assemble
from model_gateway.policy.cache_key import cache_key, deterministic
from model_gateway.policy.cache_store import Entry, MemoryCache
from model_gateway.policy.price import Price
from model_gateway.providers.base import NO_SETTINGS, ModelSettings
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.scripted import ScriptedProvider, bad_request
from tests.unit.service.policy.support import CALL_COST, Metrics, build, chat, config, ctx


def cache(metrics: Metrics | None = None, **settings: object) -> ResponseCache:
    return ResponseCache(CacheConfig(**settings), metrics=metrics or Metrics())  # type: ignore[arg-type]


async def test_a_repeated_deterministic_request_is_answered_from_the_cache() -> None:
    metrics = Metrics()
    gateway, provider, sink = build(cache(metrics))
    first = await gateway.generate(chat(), ctx())
    again = await gateway.generate(chat("cheap-name"), ctx())  # an alias shares its model's entries
    assert len(provider.calls) == 1
    assert (first.route.cache, first.route.cache_hit, first.cost.total_usd) == ("miss", False, CALL_COST)
    assert (again.route.cache, again.route.cache_hit) == ("hit", True)
    assert again.HasField("cost") and again.cost.total_usd == 0
    assert again.message == first.message and again.usage == first.usage
    assert again.model == "cheap-name" and again.route.requested_model == "cheap-name"
    assert again.id != first.id
    # Every reply has timings (the native surface's schema requires them): a hit's are zeros.
    assert again.HasField("timings") and again.timings == pb.Timings()
    hit = sink.calls[1]
    assert (hit.cache_hit, hit.saved_usd, hit.cost) == (True, CALL_COST, pb.Cost())
    assert hit.route is not None and hit.route.cache_hit and hit.usage == first.usage
    assert metrics.cached == ["miss", "hit"]


@pytest.mark.parametrize(
    ("twin", "same"),
    [
        (chat(temperature=0.0, user="someone", tags=["t"], metadata={"k": "v"}, stream=True), True),
        (chat(text="y"), False),
        (chat("other"), False),
        (chat(temperature=None, seed=7), False),
        (chat(max_tokens=3), False),
        (chat(tools=[pb.Tool(name="f")]), False),
        (chat(response_format=pb.ResponseFormat(type=pb.ResponseFormat.TYPE_JSON_OBJECT)), False),
        (chat(tool_choice=pb.ToolChoice(mode=pb.ToolChoice.MODE_REQUIRED)), False),
        (
            chat(provider_options=struct_pb2.Struct(fields={"num_ctx": struct_pb2.Value(number_value=8)})),
            False,
        ),
        (chat(system="be brief"), False),
    ],
)
def test_the_key_holds_everything_that_changes_an_answer_and_nothing_else(
    twin: pb.GenerateRequest, same: bool
) -> None:
    base = cache_key(chat(), "priced")
    assert (cache_key(twin, "other" if twin.model == "other" else "priced") == base) is same


def test_provider_options_are_keyed_in_any_order_and_keys_apart_only_per_key() -> None:
    a, b = struct_pb2.Struct(), struct_pb2.Struct()
    a.update({"x": 1, "y": [1, 2]})
    b.update({"y": [1, 2], "x": 1})
    assert cache_key(chat(provider_options=a), "m") == cache_key(chat(provider_options=b), "m")
    assert cache_key(chat(), "m", "team-a") != cache_key(chat(), "m", "team-b") != cache_key(chat(), "m")


def test_deterministic_means_temperature_zero_or_a_seed() -> None:
    assert deterministic(chat()) and deterministic(chat(temperature=0.7, seed=1))
    assert not deterministic(chat(temperature=None)) and not deterministic(chat(temperature=0.2))


async def test_only_deterministic_requests_are_cached_unless_configured() -> None:
    gateway, provider, _ = build(cache())
    for _ in range(2):
        response = await gateway.generate(chat(temperature=0.8), ctx())
        assert response.route.cache == "bypass"
    assert len(provider.calls) == 2
    gateway, provider, _ = build(cache(only_deterministic=False))
    await gateway.generate(chat(temperature=0.8), ctx())
    assert (await gateway.generate(chat(temperature=0.8), ctx())).route.cache_hit
    assert len(provider.calls) == 1


async def test_no_cache_skips_the_lookup_but_stores_and_no_store_does_neither() -> None:
    metrics = Metrics()
    gateway, provider, _ = build(cache(metrics))
    fresh = pb.CacheControl(no_cache=True)
    assert (await gateway.generate(chat(cache_control=fresh), ctx())).route.cache == "bypass"
    assert (await gateway.generate(chat(cache_control=fresh), ctx())).route.cache == "bypass"
    assert (await gateway.generate(chat(), ctx())).route.cache == "hit"  # stored by the no-cache call
    assert len(provider.calls) == 2
    untouched = pb.CacheControl(no_store=True)
    assert (await gateway.generate(chat("other", cache_control=untouched), ctx())).route.cache == "bypass"
    assert (await gateway.generate(chat("other"), ctx())).route.cache == "miss"  # nothing was stored
    assert metrics.cached == ["bypass", "bypass", "hit", "bypass", "miss"]


async def test_the_bypass_header_is_no_store() -> None:
    gateway, _, _ = build(cache())
    bypass = ctx(metadata=[("x-gateway-cache", "bypass")])
    await gateway.generate(chat(), bypass)
    assert (await gateway.generate(chat(), ctx())).route.cache == "miss"


async def test_per_key_keeps_answers_apart() -> None:
    gateway, _, _ = build(cache(per_key=True))
    await gateway.generate(chat(), ctx("a", Limits()))
    assert (await gateway.generate(chat(), ctx("b", Limits()))).route.cache == "miss"
    assert (await gateway.generate(chat(), ctx("a", Limits()))).route.cache == "hit"


async def test_a_cached_answer_is_replayed_as_a_stream() -> None:
    gateway, provider, sink = build(cache())
    unary = await gateway.generate(chat(), ctx())
    head, chunks = await gateway.stream(chat(), ctx())
    received = [chunk async for chunk in chunks]
    assert len(provider.calls) == 1
    assert head.describe("priced").cache_hit
    assert [c.delta.text for c in received[:-1]] == ["from m"]
    final = received[-1].final
    assert final.route.cache == "hit" and final.usage == unary.usage and final.cost.total_usd == 0
    assert final.finish_reason == pb.FINISH_REASON_STOP
    assert len({c.id for c in received}) == 1 and received[0].id != unary.id
    assert sink.calls[-1].cache_hit and sink.calls[-1].saved_usd == CALL_COST
    assert sink.calls[-1].first_chunk_s is not None


async def test_a_streamed_answer_is_kept_and_answers_both_streams_and_unary_calls() -> None:
    gateway, provider, _ = build(cache())
    _, chunks = await gateway.stream(chat(), ctx())
    streamed = [chunk async for chunk in chunks]
    assert streamed[-1].final.route.cache == "miss"
    unary = await gateway.generate(chat(), ctx())
    assert unary.route.cache_hit and unary.message.content[0].text == "from m!"
    _, chunks = await gateway.stream(chat(), ctx())
    replayed = [chunk async for chunk in chunks]
    assert "".join(c.delta.text for c in replayed[:-1]) == "from m!"
    assert len(provider.calls) == 1


async def test_failures_are_never_cached() -> None:
    gateway, provider, _ = build(cache())
    provider.script = {"m": [bad_request()]}
    with pytest.raises(GatewayError):
        await gateway.generate(chat(), ctx())
    assert (await gateway.generate(chat(), ctx())).route.cache == "miss"
    provider.script = {"m": ["cut"]}
    _, chunks = await gateway.stream(chat("priced", "cut me"), ctx())
    with pytest.raises(GatewayError):
        [chunk async for chunk in chunks]
    assert (await gateway.generate(chat("priced", "cut me"), ctx())).route.cache == "miss"


class ErrorFinish(ScriptedProvider):
    async def generate(
        self, request: pb.GenerateRequest, model: str, timeout: float, settings: ModelSettings = NO_SETTINGS
    ) -> pb.GenerateResponse:
        response = await super().generate(request, model, timeout, settings)
        response.finish_reason = pb.FINISH_REASON_ERROR
        return response

    async def stream(
        self, request: pb.GenerateRequest, model: str, timeout: float, settings: ModelSettings = NO_SETTINGS
    ) -> AsyncIterator[pb.StreamChunk]:
        yield pb.StreamChunk(delta=pb.Delta(text="partial"))
        yield pb.StreamChunk(final=pb.FinalChunk(finish_reason=pb.FINISH_REASON_ERROR, usage=pb.Usage()))


async def test_answers_that_finished_with_an_error_are_never_cached() -> None:
    provider = ErrorFinish("a")
    gateway = Pipeline(config(), {"a": provider}, [cache(), Price(), Record([])])
    await gateway.generate(chat(), ctx())
    _, chunks = await gateway.stream(chat(text="s"), ctx())
    [chunk async for chunk in chunks]
    assert (await gateway.generate(chat(), ctx())).route.cache == "miss"
    assert (await gateway.generate(chat(text="s"), ctx())).route.cache == "miss"


async def test_the_memory_cache_is_bounded_by_size_and_age() -> None:
    now = [0.0]
    store = MemoryCache(max_entries=2, ttl_s=10, clock=lambda: now[0])
    for key in "abc":
        await store.put(key, Entry(key.encode(), 0.0))
    assert len(store) == 2 and await store.get("a") is None  # the least recently used went first
    assert await store.get("b") is not None
    await store.put("d", Entry(b"d", 0.0))
    assert await store.get("c") is None and await store.get("b") is not None  # b was used, c was not
    now[0] = 10.0
    assert await store.get("b") is None and len(store) == 1
    await store.put("huge", Entry(b"x" * (2 << 20), 0.0))
    assert await store.get("huge") is None


def test_assembling_a_stream_keeps_text_reasoning_and_tool_calls() -> None:
    chunks = [
        pb.StreamChunk(id="s", model="m", delta=pb.Delta(reasoning="think ")),
        pb.StreamChunk(delta=pb.Delta(reasoning="more", reasoning_signature="sig")),
        pb.StreamChunk(delta=pb.Delta(text="Hel")),
        pb.StreamChunk(delta=pb.Delta(text="lo")),
        pb.StreamChunk(
            delta=pb.Delta(tool_calls=[pb.ToolCallDelta(index=0, id="c1", name="f", arguments='{"a"')])
        ),
        pb.StreamChunk(delta=pb.Delta(tool_calls=[pb.ToolCallDelta(index=0, arguments=": 1}")])),
        pb.StreamChunk(
            final=pb.FinalChunk(finish_reason=pb.FINISH_REASON_TOOL_CALLS, usage=pb.Usage(output_tokens=4))
        ),
    ]
    answer = assemble(chunks)
    assert answer is not None
    message = answer.message
    assert message.reasoning == "think more"
    assert message.content[0].reasoning == pb.ReasoningPart(text="think more", signature="sig")
    assert message.content[1].text == "Hello"
    assert list(message.tool_calls) == [pb.ToolCall(id="c1", name="f", arguments='{"a": 1}')]
    assert answer.finish_reason == pb.FINISH_REASON_TOOL_CALLS and answer.usage.output_tokens == 4
    assert assemble(chunks[:-1]) is None


def test_a_disabled_cache_is_a_named_no_op_that_costs_no_hooks() -> None:
    stages = policy_stages(config("cache: {enabled: false}"))
    assert any(isinstance(stage, NoCache) for stage in stages)
    listed = StageList(stages)
    assert "cache" not in [s.name for s in (*listed._entering, *listed._leaving)]
