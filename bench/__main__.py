"""`python -m bench`: see bench/README.md for what is measured and how."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from bench.machine import ROOT
from bench.runner import Options, main


def _connections(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("connection counts must be 1 or more")
    return values


TOPOLOGIES = ("inprocess", "sidecar")


def _topologies(text: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [value for value in values if value not in TOPOLOGIES]
    if not values or unknown or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"a comma-separated list of {', '.join(TOPOLOGIES)}, each once")
    return values


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Benchmark the Model Gateway.")
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run: 2 s per scenario, 5,000 growth requests"
    )
    parser.add_argument("--duration", type=float, help="seconds per scenario (default 10; --quick 2)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per path (default 2; --quick 1)")
    parser.add_argument(
        "--connections", type=_connections, default=[1, 32], help='concurrency levels (default "1,32")'
    )
    parser.add_argument(
        "--requests-for-growth",
        type=int,
        help="requests of the memory growth run (default 100000; --quick 5000)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="results directory")
    parser.add_argument(
        "--readme", type=Path, default=ROOT / "README.md", help="README whose BENCH block to update"
    )
    parser.add_argument("--no-readme", action="store_true", help="leave the README alone")
    parser.add_argument(
        "--litellm", action="store_true", help="also measure LiteLLM's proxy (same as BENCH_LITELLM=1)"
    )
    parser.add_argument(
        "--topologies",
        type=_topologies,
        default=list(TOPOLOGIES),
        help='of `up`, the default first (default "inprocess,sidecar"); the growth run loads the first',
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="in-process workers, `up --workers N` (default: one per core; the sidecar runs one worker)",
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    return Options(
        duration_s=args.duration if args.duration is not None else (2.0 if quick else 10.0),
        warmup_s=args.warmup if args.warmup is not None else (1.0 if quick else 2.0),
        connections=args.connections,
        growth_requests=args.requests_for_growth or (5_000 if quick else 100_000),
        out=args.out,
        readme=None if args.no_readme else args.readme,
        litellm=bool(args.litellm) or os.environ.get("BENCH_LITELLM", "") not in ("", "0"),
        quick=quick,
        topologies=args.topologies,
        workers=max(1, args.workers),
    )


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so every started process is stopped.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    try:
        sys.exit(main(parse(None)))
    except KeyboardInterrupt:
        print("bench: interrupted; everything it started has been stopped", file=sys.stderr)
        sys.exit(130)
