"""`model: "auto"`: the rules of `routing.auto`, in order, the first match naming the model.

Conditions read the request only (no upstream call): tools, images, the
estimated prompt size (model_gateway.tokens), whether it would fit the
default model's context window, code in the user's text, keywords, and the
client's `x-gateway-route` header. The decision is `auto:<rule name>`
(a rule's `name`, else its first condition's key), or `auto:default`.

Two phases call a model (routing/semantic.py), so only `decide` (async)
runs them: `semantic` rules (the nearest rule above its threshold, by the
embedding of the last user text) and, when no rule matched, the classifier
(`auto:classifier:<route>`). The synchronous `choose` treats semantic rules
as not matching and asks no classifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc

from model_gateway.errors import GatewayError, Reason
from model_gateway.routing.semantic import Classifier, Embedder, SemanticIndex
from model_gateway.routing_settings import AutoRule, AutoSettings, SemanticWhen
from model_gateway.tokens import count_request
from modelgateway.v1 import gateway_pb2 as pb

ROUTE_HEADER = "x-gateway-route"
SMART_HEADER = "x-gateway-smart-routing"
_TEXT_LIMIT = 32_000  # characters of the user's text that code and keyword rules read (the latest)

_FENCE = re.compile(r"```|~~~")
_TRACE = re.compile(
    r"Traceback \(most recent call last\)|^\s+at [\w.$]+\(.*\)$|File \"[^\"]+\", line \d+|"
    r"Exception in thread|^panic: |goroutine \d+ \[|error\[E\d{4}\]|\bSegmentation fault\b",
    re.MULTILINE,
)
_FILE = re.compile(
    r"\b[\w./-]+\.(?:py|ipynb|js|mjs|cjs|ts|tsx|jsx|go|rs|java|kt|kts|scala|c|h|cc|cpp|hpp|cs|rb|php|swift|"
    r"m|mm|sh|bash|zsh|ps1|sql|lua|pl|r|dart|ex|exs|erl|hs|ml|clj|vue|svelte|css|scss|toml|gradle|tf)\b"
)
# Syntax, not words: a sentence about classes or imports is not code.
_SYNTAX = re.compile(
    r"\bdef \w+\(|\bclass \w+[:(\s{]|\bfunction\*? ?\w*\(|\bfn \w+[<(]|\bfunc (?:\(\w+ \*?\w+\) )?\w+\(|"
    r"^\s*(?:import \w[\w.]*|from [\w.]+ import|#include ?[<\"]|using [\w.]+;|package \w+)|"
    r"\b(?:const|let|var) \w+ ?=|=>|->|::|\)\s*\{|;\s*$|\bpublic (?:static )?\w+|\bSELECT .+ FROM\b|"
    r"^\s*(?:if|for|while)\s*\(.*\)\s*\{?\s*$|\breturn\b[^.\n]*;|\bconsole\.log\(|\bprint\(|\bprintf\(",
    re.MULTILINE,
)


def looks_like_code(text: str) -> bool:
    """Fenced blocks, stack traces or file names decide alone; otherwise two pieces of syntax."""
    if _FENCE.search(text) or _TRACE.search(text) or _FILE.search(text):
        return True
    return any(hits >= 2 for hits, _ in enumerate(_SYNTAX.finditer(text), start=1))


class _Facts:
    """What the rules ask of one request, each worked out at most once."""

    __slots__ = ("_code", "_last", "_text", "_tokens", "client", "request")

    def __init__(self, request: pb.GenerateRequest, client: Mapping[str, str]) -> None:
        self.request, self.client = request, client
        self._tokens: int | None = None
        self._text: str | None = None
        self._code: bool | None = None
        self._last: str | None = None

    @property
    def tokens(self) -> int:
        if self._tokens is None:
            self._tokens = count_request(self.request)
        return self._tokens

    @property
    def text(self) -> str:
        """The user's words (and a raw prompt), the latest last, capped."""
        if self._text is None:
            parts = [self.request.prompt] if self.request.prompt else []
            for message in self.request.messages:
                if message.role == pb.ROLE_USER:
                    parts.extend(p.text for p in message.content if p.HasField("text"))
            self._text = "\n".join(parts)[-_TEXT_LIMIT:]
        return self._text

    @property
    def last(self) -> str:
        """The last user message's text (or the raw prompt): what semantic rules and the classifier read."""
        if self._last is None:
            self._last = self.request.prompt
            for message in reversed(self.request.messages):
                if message.role == pb.ROLE_USER:
                    self._last = "\n".join(p.text for p in message.content if p.HasField("text"))
                    break
        return self._last

    @property
    def code(self) -> bool:
        if self._code is None:
            self._code = looks_like_code(self.text)
        return self._code

    @property
    def has_images(self) -> bool:
        return any(p.HasField("image") for m in self.request.messages for p in m.content)


Check = Callable[[_Facts], bool]


@dataclass(frozen=True, slots=True)
class _Rule:
    label: str
    model: str
    checks: tuple[Check, ...]
    semantic: SemanticWhen | None = None


