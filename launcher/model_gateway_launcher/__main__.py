"""`python -m model_gateway_launcher up`: what `model-gateway up` runs (it hands over to this program)."""

from __future__ import annotations

import argparse
import sys

from model_gateway_common.config_file import ConfigError, config_path

TOPOLOGIES = ("sidecar",)
DEFAULT_TOPOLOGY = "sidecar"


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
        default=DEFAULT_TOPOLOGY,
        help=f"sidecar: service and bridge as two processes per worker (default {DEFAULT_TOPOLOGY})",
    )
    up.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    path = config_path(args.config)
    from model_gateway.config import load_config

    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"model-gateway: {exc}", file=sys.stderr)
        return 2
    from model_gateway_launcher.sidecar import run_sidecar

    return run_sidecar(config, path, args.workers)


if __name__ == "__main__":
    sys.exit(main())
