"""What browsers are told: CORS (off unless `server.cors` names origins) and security headers.

Every reply carries headers that stop a browser from sniffing a JSON body
into HTML or script, framing a reply, or sending the page's address along
(`X-Content-Type-Options: nosniff`, `Content-Security-Policy`, `X-Frame-Options`,
`Referrer-Policy`), and over TLS `Strict-Transport-Security`. With
`server.cors`, Starlette's CORSMiddleware answers preflights for the listed
origins only; credentials never go with a wildcard (config.CORSConfig).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_gateway_common.cors import CORSConfig

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, tls: bool = False) -> None:
        self.app = app
        self.headers = (*HEADERS, HSTS) if tls else HEADERS
        self.names = {name for name, _ in self.headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(n, v) for n, v in message.get("headers", ()) if n.lower() not in self.names]
                message = {**message, "headers": [*headers, *self.headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_browser_security(app: FastAPI, cors: CORSConfig | None, tls: bool) -> None:
    """Outermost, so preflights and every error carry them too."""
    if cors is not None and cors.allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors.allow_origins,
            allow_methods=cors.allow_methods,
            allow_headers=cors.allow_headers,
            expose_headers=cors.expose_headers,
            allow_credentials=cors.allow_credentials,
            max_age=cors.max_age,
        )
    app.add_middleware(SecurityHeaders, tls=tls)
