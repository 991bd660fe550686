"""`server.clients`: what slow or greedy clients may hold, on the REST port and the gRPC port.

A client that sends its request head one byte at a time (slowloris), or
its body never, or opens stream after stream, must not stop others from
being served. Every bound here has a default that real clients never reach.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClientLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # REST (the bridge)
    header_timeout_s: float = Field(default=10.0, gt=0)  # the request head, from connect or the last reply
    body_timeout_s: float = Field(default=30.0, gt=0)  # the request body, from the end of the head
    keep_alive_s: float = Field(default=5.0, gt=0)  # an idle keep-alive connection
    max_connections: int | None = Field(default=None, gt=0)  # per process; past it: 503 at once
    # Both doors: streams a single API key may have open at once (anonymous callers are not counted).
    max_streams_per_key: int | None = Field(default=64, gt=0)
    # gRPC: HTTP/2 streams per connection, keepalive enforcement, connection age
    max_streams_per_connection: int = Field(default=100, gt=0)
    keepalive_time_s: float = Field(default=60.0, gt=0)  # the server pings an idle client this often
    keepalive_timeout_s: float = Field(default=20.0, gt=0)  # and drops it if the ping is not answered
    min_client_ping_interval_s: float = Field(default=10.0, gt=0)  # faster pings are strikes (GOAWAY)
    max_connection_age_s: float | None = Field(default=3600.0, gt=0)  # then GOAWAY: clients rebalance
    max_connection_age_grace_s: float = Field(default=600.0, ge=0)  # for calls still running then
    max_connection_idle_s: float | None = Field(default=None, gt=0)
