"""Which models each upstream holds in memory now (Ollama's `GET /api/ps`), refreshed in the background.

A task started with the pipeline asks every provider that can tell
(`Provider.loaded_models`) every `REFRESH_S` seconds and keeps the latest
sets; routing only reads them (no I/O on the request path). A provider that
fails to answer is forgotten until it answers again.

Under the `ordered` strategy, among a model's deployments of the same
upstream model (one model on several Ollama hosts), those whose upstream
holds it in memory (and whose breaker is closed) are tried first, in
configured order, then the rest; deployments of other upstream models keep
their configured places (a loaded small model never jumps ahead of the big
one configured first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

from model_gateway.errors import GatewayError
from model_gateway.providers.base import Provider
from model_gateway.routing.registry import Registry, Route

log = logging.getLogger("model_gateway.routing.warm")

REFRESH_S = 5.0
TIMEOUT_S = 2.0


def _names(loaded: set[str]) -> frozenset[str]:
    """Both spellings of a default tag: Ollama lists `llama3.2:latest` for a deployment's `llama3.2`."""
    return frozenset(n for name in loaded for n in (name, name.removesuffix(":latest")))


def _can_tell(provider: Provider) -> bool:
    return type(provider).loaded_models is not Provider.loaded_models


def contested(registry: Registry) -> set[str]:
    """The providers whose answer can change an order: those of `ordered` models' deployments that
    share their upstream model with another deployment of the same model."""
    names: set[str] = set()
    for model in registry.models():
        if registry.strategies.get(model.name) != "ordered":
            continue
        by_upstream: dict[str, set[str]] = {}
        for route in registry.own(model):
            upstream = route.deployment.model.removesuffix(":latest")
            by_upstream.setdefault(upstream, set()).add(route.deployment.provider)
        names.update(p for providers in by_upstream.values() if len(providers) > 1 for p in providers)
    return names


class Warm:
    def __init__(
        self, providers: Mapping[str, Provider], refresh_s: float = REFRESH_S, timeout_s: float = TIMEOUT_S
    ) -> None:
        """`providers`: those to ask (the ones that cannot tell are left out)."""
        self.providers = {name: p for name, p in providers.items() if _can_tell(p)}
        self.refresh_s, self.timeout_s = refresh_s, timeout_s
        self.loaded: dict[str, frozenset[str]] = {}  # provider name → the models it holds in memory
        self._task: asyncio.Task[None] | None = None

    def holds(self, provider: str, model: str) -> bool:
        names = self.loaded.get(provider)
        return names is not None and model in names

    def first(self, routes: Sequence[Route]) -> list[Route]:
        """Within each upstream model's places in `routes`, the deployments holding it first, stably."""
        ordered = list(routes)
        if not self.loaded or len(routes) < 2:
            return ordered
        places: dict[str, list[int]] = {}
        for index, route in enumerate(routes):
            places.setdefault(route.deployment.model.removesuffix(":latest"), []).append(index)
        for indexes in places.values():
            if len(indexes) < 2:
                continue
            members = [routes[i] for i in indexes]
            hot = [r for r in members if self._ready(r)]
            if not hot or len(hot) == len(members):
                continue
            for index, route in zip(indexes, hot + [r for r in members if r not in hot], strict=True):
                ordered[index] = route
        return ordered

    def _ready(self, route: Route) -> bool:
        return self.holds(route.deployment.provider, route.deployment.model) and (
            route.breaker is None or route.breaker.closed
        )

    async def _ask(self, name: str, provider: Provider) -> None:
        try:
            loaded = await asyncio.wait_for(provider.loaded_models(self.timeout_s), self.timeout_s)
        except (GatewayError, TimeoutError, OSError, ValueError) as exc:
            if name in self.loaded:
                log.info("loaded models of provider '%s' unknown: %s", name, exc or "timed out")
            loaded = None
        if loaded is None:
            self.loaded.pop(name, None)
        else:
            self.loaded[name] = _names(loaded)

    async def refresh(self) -> None:
        """Ask every provider that can tell, at once; keep what each answered."""
        await asyncio.gather(*(self._ask(name, p) for name, p in self.providers.items()))

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.refresh_s)

    def start(self) -> None:
        if self.providers and self._task is None:
            self._task = asyncio.create_task(self._run(), name="warm-models")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
