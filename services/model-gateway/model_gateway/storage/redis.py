"""The one Redis client of a process, shared by every stage that keeps state there.

redis-py's asyncio client pools its connections; limits, the cache and the
breakers all use this one, so a process holds one pool, not three.
"""

from __future__ import annotations

from redis.asyncio import Redis

# A Redis that does not answer must cost a call milliseconds, not seconds:
# the stages then fail open or closed as configured.
SOCKET_TIMEOUT_S = 0.5


def connect_redis(url: str) -> Redis:
    """A client for `url` (connections are opened lazily, on first use)."""
    return Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        health_check_interval=30,
    )


def masked(url: str) -> str:
    """The URL with any password replaced, for errors and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"
