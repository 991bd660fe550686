"""`server.cors`: which browser origins may call the REST bridge. Off unless configured.

A browser page on another origin can read the bridge's replies only if the
bridge says so (CORS). The default says nothing, so no page can. When it is
configured, credentials (cookies, HTTP auth) are never allowed together with
a wildcard origin: a permissive default must not leak a signed-in user's
access to every site.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CORSConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_origins: list[str] = Field(default_factory=list)  # exact origins, or ["*"]
    allow_methods: list[str] = Field(default_factory=lambda: ["GET", "POST", "OPTIONS"])
    allow_headers: list[str] = Field(
        default_factory=lambda: ["authorization", "content-type", "x-api-key", "x-request-id"]
    )
    expose_headers: list[str] = Field(
        default_factory=lambda: ["x-request-id", "x-gateway-model", "x-gateway-provider", "retry-after"]
    )
    allow_credentials: bool = False
    max_age: int = Field(default=600, ge=0, le=86_400)  # seconds a browser may cache a preflight

    @model_validator(mode="after")
    def _no_credentials_with_a_wildcard(self) -> CORSConfig:
        if self.allow_credentials and ("*" in self.allow_origins or "*" in self.allow_headers):
            raise ValueError(
                "allow_credentials: true cannot go with a '*' origin or header; list the origins"
            )
        for origin in self.allow_origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"allow_origins: '{origin}' is not an origin (scheme://host[:port])")
            if origin.endswith("/"):
                raise ValueError(f"allow_origins: '{origin}' must not end with '/' (an origin has no path)")
        return self
