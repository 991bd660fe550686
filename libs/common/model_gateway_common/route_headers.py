"""The route a call took, as gRPC metadata and, through the bridge, HTTP response headers.

Beside the route: the response cache's verdict (`x-gateway-cache`), the
request fields the serving provider left out (`x-gateway-dropped-params`) and
the caller's rate-limit standing as OpenAI sends it (`x-ratelimit-*`).
"""

from __future__ import annotations

from collections.abc import Iterable

from modelgateway.v1 import gateway_pb2 as pb

CACHE_HEADER = "x-gateway-cache"  # hit | miss | bypass; also a request header (`bypass`)
# Request fields no upstream received, comma-separated: "top_k, options.num_ctx".
DROPPED_PARAMS_HEADER = "x-gateway-dropped-params"
_MAX_DROPPED_CHARS = 2000  # a header, not a dump: a caller with hundreds of extras sees the first ones
RATE_LIMIT_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
)
DECISION_HEADER = "x-gateway-decision"  # the strategy or rule that chose: ordered, auto:code, split:b
ROUTE_HEADERS = (
    "x-gateway-model",
    "x-gateway-provider",
    "x-gateway-deployment",
    "x-gateway-attempts",
    DECISION_HEADER,
    CACHE_HEADER,
    DROPPED_PARAMS_HEADER,
    *RATE_LIMIT_HEADERS,
)


def route_metadata(route: pb.Route) -> tuple[tuple[str, str], ...]:
    pairs: tuple[tuple[str, str], ...] = (
        ("x-gateway-model", route.served_model),
        ("x-gateway-provider", route.provider),
        ("x-gateway-deployment", route.deployment),
        ("x-gateway-attempts", str(route.attempts)),
    )
    if route.decision:
        pairs = (*pairs, (DECISION_HEADER, route.decision))
    if route.cache:
        pairs = (*pairs, (CACHE_HEADER, route.cache))
    if route.dropped_params:
        pairs = (*pairs, (DROPPED_PARAMS_HEADER, dropped_value(route.dropped_params)))
    return pairs


def dropped_value(names: Iterable[str], also: str = "") -> str:
    """Names as one header value: printable ASCII (gRPC metadata and HTTP both need it), each once,
    after those already in `also` (a front door's own dropped fields)."""
    seen = [name.strip() for name in also.split(",") if name.strip()]
    for name in names:
        clean = "".join(c if " " <= c <= "~" and c != "," else "?" for c in name).strip()
        if clean and clean not in seen:
            seen.append(clean)
    value = ", ".join(seen)
    if len(value) > _MAX_DROPPED_CHARS:
        value = value[:_MAX_DROPPED_CHARS].rsplit(", ", 1)[0] + ", ..."
    return value


def rate_limit_metadata(limits: pb.RateLimits | None) -> tuple[tuple[str, str], ...]:
    """OpenAI's x-ratelimit-* headers for the limits that applied (none: no headers)."""
    if limits is None:
        return ()
    pairs: list[tuple[str, str]] = []
    if limits.limit_requests:
        pairs += [
            ("x-ratelimit-limit-requests", str(limits.limit_requests)),
            ("x-ratelimit-remaining-requests", str(limits.remaining_requests)),
            ("x-ratelimit-reset-requests", duration(limits.reset_requests_s)),
        ]
    if limits.limit_tokens:
        pairs += [
            ("x-ratelimit-limit-tokens", str(limits.limit_tokens)),
            ("x-ratelimit-remaining-tokens", str(limits.remaining_tokens)),
            ("x-ratelimit-reset-tokens", duration(limits.reset_tokens_s)),
        ]
    return tuple(pairs)


def duration(seconds: float) -> str:
    """A wait as OpenAI writes it (Go's duration form): 0s, 120ms, 1.5s, 6m0s, 1h2m3s."""
    if seconds <= 0:
        return "0s"
    if round(seconds * 1000) < 1000:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"
