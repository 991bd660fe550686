"""Warm-model preference: under `ordered`, among deployments of one upstream model, those whose
Ollama holds it in memory (GET /api/ps, refreshed in the background) go first; stable otherwise."""

from __future__ import annotations

import asyncio
import random

import grpc

from model_gateway.config import ProviderConfig, parse_config
from model_gateway.core.context import RequestContext
from model_gateway.core.pipeline import Pipeline
from model_gateway.deadline import Deadline
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers.ollama.provider import OllamaProvider
from model_gateway.routing.registry import Registry
from model_gateway.routing.router import Router
from model_gateway.routing.warm import Warm, contested
from tests.fakes import ollama_server
from tests.unit.service.routing.answering import AnsweringProvider, user

CONFIG = """
providers: {a: {kind: ollama}, b: {kind: ollama, base_url: "http://127.0.0.1:2"},
            c: {kind: ollama, base_url: "http://127.0.0.1:3"}}
models:
  - name: chat
    deployments:
      - {provider: a, model: llama3.2}
      - {provider: b, model: llama3.2}
      - {provider: c, model: llama3.2}
    fallbacks: [backup]
  - name: backup
    deployments: [{provider: a, model: qwen3}, {provider: b, model: qwen3}]
  - name: mixed
    deployments: [{provider: a, model: big}, {provider: b, model: small}, {provider: c, model: big}]
  - name: spread
    strategy: weighted
    deployments: [{provider: a, model: llama3.2}, {provider: b, model: llama3.2}]
"""


def setup(loaded: dict[str, set[str] | None]) -> tuple[Router, Warm, dict[str, AnsweringProvider]]:
    providers = {name: AnsweringProvider(name, loaded=models) for name, models in loaded.items()}
    warm = Warm(providers)
    return Router(Registry(parse_config(CONFIG)), random.Random(1), warm=warm), warm, providers


def labels(router: Router, model: str) -> list[str]:
    return [r.label for r in router.plan(model).routes]


async def test_configured_order_until_something_is_known() -> None:
    router, _, _ = setup({"a": None, "b": None, "c": None})
    assert labels(router, "chat") == ["a/llama3.2", "b/llama3.2", "c/llama3.2", "a/qwen3", "b/qwen3"]


async def test_deployments_holding_the_model_go_first_stably() -> None:
    router, warm, _ = setup({"a": set(), "b": {"qwen3:latest"}, "c": {"llama3.2:latest"}})
    await warm.refresh()
    plan = router.plan("chat")
    assert [r.label for r in plan.routes] == ["c/llama3.2", "a/llama3.2", "b/llama3.2", "b/qwen3", "a/qwen3"]
    assert plan.decision == "ordered"
    router, warm, _ = setup({"a": set(), "b": {"llama3.2"}, "c": {"llama3.2"}})
    await warm.refresh()
    assert labels(router, "chat")[:3] == ["b/llama3.2", "c/llama3.2", "a/llama3.2"]


async def test_other_upstream_models_keep_their_places() -> None:
    router, warm, _ = setup({"a": set(), "b": {"small"}, "c": {"big"}})
    await warm.refresh()
    assert labels(router, "mixed") == ["c/big", "b/small", "a/big"]  # `small` never jumps ahead


async def test_an_open_breaker_is_not_preferred() -> None:
    router, warm, _ = setup({"a": set(), "b": set(), "c": {"llama3.2"}})
    await warm.refresh()
    routes = router.plan("chat").routes
    assert routes[0].label == "c/llama3.2"
    assert routes[0].breaker is not None
    routes[0].breaker.open(routes[0].breaker.clock(), 30.0)
    assert labels(router, "chat")[:3] == ["a/llama3.2", "b/llama3.2", "c/llama3.2"]


