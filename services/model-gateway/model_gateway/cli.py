"""`model-gateway`: serve, bridge, up, check-config."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from model_gateway.config import GatewayConfig, load_config
from model_gateway_common.config_file import ConfigError, config_path


def _load(args: argparse.Namespace) -> GatewayConfig:
    path = config_path(args.config)
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"model-gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _setup_logging() -> None:
    from model_gateway_common.logs import setup_logging

    setup_logging()


def cmd_serve(args: argparse.Namespace) -> int:
    config = _load(args)
    _setup_logging()
    from model_gateway.server import serve

    listen = args.listen or [config.server.grpc]
    # uvloop: grpc.aio runs on it, about 20% more calls per CPU second here (bench/).
    uvloop.run(serve(config, listen))
    return 0


BRIDGE = [sys.executable, "-m", "model_gateway_bridge"]  # its own package and process, never imported


def cmd_bridge(args: argparse.Namespace) -> int:
    """The bridge, as its own program (`python -m model_gateway_bridge`) in this process's place."""
    argv = [*BRIDGE, "--config", str(config_path(args.config))]
    if args.grpc_target:
        argv += ["--grpc-target", args.grpc_target]
    if args.listen:
        argv += ["--listen", args.listen]
    os.execv(sys.executable, argv)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    from model_gateway.routing.registry import Registry

    registry = Registry(config)
    print(f"{config_path(args.config)}: OK")
    print(f"gRPC {config.server.grpc}, bridge {config.server.bridge}")
    for name, provider in config.providers.items():
        key = "key set" if provider.api_key else "no key"
        print(f"provider {name}: {provider.kind} at {provider.url} ({key})")
    for model in registry.models():
        aliases = f" (aliases: {', '.join(model.aliases)})" if model.aliases else ""
        routes = " -> ".join(
            f"{r.label}{' [fallback]' if r.fallback else ''}" for r in registry.routes(model.name)
        )
        print(f"model {model.name}{aliases}: {routes}")
    return 0


def _wait_for_grpc(target: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    end = time.monotonic() + timeout
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < end:
            if process.poll() is not None:
                raise SystemExit(f"model-gateway: the gRPC service exited with code {process.returncode}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise SystemExit(f"model-gateway: the gRPC service did not answer on {target} within {timeout:.0f}s")


def cmd_up(args: argparse.Namespace) -> int:
    """N service processes, then N bridges, each bridge on its service's private unix socket.

    Every process binds its public port with SO_REUSEPORT, so the kernel
    spreads connections over the workers. A signal stops them all.
    """
    config = _load(args)
    path = str(config_path(args.config))
    socket_dir = tempfile.mkdtemp(prefix="model-gateway-")
    sockets = [f"unix://{socket_dir}/grpc-{i}.sock" for i in range(args.workers)]
    base = [sys.executable, "-m", "model_gateway.cli", "--config", path]
    services = [
        subprocess.Popen([*base, "serve", "--listen", config.server.grpc, "--listen", socket])
        for socket in sockets
    ]
    children = list(services)
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        for socket, service in zip(sockets, services, strict=True):
            _wait_for_grpc(socket, service, timeout=30)
            if not stopping:
                children.append(subprocess.Popen([*BRIDGE, "--config", path, "--grpc-target", socket]))
        # Whichever child ends first ends them all.
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.2)
        forward(signal.SIGTERM, None)
        # uvicorn re-raises the signal it stopped on: dying by our SIGTERM is a clean stop.
        codes = [c.wait() for c in children]
        return max((0 if code in (-signal.SIGTERM, -signal.SIGINT) else code for code in codes), default=0)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
        for leftover in Path(socket_dir).iterdir():
            leftover.unlink(missing_ok=True)
        Path(socket_dir).rmdir()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="model-gateway", description=__doc__)
    parser.add_argument(
        "--config", help="config file (default: $MODEL_GATEWAY_CONFIG or config/gateway.yaml)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gRPC service")
    serve.add_argument(
        "--listen", action="append", help="address to listen on (repeatable; default server.grpc)"
    )
    serve.set_defaults(func=cmd_serve)

    bridge = commands.add_parser("bridge", help="run the REST bridge")
    bridge.add_argument("--grpc-target", help="gRPC address of the service (default server.grpc)")
    bridge.add_argument("--listen", help="host:port to serve REST on (default server.bridge)")
    bridge.set_defaults(func=cmd_bridge)

    up = commands.add_parser("up", help="run the service and the bridge together")
    up.add_argument(
        "--workers", type=_positive, default=1, help="service and bridge processes each (default 1)"
    )
    up.set_defaults(func=cmd_up)

    check = commands.add_parser("check-config", help="validate the config and print models and routes")
    check.set_defaults(func=cmd_check_config)

    for sub in (serve, bridge, up, check):
        sub.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
