"""The bridge application: the registered surfaces on one FastAPI app, one way to the gateway, /metrics."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import orjson
import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from model_gateway_bridge import telemetry
from model_gateway_bridge.access_log import AccessLog
from model_gateway_bridge.client import GatewayClient
from model_gateway_bridge.config import BridgeConfig
from model_gateway_bridge.disconnects import CancelOnDisconnect
from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.metrics import metrics_endpoint
from model_gateway_bridge.plain_routes import mount_plain
from model_gateway_bridge.security import add_browser_security
from model_gateway_bridge.slow_clients import protocol_with_head_deadline
from model_gateway_bridge.state import BridgeState
from model_gateway_bridge.surfaces.registry import SURFACES
from model_gateway_common import heap, tls
from model_gateway_common.addresses import split_host_port
from model_gateway_common.structs import TooDeep
from model_gateway_common.tracing import shutdown_tracing
from model_gateway_common.transport import Transport

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger("model_gateway_bridge")


def _render(request: Request, err: BridgeError) -> Response:
    """Each surface answers errors in its own dialect: the request's, resolved once."""
    return SURFACES.of(request.scope).render_error(err)


def create_app(
    config: BridgeConfig,
    grpc_target: str,
    tracer_provider: TracerProvider | None = None,
    transport: Transport | None = None,
) -> FastAPI:
    """The app, calling the gateway over a gRPC channel to `grpc_target`, or through `transport`
    (in process: the transport opens the bridge's client span itself, so no interceptors)."""
    if transport is not None:
        client = GatewayClient.in_process(transport)
    else:
        client = GatewayClient(
            grpc_target,
            config.server.max_message_bytes,
            telemetry.client_interceptors(tracer_provider),
            credentials=hop_credentials(config, grpc_target),
        )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        heap.settle()  # what start-up left behind is never garbage: collections skip it from here on
        yield
        await client.close()
        shutdown_tracing(tracer_provider)

    app = FastAPI(
        title="Model Gateway bridge",
        lifespan=lifespan,
        # Traced by the OpenTelemetry instrumentation (telemetry.py), not FastAPI's own as well.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # the contract is contracts/openapi.yaml
    )
    app.state.bridge = BridgeState(
        client,
        SURFACES,
        config.server.max_body_bytes,
        config.server.request_timeout_s,
        config.server.clients.body_timeout_s,
    )
    for surface in SURFACES:
        app.include_router(surface.router)
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    mount_plain(app)  # the hot endpoints skip FastAPI's per-request machinery (plain_routes.py)
    app.add_middleware(CancelOnDisconnect)  # inside the access log, which sees a 499
    app.add_middleware(AccessLog, surfaces=SURFACES)
    add_browser_security(app, config.server.cors, tls=config.server.tls is not None)
    if tracer_provider is not None:
        telemetry.instrument_app(app, tracer_provider)

    @app.exception_handler(BridgeError)
    async def _bridge_error(request: Request, exc: BridgeError) -> Response:
        return _render(request, exc)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            message = f"no route for {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        response = _render(request, BridgeError(exc.status_code, message))
        response.headers.update(exc.headers or {})  # e.g. Allow on 405
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
        return _render(request, BridgeError(400, message, param=param or None))

    @app.exception_handler(TooDeep)
    async def _too_deep(request: Request, exc: TooDeep) -> Response:
        # Tool parameters, options or a response schema nested past what protobuf can carry.
        return _render(request, BridgeError(400, f"request body: {exc}"))

    @app.exception_handler(orjson.JSONEncodeError)
    async def _too_deep_to_write(request: Request, exc: orjson.JSONEncodeError) -> Response:
        # A value read from the body (tool arguments, say) nested past what orjson writes again
        # (255 levels; it reads 1024): the caller's input, not the bridge's bug.
        if "recursion" in str(exc).lower():
            return _render(
                request, BridgeError(400, "request body: a JSON value nests deeper than 255 levels")
            )
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _render(request, BridgeError(500, "internal error in the bridge"))

    return app


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound with SO_REUSEPORT, so several bridge processes can share one port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def hop_credentials(config: BridgeConfig, target: str) -> tuple[Any, list[tuple[str, str]]] | None:
    """TLS to the service when the hop is a network one and TLS is configured (`server.grpc_tls`,
    else the system's roots when the service itself serves `server.tls`); a unix socket never."""
    if target.startswith("unix:") or (config.server.grpc_tls is None and config.server.tls is None):
        return None
    return tls.channel_credentials(config.server.grpc_tls or tls.GrpcClientTLS())


def server_config(app: FastAPI, config: BridgeConfig) -> uvicorn.Config:
    """How uvicorn serves the bridge, in its own process or beside the gateway (the launcher).

    HTTPS with `server.tls` (the chain reloaded in place on SIGHUP), and the
    bounds of `server.clients`: a deadline for each request head, keep-alive,
    connections per process.
    """
    clients = config.server.clients
    ssl_factory = None
    if config.server.tls is not None:
        settings = config.server.tls
        context = tls.server_context(settings)
        tls.on_sighup(lambda: tls.reload_context(context, settings))

        def ssl_factory(_config: uvicorn.Config, _default: Any) -> ssl.SSLContext:
            return context

    return uvicorn.Config(
        app,
        loop="uvloop",
        # httptools, with a head deadline; it also starts the drain's end-of-grace cut (drain.py)
        http=protocol_with_head_deadline(clients.header_timeout_s, int(config.server.shutdown_grace_s)),
        log_config=None,  # uvicorn's records go through our handler (JSON or text) too
        log_level="warning",
        access_log=False,  # AccessLog writes the one line per request
        timeout_graceful_shutdown=int(config.server.shutdown_grace_s),
        timeout_keep_alive=max(1, round(clients.keep_alive_s)),
        limit_concurrency=clients.max_connections,
        ssl_context_factory=ssl_factory,
    )


def run(config: BridgeConfig, grpc_target: str, listen: str) -> None:
    host, port = split_host_port(listen)
    scheme = "https" if config.server.tls is not None else "http"
    log.info("model-gateway bridge on %s://%s:%d -> gRPC %s", scheme, host, port, grpc_target)
    tracer_provider = telemetry.setup_bridge_tracing(config.telemetry)
    server = uvicorn.Server(server_config(create_app(config, grpc_target, tracer_provider), config))
    server.run(sockets=[listening_socket(host, port)])
