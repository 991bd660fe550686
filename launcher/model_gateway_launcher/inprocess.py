"""The in-process topology: one process serves the REST port and the gRPC port, sharing one Pipeline.

Each worker builds the gateway as `serve` does (model_gateway.server.Gateway:
storage, policy, pipeline, servicer, the grpc.aio server for internal
clients) and the bridge's app as the bridge does, but the app reaches the
gateway through an InProcessTransport: the servicer is called in the same
event loop, with the same messages and the same error mapping, and no
socket, HTTP/2 or serialisation in between. Traces still show two services:
the gateway's provider is the process's global one (its own spans use it),
the bridge's is its own, under the bridge's service name, and the transport
opens the bridge's CLIENT span and the gateway's SERVER span of each call.

`up --workers N` runs N such processes; each binds both ports with
SO_REUSEPORT, so the kernel spreads connections over them. A signal stops
a worker in order: the REST port and the gRPC port drain together (their
in-flight calls still run on the live pipeline), then the ledger is
flushed and the storage closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import uvicorn
import uvloop

from model_gateway.config import GatewayConfig
from model_gateway.server import Gateway
from model_gateway_bridge import telemetry as bridge_telemetry
from model_gateway_bridge.app import create_app, listening_socket, server_config
from model_gateway_bridge.config import BridgeConfig
from model_gateway_common import heap
from model_gateway_common.addresses import split_host_port
from model_gateway_common.transport import InProcessTransport
from model_gateway_launcher import __version__
from model_gateway_launcher.supervise import Generation, clean_exit

WORKER = [sys.executable, "-m", "model_gateway_launcher"]


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the worker stops it, and the gateway, in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def build_transport(gateway: Gateway, bridge_tracing: object | None) -> InProcessTransport:
    """The bridge's way to this gateway: its servicer, with both services' tracers when tracing."""
    from opentelemetry.sdk.trace import TracerProvider

    client = server = None
    if isinstance(bridge_tracing, TracerProvider):
        client = bridge_tracing.get_tracer("model_gateway_bridge", __version__)
    if gateway.tracer_provider is not None:
        server = gateway.tracer_provider.get_tracer("model_gateway", __version__)
    return InProcessTransport(gateway.servicer, client_tracer=client, server_tracer=server)


async def run_worker(config: GatewayConfig, bridge: BridgeConfig, index: int = 0) -> None:
    """One worker until SIGTERM / SIGINT; StorageError or StartError before anything listens.

    Workers share the REST and gRPC ports (SO_REUSEPORT); the metrics port (`server.metrics`)
    cannot be shared, so worker 0 serves it, with its own series only.
    """
    gateway = await Gateway.open(config, [config.server.grpc], serve_metrics=index == 0)
    try:
        bridge_tracing = bridge_telemetry.setup_bridge_tracing(bridge.telemetry, install_global=False)
        transport = build_transport(gateway, bridge_tracing)
        app = create_app(bridge, "in-process", bridge_tracing, transport=transport)
        sock = listening_socket(*split_host_port(bridge.server.bridge))
        rest = _Server(server_config(app, bridge))
        await gateway.start()
        heap.settle()  # what start-up left behind is never garbage: collections skip it from here on
    except BaseException:
        await gateway.close()
        raise

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(rest.serve(sockets=[sock]))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        # Both doors drain together: REST calls in flight still reach the live pipeline.
        rest.should_exit = True
        ended = await asyncio.gather(serving, gateway.drain(), return_exceptions=True)
        await gateway.close()
    for outcome in ended:
        if isinstance(outcome, Exception):
            raise outcome


def worker_main(config_file: Path, index: int = 0) -> int:
    """`python -m model_gateway_launcher worker`: one in-process worker, started by `up`."""
    from model_gateway_common.lifeline import attach

    attach()  # started by `up`: die with it, however it dies
    from model_gateway.config import load_config
    from model_gateway.server import StartError
    from model_gateway.storage.database import StorageError
    from model_gateway_bridge.config import load_bridge_config
    from model_gateway_common.config_file import ConfigError
    from model_gateway_common.logs import setup_logging

    try:
        config = load_config(config_file)
        bridge = load_bridge_config(config_file)
    except ConfigError as exc:
        print(f"model-gateway: {exc}", file=sys.stderr)
        return 2
    setup_logging()
    try:
        uvloop.run(run_worker(config, bridge, index))
    except (StorageError, StartError) as exc:
        print(f"model-gateway: {exc}", file=sys.stderr)
        return 2
    return 0


def run_inprocess(config_file: Path, workers: int, generation: Generation) -> int:
    """N workers, each serving both ports; a signal stops them all at once (each drains itself)."""
    started = [
        generation.start([*WORKER, "--config", str(config_file), "worker", "--index", str(i)])
        for i in range(workers)
    ]
    generation.handle_signals()
    try:
        generation.wait_any()
        return clean_exit(generation.stop(started))
    finally:
        generation.close()
