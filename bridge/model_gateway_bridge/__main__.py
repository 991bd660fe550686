"""`python -m model_gateway_bridge`: the REST bridge as its own program."""

from __future__ import annotations

import argparse
import sys

from model_gateway_common.config_file import ConfigError, config_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="model-gateway-bridge", description="The REST bridge in front of the ModelGateway gRPC service."
    )
    parser.add_argument(
        "--config", help="config file (default: $MODEL_GATEWAY_CONFIG or config/gateway.yaml)"
    )
    parser.add_argument("--grpc-target", help="gRPC address of the service (default server.grpc)")
    parser.add_argument("--listen", help="host:port to serve REST on (default server.bridge)")
    args = parser.parse_args(argv)
    from model_gateway_common.lifeline import attach

    attach()  # started by `up`: die with it, however it dies
    from model_gateway_bridge.config import load_bridge_config

    try:
        config = load_bridge_config(config_path(args.config))
    except ConfigError as exc:
        print(f"model-gateway bridge: {exc}", file=sys.stderr)
        return 2
    from model_gateway_bridge.app import run
    from model_gateway_common.logs import setup_logging

    setup_logging()
    run(
        config, grpc_target=args.grpc_target or config.server.grpc, listen=args.listen or config.server.bridge
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
