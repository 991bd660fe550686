"""Which front door a request came in by, decided once per request.

Every surface (OpenAI, Anthropic, Ollama, native) is one Surface: its
name (the `surface` of logs and metrics, and the x-gateway-surface the
gateway is told), its routes and its error body. The registry resolves a
request's surface from its path, the longest registered prefix winning, or
from a header that claims a path two dialects share (Anthropic's
`anthropic-version` on /v1/models), and stores it in the ASGI scope; the
access log, the metrics, the error handlers and the gRPC call context all
read it from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from fastapi import APIRouter
from starlette.responses import Response
from starlette.types import Scope

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.surfaces import anthropic, native, ollama, openai, simple

ErrorRenderer = Callable[[BridgeError], Response]

# Where a request's resolved Surface lives in its ASGI scope.
SCOPE_KEY = "model_gateway.surface"


@dataclass(frozen=True, slots=True, eq=False)
class Surface:
    """One front door: what it is called, its routes, its error body and the requests it claims."""

    name: str
    router: APIRouter
    render_error: ErrorRenderer
    prefixes: tuple[str, ...]  # the paths that are this surface's ("/" takes whatever no other claims)
    # A header that claims a request for this surface on paths another surface also serves.
    header: bytes = b""
    header_prefixes: tuple[str, ...] = ()


class SurfaceRegistry:
    """The surfaces of one bridge, in the order their routes are mounted."""

    def __init__(self, *surfaces: Surface) -> None:
        self._surfaces = surfaces
        pairs = [(prefix, surface) for surface in surfaces for prefix in surface.prefixes]
        self._by_prefix = sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)
        if not any(prefix == "/" for prefix, _ in pairs):
            raise ValueError("one surface must claim the prefix '/' (the requests no other claims)")
        self._default = next(surface for prefix, surface in pairs if prefix == "/")
        self._by_header = {s.header: s for s in surfaces if s.header and s.header_prefixes}
        self._header_paths = tuple(prefix for s in self._by_header.values() for prefix in s.header_prefixes)

    def __iter__(self) -> Iterator[Surface]:
        return iter(self._surfaces)

    def resolve(self, path: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> Surface:
        """A few prefix checks; the headers are read only on a path some surface claims by header."""
        if self._header_paths and path.startswith(self._header_paths):
            for name, _value in headers:
                claimant = self._by_header.get(name)
                if claimant is not None and path.startswith(claimant.header_prefixes):
                    return claimant
        for prefix, surface in self._by_prefix:
            if path.startswith(prefix):
                return surface
        return self._default

    def of(self, scope: Scope) -> Surface:
        """The request's surface: resolved once, then read from its scope."""
        surface: Surface | None = scope.get(SCOPE_KEY)
        if surface is None:
            surface = scope[SCOPE_KEY] = self.resolve(scope["path"], scope.get("headers", ()))
        return surface


# Every front door, in the order its routes are mounted: a new one is a package and a line here.
SURFACES = SurfaceRegistry(
    Surface("native", native.router, native.error_response, prefixes=("/api/v1",)),
    # Before openai: its /v1/models routes match only requests that carry `anthropic-version`.
    Surface(
        "anthropic",
        anthropic.router,
        anthropic.error_response,
        prefixes=("/v1/messages",),
        header=anthropic.VERSION_HEADER,
        header_prefixes=("/v1/models",),
    ),
    # /v1/chat is the simple shape; "/v1/chat/" (longer) keeps /v1/chat/completions OpenAI's.
    Surface("simple", simple.router, simple.error_response, prefixes=("/v1/chat",)),
    Surface("openai", openai.router, openai.error_response, prefixes=("/v1", "/v1/chat/")),
    # Ollama's own server answers at the root, so this surface takes what no other claims, 404s included.
    Surface("ollama", ollama.router, ollama.error_response, prefixes=("/",)),
)
