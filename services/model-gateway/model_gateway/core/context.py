"""Who is calling and how: built once per call from gRPC metadata, read by every stage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from model_gateway.deadline import Deadline
from model_gateway_common.request_ids import REQUEST_ID_HEADER, valid_request_id
from modelgateway.v1 import gateway_pb2 as pb

SURFACE_HEADER = "x-gateway-surface"  # the bridge names the front door a call came in by
DIRECT = "grpc"  # a caller that used the gRPC service itself
# Client metadata kept for policy stages and logs; never credentials.
_CLIENT_KEYS = frozenset({"user-agent", "x-gateway-route", "x-gateway-smart-routing", "x-gateway-cache"})


@dataclass(frozen=True, slots=True)
class Limits:
    """What one key (or one project) may spend; None: unlimited."""

    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    budget_period: str = "month"  # day | month | total


NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a call is accounted to: a key's name (never the key), its project, scopes and limits."""

    name: str
    project: str = ""
    anonymous: bool = False
    models: tuple[str, ...] = ()  # glob patterns of the models it may call; empty: all
    limits: Limits = NO_LIMITS
    project_limits: Limits = NO_LIMITS
    project_models: tuple[str, ...] = ()
    admin: bool = False  # may read usage of every key


ANONYMOUS = Principal("anonymous", anonymous=True)


@dataclass(slots=True)
class RequestContext:
    request_id: str  # the caller's x-request-id when valid, else "" (the bridge always sends one)
    surface: str  # "grpc", or the bridge's front door ("openai", "ollama", "native", ...)
    deadline: Deadline
    # The credential as presented (`authorization` or `x-api-key`); only the
    # authenticate stage reads it, and nothing logs it.
    credential: str = field(default="", repr=False)
    client: dict[str, str] = field(default_factory=dict)  # selected client metadata (_CLIENT_KEYS)
    principal: Principal = ANONYMOUS  # set by the authenticate stage
    # What policy tells the caller back, set by the stages before routing and
    # sent as headers (a stream's initial metadata, the bridge's response headers).
    rate_limits: pb.RateLimits | None = None  # the limit stage: x-ratelimit-*
    cache: str = ""  # the cache stage's verdict: hit | miss | bypass (x-gateway-cache)

    @classmethod
    def from_metadata(cls, metadata: Iterable[tuple[str, Any]] | None, deadline: Deadline) -> RequestContext:
        request_id, surface, credential = "", DIRECT, ""
        client: dict[str, str] = {}
        for key, value in metadata or ():
            if not isinstance(value, str):
                continue  # binary (-bin) metadata is not ours
            if key == REQUEST_ID_HEADER:
                request_id = valid_request_id(value) or ""
            elif key == SURFACE_HEADER:
                surface = valid_request_id(value) or DIRECT
            elif key in ("authorization", "x-api-key"):
                credential = credential or value
            elif key in _CLIENT_KEYS:
                client[key] = value
        return cls(request_id, surface, deadline, credential, client)