class Auto:
    """The compiled rules; `choose` / `decide` name the model and the rule for one request."""

    def __init__(
        self,
        settings: AutoSettings,
        context_window: Callable[[str], int | None],
        embedder: Embedder | None = None,
        classifier: Classifier | None = None,
    ) -> None:
        self.default = settings.default
        default_window = context_window(settings.default) if settings.default else None
        self.rules = tuple(_compile(rule, default_window) for rule in settings.rules)
        examples = {i: r.semantic.examples for i, r in enumerate(self.rules) if r.semantic is not None}
        self.semantic = (
            SemanticIndex(examples, embedder, settings.semantic.timeout_s)
            if examples and embedder is not None
            else None
        )
        self.classifier = classifier

    @property
    def configured(self) -> bool:
        return self.default is not None

    @property
    def needs_io(self) -> bool:
        """Whether deciding may call a model (semantic rules, the classifier): use `decide`."""
        return self.semantic is not None or self.classifier is not None

    def choose(self, request: pb.GenerateRequest, client: Mapping[str, str]) -> tuple[str, str]:
        """(model, decision) for the request: the first rule that matches, else the default
        (semantic rules never match here, and no classifier is asked)."""
        if self.default is None:
            raise not_configured()
        facts = _Facts(request, client)
        for rule in self.rules:
            if rule.semantic is None and all(check(facts) for check in rule.checks):
                return rule.model, f"auto:{rule.label}"
        return self.default, "auto:default"

    async def decide(self, request: pb.GenerateRequest, client: Mapping[str, str]) -> tuple[str, str]:
        """`choose` with the phases that call a model: the rules in order (a semantic rule matches
        when it is the nearest of the semantic rules whose other conditions hold, above its own
        threshold), then the classifier, else the default."""
        if self.default is None:
            raise not_configured()
        facts = _Facts(request, client)
        winner: int | None = None
        scored = False
        for index, rule in enumerate(self.rules):
            if not all(check(facts) for check in rule.checks):
                continue
            if rule.semantic is None:
                return rule.model, f"auto:{rule.label}"
            if not scored:
                scored = True
                winner = await self._nearest(facts)
            if winner == index:
                return rule.model, f"auto:{rule.label}"
        if self.classifier is not None:
            route = await self.classifier.classify(facts.last)
            if route is not None:
                return route, f"auto:classifier:{route}"
        return self.default, "auto:default"

    async def _nearest(self, facts: _Facts) -> int | None:
        """The semantic rule nearest the request among those whose other conditions hold and whose
        threshold the similarity reaches; None when there is none (or embeddings failed)."""
        if self.semantic is None:
            return None
        scores = await self.semantic.similarities(facts.last)
        if not scores:
            return None
        best: tuple[float, int] | None = None
        for index, score in scores.items():
            rule = self.rules[index]
            assert rule.semantic is not None
            if score < rule.semantic.threshold or not all(check(facts) for check in rule.checks):
                continue
            if best is None or score > best[0]:
                best = (score, index)
        return best[1] if best is not None else None


def not_configured() -> GatewayError:
    return GatewayError(
        grpc.StatusCode.NOT_FOUND,
        Reason.MODEL_NOT_FOUND,
        "model 'auto' is not configured: add routing.auto to the config, with rules and a default, "
        "e.g. routing: {auto: {rules: [{when: {code: true}, model: coding}], default: llama3.2}}",
        metadata={"model": "auto"},
    )


def _compile(rule: AutoRule, default_window: int | None) -> _Rule:
    when = rule.when
    checks: list[Check] = []
    if when.has_tools is not None:
        want_tools = when.has_tools
        checks.append(lambda f: bool(f.request.tools) == want_tools)
    if when.has_images is not None:
        want_images = when.has_images
        checks.append(lambda f: f.has_images == want_images)
    if when.prompt_tokens_over is not None:
        over = when.prompt_tokens_over
        checks.append(lambda f: f.tokens > over)
    if when.prompt_tokens_under is not None:
        under = when.prompt_tokens_under
        checks.append(lambda f: f.tokens < under)
    if when.context_over is not None:
        want_over = when.context_over
        window = default_window

        def too_long(f: _Facts) -> bool:
            asked = f.request.sampling.max_tokens if f.request.sampling.HasField("max_tokens") else 0
            return window is not None and f.tokens + asked > window

        checks.append(lambda f: too_long(f) == want_over)
    if when.code is not None:
        want_code = when.code
        checks.append(lambda f: f.code == want_code)
    if when.keywords:
        words = re.compile(r"\b(?:" + "|".join(re.escape(k) for k in when.keywords) + r")\b", re.IGNORECASE)
        checks.append(lambda f: words.search(f.text) is not None)
    if when.header is not None:
        value = when.header
        checks.append(lambda f: f.client.get(ROUTE_HEADER) == value)
    return _Rule(rule.label, rule.model, tuple(checks), when.semantic)


def smart_routing(client: Mapping[str, str]) -> bool:
    """`X-Gateway-Smart-Routing: 1` routes the call as `auto`, whatever model it names."""
    return client.get(SMART_HEADER, "").strip().lower() in ("1", "true", "yes", "on")
