"""The grpc.aio server: ModelGateway, standard health, reflection, tracing, metrics, graceful stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from model_gateway.config import GatewayConfig
from model_gateway.core.failover import Resilience
from model_gateway.core.pipeline import Pipeline
from model_gateway.drain import Drain
from model_gateway.obs import genai, telemetry
from model_gateway.obs.access_log import AccessLog
from model_gateway.obs.genai import GenAIObservers
from model_gateway.obs.ledger import Ledger
from model_gateway.obs.metrics import MetricsServer, PolicyMetrics, RoutingMetrics
from model_gateway.policy import policy_stages
from model_gateway.policy.auth import KeyTable, anonymous_refusal, is_loopback
from model_gateway.providers import build_providers
from model_gateway.routing.registry import deployment_labels
from model_gateway.service import ModelGatewayService
from model_gateway.storage.database import open_database
from model_gateway.storage.keys import KeyStore
from model_gateway.storage.redis import connect_redis
from model_gateway.stream_caps import StreamCappedService
from model_gateway_common import heap, tracing
from model_gateway_common.tls import GrpcServerCertificates, on_sighup
from modelgateway.v1 import gateway_pb2 as pb
from modelgateway.v1 import gateway_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from redis.asyncio import Redis

    from model_gateway.storage.database import Database

log = logging.getLogger("model_gateway.server")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ModelGateway"].full_name


class StartError(Exception):
    """The gateway must not start as configured; the message is one line saying why."""


def server_options(config: GatewayConfig) -> list[tuple[str, int]]:
    """Message size, SO_REUSEPORT, and the bounds of `server.clients`: streams per connection,
    keepalive (the server pings idle clients; clients pinging too often get GOAWAY after two
    strikes) and connection age (GOAWAY, so long-lived clients rebalance over the workers)."""
    limit = config.server.max_message_bytes
    clients = config.server.clients
    options = [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        ("grpc.so_reuseport", 1),
        ("grpc.max_concurrent_streams", clients.max_streams_per_connection),
        ("grpc.keepalive_time_ms", int(clients.keepalive_time_s * 1000)),
        ("grpc.keepalive_timeout_ms", int(clients.keepalive_timeout_s * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", int(clients.min_client_ping_interval_s * 1000)),
        ("grpc.http2.max_ping_strikes", 2),
    ]
    if clients.max_connection_age_s is not None:
        options.append(("grpc.max_connection_age_ms", int(clients.max_connection_age_s * 1000)))
        options.append(("grpc.max_connection_age_grace_ms", int(clients.max_connection_age_grace_s * 1000)))
    if clients.max_connection_idle_s is not None:
        options.append(("grpc.max_connection_idle_ms", int(clients.max_connection_idle_s * 1000)))
    return options


@dataclass
class Gateway:
    """One gateway, built and not yet listening: its storage, policy, pipeline, servicer and
    grpc.aio server. `serve` runs one; the launcher runs one beside the bridge in the same
    process, the bridge calling `servicer` directly (model_gateway_common.transport)."""

    config: GatewayConfig
    database: Database
    keys: KeyTable
    ledger: Ledger
    redis: Redis | None
    pipeline: Pipeline
    servicer: ModelGatewayService
    server: aio.Server
    health: HealthServicer
    tracer_provider: TracerProvider | None
    metrics_server: MetricsServer | None
    calls: Drain = field(default_factory=Drain)  # the gRPC calls in flight, for the drain
    certificates: GrpcServerCertificates | None = None  # server.tls, reloaded on SIGHUP

    @classmethod
    async def open(cls, config: GatewayConfig, listen: Sequence[str], serve_metrics: bool = True) -> Gateway:
        """Before binding: the database is opened and migrated, the API keys read, and a public
        bind without keys refused (StorageError / StartError, one line each)."""
        # The database first: a bad storage.database stops the start before anything listens.
        database = await open_database(config.storage.database)
        keys = KeyTable(config.auth, KeyStore(database))
        try:
            await keys.refresh()
            refusal = anonymous_refusal(config, listen, keys.any_keys)
        except BaseException:
            await database.close()
            raise
        if refusal is not None:
            await database.close()
            raise StartError(refusal)
        public = not all(is_loopback(address) for address in (*listen, config.server.bridge))
        ledger = Ledger(database, config.usage)
        tracer_provider = tracing.setup_tracing(config.telemetry, config.telemetry.service_name)
        genai.configure(tracer_provider is not None, tracing.record_content(config.telemetry, os.environ))
        telemetry.instrument_upstream_http(tracer_provider)
        # Several workers of one `up` cannot share the metrics port: the first serves it (its series).
        metrics_server = (
            MetricsServer(config.server.metrics) if config.server.metrics and serve_metrics else None
        )
        # One Redis client for every stage that shares state (limits, cache): one connection pool.
        redis = connect_redis(config.storage.redis) if config.storage.redis else None
        pipeline = Pipeline(
            config,
            build_providers(config),
            stages=policy_stages(
                config,
                redis=redis,
                metrics=PolicyMetrics(),
                sinks=[AccessLog(), ledger],
                keys=keys,
                public=public,
            ),
            observers=GenAIObservers(),
            resilience=Resilience(events=RoutingMetrics(deployment_labels(config))),
            redis=redis,  # with it, every instance's breakers share their state
        )
        calls = Drain()  # outermost: it ends calls cut by a stop with a status saying so
        server = aio.server(
            options=server_options(config),
            interceptors=[calls, *telemetry.server_interceptors(tracer_provider)],
        )
        servicer = StreamCappedService(
            pipeline,
            config.server.request_timeout_s,
            database,
            max_streams_per_key=config.server.clients.max_streams_per_key,
        )
        pb_grpc.add_ModelGatewayServicer_to_server(servicer, server)
        health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        reflection.enable_server_reflection(
            [
                SERVICE_NAME,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )
        # TLS (and mTLS with client_ca) on network ports; a unix socket is local, guarded by its mode.
        certificates = GrpcServerCertificates(config.server.tls) if config.server.tls else None
        for address in listen:
            if certificates is not None and not address.startswith("unix:"):
                port = server.add_secure_port(address, certificates.credentials())
            else:
                port = server.add_insecure_port(address)
            shown = address if address.startswith("unix:") else f"{address.rsplit(':', 1)[0]}:{port}"
            log.info("model-gateway listening on %s", shown)
        return cls(
            config,
            database,
            keys,
            ledger,
            redis,
            pipeline,
            servicer,
            server,
            health,
            tracer_provider,
            metrics_server,
            calls,
            certificates,
        )

    async def start(self) -> None:
        if self.certificates is not None:
            on_sighup(self.certificates.reload)
        self.keys.start()
        self.ledger.start()
        await self.pipeline.start()
        await self.server.start()
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def drain(self) -> None:
        """Health NOT_SERVING, new calls refused, in-flight calls get the grace period."""
        grace = self.config.server.shutdown_grace_s
        log.info("model-gateway stopping: draining for up to %ss", grace)
        await self.health.enter_graceful_shutdown()
        stopping = asyncio.ensure_future(self.server.stop(grace))  # new calls are refused from now on
        # Calls still running a moment before grpc's own cut end with UNAVAILABLE saying why.
        cut = await self.calls.drain(max(0.0, grace - min(0.25, grace / 4)))
        if cut:
            log.warning("model-gateway cut %d call(s) still running after the %ss grace period", cut, grace)
        await stopping
        # Calls cancelled at the end of the grace period record themselves as they unwind.
        await asyncio.sleep(0)

    async def close(self) -> None:
        """After the drain: every call is in the ledger before the database closes."""
        await self.ledger.close()
        await self.keys.close()
        await self.pipeline.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.database.close()
        if self.metrics_server is not None:
            self.metrics_server.close()
        tracing.shutdown_tracing(self.tracer_provider)
        log.info("model-gateway stopped")


async def serve(config: GatewayConfig, listen: Sequence[str]) -> None:
    """Run until SIGTERM/SIGINT, then drain: health NOT_SERVING, in-flight calls get the grace period.

    Before binding: the database is opened and migrated, the API keys read, and
    a public bind without keys refused (StorageError / StartError, one line each).
    """
    gateway = await Gateway.open(config, listen)
    await gateway.start()
    heap.settle()  # what start-up left behind is never garbage: collections skip it from here on

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    await gateway.drain()
    await gateway.close()
