"""The hot endpoints served as plain Starlette routes, ahead of FastAPI's own routing.

Every surface handler takes the Request and returns a Response: FastAPI's
per-request machinery (dependency solving, query parsing, two exit stacks,
the matching of included routers) does nothing for them but costs a
profile's worth of CPU. `mount_plain` puts each unambiguous POST handler in
front of the app's routes as a Starlette Route, same path, same endpoint,
same name: the middleware stack, the exception handlers, the access log's
route template and the OpenTelemetry span name all see what they saw. Routes
that need FastAPI (path parameters, custom matching such as the Anthropic
`anthropic-version` routes, a path served by two surfaces) stay as they are.
"""

from __future__ import annotations

import inspect
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match, Route
from starlette.types import Scope

log = logging.getLogger("model_gateway_bridge")


class PlainRoute(Route):
    """A Starlette route that names itself in the scope, as FastAPI's routes do (the access log
    and the metrics read the route template from `scope["route"]`)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


def _routes(routes: list[Any]) -> Iterator[Any]:
    """Every route, included routers opened (their effective paths carry the prefixes)."""
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if candidates is not None:
            yield from _routes(candidates())
        else:
            yield route


def _plain(route: Any) -> bool:
    original = getattr(route, "original_route", route)
    endpoint = getattr(route, "endpoint", None)
    if type(original) is not APIRoute or endpoint is None or route.methods != {"POST"}:
        return False
    if "{" in route.path or getattr(original, "dependencies", None):
        return False
    parameters = list(inspect.signature(endpoint).parameters.values())
    return [p.name for p in parameters] == ["request"] and inspect.iscoroutinefunction(endpoint)


def mount_plain(app: FastAPI) -> list[str]:
    """Mounts the plain routes first; returns their paths. Anything unexpected: nothing is changed."""
    try:
        found = list(_routes(app.router.routes))
        served = Counter(path for route in found for path in [getattr(route, "path", None)] if path)
        plain = [
            PlainRoute(route.path, route.endpoint, methods=["POST"], name=route.name)
            for route in found
            if _plain(route) and served[route.path] == 1
        ]
    except Exception as exc:  # a FastAPI whose internals moved: its own routing still works
        log.warning("hot routes left to FastAPI (%s)", exc)
        return []
    app.router.routes[:0] = plain
    return [route.path for route in plain]
