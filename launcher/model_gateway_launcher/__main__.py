"""`python -m model_gateway_launcher up`: what `model-gateway up` runs (it hands over to this program)."""

from __future__ import annotations

import argparse
import os
import sys

from model_gateway_common.config_file import ConfigError, config_path

TOPOLOGIES = ("inprocess", "sidecar")
# Decided by `make bench` on the 2-core reference machine (README, Performance): one process
# per worker serves REST at about twice the sidecar's rate for half its CPU per call.
DEFAULT_TOPOLOGY = "inprocess"
TOPOLOGY_ENV = "MODEL_GATEWAY_TOPOLOGY"  # the default of --topology (the test suites run both)


def default_topology() -> str:
    chosen = os.environ.get(TOPOLOGY_ENV, "").strip() or DEFAULT_TOPOLOGY
    if chosen not in TOPOLOGIES:
        raise SystemExit(f"model-gateway: {TOPOLOGY_ENV}={chosen!r} is not one of {', '.join(TOPOLOGIES)}")
    return chosen


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="model-gateway up", description="Run the Model Gateway service and its REST bridge together."
    )
    main.add_argument("--config", help="config file (default: $MODEL_GATEWAY_CONFIG or config/gateway.yaml)")
    commands = main.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="the service and the bridge, in N workers")
    up.add_argument("--workers", type=_positive, default=1, help="worker processes (default 1)")
    up.add_argument(
        "--topology",
        choices=TOPOLOGIES,
        default=default_topology(),
        help="inprocess: one process per worker serves both ports; sidecar: a service process and a "
        f"bridge process per worker, over a unix socket (default ${TOPOLOGY_ENV}, else {DEFAULT_TOPOLOGY})",
    )
    worker = commands.add_parser("worker", help="one in-process worker (started by up)")
    worker.add_argument("--index", type=int, default=0, help="which of up's workers (0 serves metrics)")
    for sub in (up, worker):
        sub.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    path = config_path(args.config)
    if args.command == "worker":
        from model_gateway_launcher.inprocess import worker_main

        return worker_main(path, args.index)
    from model_gateway.config import load_config

    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"model-gateway: {exc}", file=sys.stderr)
        return 2
    from model_gateway_common.port_claim import PortsBusy
    from model_gateway_launcher.supervise import Generation

    try:
        generation = Generation([config.server.grpc, config.server.bridge], config.server.shutdown_grace_s)
    except PortsBusy as exc:
        print(f"model-gateway: cannot start: {exc}", file=sys.stderr)
        return 1
    if args.topology == "sidecar":
        from model_gateway_launcher.sidecar import run_sidecar

        return run_sidecar(config, path, args.workers, generation)
    from model_gateway_launcher.inprocess import run_inprocess

    return run_inprocess(path, args.workers, generation)


if __name__ == "__main__":
    sys.exit(main())
