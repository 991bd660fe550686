"""The gateway's policy as HTTP: cache-control headers in, x-ratelimit-* and Retry-After out."""

from __future__ import annotations

import grpc
import pytest
from grpc import aio
from starlette.datastructures import Headers

from model_gateway.errors import GatewayError, Reason
from model_gateway_bridge.client import cache_control_of
from model_gateway_bridge.errors import from_rpc_error
from model_gateway_common.route_headers import duration, rate_limit_metadata, route_metadata
from modelgateway.v1 import gateway_pb2 as pb


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"cache-control": "max-age=60"}, None),
        ({"cache-control": "No-Cache"}, pb.CacheControl(no_cache=True)),
        ({"cache-control": "private, no-store"}, pb.CacheControl(no_store=True)),
        ({"cache-control": "no-cache,no-store"}, pb.CacheControl(no_cache=True, no_store=True)),
        ({"x-gateway-cache": "bypass"}, pb.CacheControl(no_store=True)),
        ({"x-gateway-cache": "please"}, None),
    ],
)
def test_cache_headers_become_the_requests_cache_control(
    headers: dict[str, str], expected: pb.CacheControl | None
) -> None:
    assert cache_control_of(Headers(headers)) == expected


def rpc_error(error: GatewayError) -> aio.AioRpcError:
    details = (("grpc-status-details-bin", error.to_status().SerializeToString()),)
    return aio.AioRpcError(error.code, aio.Metadata(), aio.Metadata(*details), error.message)


def test_a_rate_limit_refusal_carries_retry_after_and_the_callers_standing() -> None:
    standing = pb.RateLimits(limit_requests=60, remaining_requests=0, reset_requests_s=0.4)
    refused = GatewayError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        Reason.RATE_LIMITED,
        "rate limit reached",
        retry_after=0.4,
        metadata={"scope": "key", **dict(rate_limit_metadata(standing))},
    )
    error = from_rpc_error(rpc_error(refused))
    assert error.status == 429
    assert error.headers == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "400ms",
        "Retry-After": "1",
    }


def test_a_spent_budget_tells_openai_sdks_not_to_retry() -> None:
    spent = GatewayError(
        grpc.StatusCode.RESOURCE_EXHAUSTED, Reason.BUDGET_EXCEEDED, "budget exceeded", retry_after=7200
    )
    headers = from_rpc_error(rpc_error(spent)).headers
    assert headers == {"x-should-retry": "false", "Retry-After": "7200"}


def test_route_and_standing_metadata() -> None:
    route = pb.Route(served_model="m", provider="p", deployment="p/m", attempts=1, cache="hit")
    assert ("x-gateway-cache", "hit") in route_metadata(route)
    assert ("x-gateway-cache", "") not in route_metadata(pb.Route())
    tokens_only = pb.RateLimits(limit_tokens=1000, remaining_tokens=10, reset_tokens_s=360)
    assert rate_limit_metadata(tokens_only) == (
        ("x-ratelimit-limit-tokens", "1000"),
        ("x-ratelimit-remaining-tokens", "10"),
        ("x-ratelimit-reset-tokens", "6m0s"),
    )
    assert rate_limit_metadata(None) == ()
    assert [duration(s) for s in (0, 0.0004, 0.12, 1.5, 59.9, 61, 3725)] == [
        "0s",
        "1ms",
        "120ms",
        "1.5s",
        "59.9s",
        "1m1s",
        "1h2m5s",
    ]