async def test_other_strategies_are_left_alone() -> None:
    router, warm, _ = setup({"a": set(), "b": {"llama3.2"}, "c": set()})
    await warm.refresh()
    firsts = {labels(router, "spread")[0] for _ in range(200)}
    assert firsts == {"a/llama3.2", "b/llama3.2"}


async def test_a_provider_that_fails_to_answer_is_forgotten() -> None:
    router, warm, providers = setup({"a": set(), "b": {"llama3.2"}, "c": set()})
    await warm.refresh()
    assert labels(router, "chat")[0] == "b/llama3.2"
    providers["b"].loaded = None
    await warm.refresh()
    assert "b" not in warm.loaded and labels(router, "chat")[0] == "a/llama3.2"


async def test_errors_and_slowness_of_the_refresh_are_not_fatal() -> None:
    class Failing(AnsweringProvider):
        async def loaded_models(self, timeout: float) -> set[str] | None:
            raise GatewayError(grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE, "down")

    class Slow(AnsweringProvider):
        async def loaded_models(self, timeout: float) -> set[str] | None:
            await asyncio.sleep(10)
            return {"llama3.2"}

    warm = Warm({"x": Failing("x"), "y": Slow("y"), "z": AnsweringProvider("z", loaded={"m"})}, timeout_s=0.1)
    await asyncio.wait_for(warm.refresh(), 2)
    assert warm.loaded == {"z": frozenset({"m"})}


def test_only_providers_that_can_change_an_order_are_asked() -> None:
    registry = Registry(parse_config(CONFIG))
    assert contested(registry) == {"a", "b", "c"}  # chat (a, b, c), backup (a, b); not mixed's big/small
    lonely = parse_config(
        "providers: {a: {kind: ollama}, b: {kind: ollama, base_url: 'http://127.0.0.1:2'}}\n"
        "models:\n"
        "  - {name: one, deployments: [{provider: a, model: m}, {provider: b, model: n}]}\n"
        "  - {name: two, strategy: weighted,\n"
        "     deployments: [{provider: a, model: m}, {provider: b, model: m}]}\n"
    )
    assert contested(Registry(lonely)) == set()
    pipeline = Pipeline(lonely, {"a": AnsweringProvider("a"), "b": AnsweringProvider("b")})
    assert pipeline.warm.providers == {}


async def test_the_pipeline_refreshes_in_the_background_and_stops() -> None:
    providers = {
        "a": AnsweringProvider("a", loaded=set()),
        "b": AnsweringProvider("b", loaded={"llama3.2"}),
        "c": AnsweringProvider("c", loaded=set()),
    }
    pipeline = Pipeline(parse_config(CONFIG), dict(providers))
    pipeline.warm.refresh_s = 0.01
    await pipeline.start()
    try:
        for _ in range(200):
            if providers["b"].ps_calls >= 3:
                break
            await asyncio.sleep(0.01)
        assert providers["b"].ps_calls >= 3
        request = user("hi")
        request.model = "chat"
        reply = await pipeline.generate(request, RequestContext.from_metadata((), Deadline(10)))
        assert reply.route.deployment == "b/llama3.2"
    finally:
        await pipeline.close()
    calls = providers["b"].ps_calls
    await asyncio.sleep(0.05)
    assert providers["b"].ps_calls == calls  # the task is gone


async def test_the_ollama_provider_reads_api_ps_of_the_fake() -> None:
    server = await ollama_server.start(models=("llama3.2", "qwen3:4b", "fail-500"))
    provider = OllamaProvider("local", ProviderConfig(kind="ollama", base_url=server.url))
    try:
        loaded = await provider.loaded_models(2.0)
        assert loaded is not None and {"llama3.2:latest", "qwen3:4b"} <= loaded
        assert "fail-500:latest" not in loaded  # the fake lists cues as not loaded
        warm = Warm({"local": provider})
        await warm.refresh()
        assert warm.holds("local", "llama3.2") and warm.holds("local", "qwen3:4b")
    finally:
        await provider.close()
        await server.close()
