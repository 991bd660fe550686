"""`python -m soak` (`make soak`): mixed traffic through every surface while the upstreams misbehave.

For `--duration` seconds, `--concurrency` callers send unary and streamed
calls through the OpenAI, Ollama, native, Anthropic and Responses surfaces of
the bridge and straight to the gRPC service, each tagged with its own
x-request-id. Two fake upstreams fail at random (`--chaos`: 5xx, 429 with
Retry-After, connection resets, streams and bodies cut midway, slow first
bytes), and a third is killed with SIGKILL and restarted every
`--kill-every` seconds. Meanwhile the gateway's open file descriptors and RSS
are sampled every second.

It passes when: every call got an answer or a clear error (none lost, none
silently cut: see soak/traffic.py); every call is in the usage ledger exactly
once; open fds and RSS after the warm-up stay within the stated bounds. The
report (Markdown, JSON and a PNG of RSS and fds over time) goes to `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from grpc import aio

from soak.report import Bounds, write_report
from soak.traffic import LOST, Outcome, Surfaces

ROOT = Path(__file__).resolve().parents[1]
GATEWAY = [sys.executable, "-m", "model_gateway.cli"]
FAKE = [sys.executable, "-m"]
MODELS = ("soak-cloud", "soak-local", "soak-failover", "soak-restarting")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise SystemExit(f"soak: {process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"soak: nothing listened on port {port}")


def start_fake(module: str, port: int, chaos: float, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                *FAKE,
                f"tests.fakes.{module}",
                "--port",
                str(port),
                "--slow-seconds",
                "1",
                "--chaos",
                str(chaos),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_for_port(port, process)
    return process


def config_text(tmp: Path, grpc_port: int, bridge_port: int, ports: dict[str, int]) -> str:
    return f"""
server:
  grpc: 127.0.0.1:{grpc_port}
  bridge: 127.0.0.1:{bridge_port}
  request_timeout_s: 20
  shutdown_grace_s: 10
storage: {{database: "sqlite:///{tmp}/gateway.db"}}
providers:
  cloud:   {{kind: openai, base_url: "http://127.0.0.1:{ports["cloud"]}/v1"}}
  local:   {{kind: ollama, base_url: "http://127.0.0.1:{ports["local"]}"}}
  restart: {{kind: ollama, base_url: "http://127.0.0.1:{ports["restart"]}", connect_timeout_s: 1}}
models:
  - {{name: soak-cloud, deployments: [{{provider: cloud, model: gpt-4o-mini}}]}}
  - {{name: soak-local, deployments: [{{provider: local, model: "llama3.2"}}]}}
  - name: soak-failover
    deployments:
      - {{provider: cloud, model: gpt-4o-mini}}
      - {{provider: local, model: "llama3.2"}}
      - {{provider: restart, model: "llama3.2"}}
  - {{name: soak-restarting, deployments: [{{provider: restart, model: "llama3.2"}}]}}
"""


# --- sampling the gateway's processes ---------------------------------------------------------------


def tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def rss_and_fds(pids: list[int]) -> tuple[float, int]:
    rss_kb, fds = 0, 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss_kb += int(line.split()[1])
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, ValueError):
            continue
    return rss_kb / 1024, fds


@dataclass
class Samples:
    t: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)


def sample(root: int, started: float, stop: threading.Event, out: Samples) -> None:
    while not stop.wait(1.0):
        rss, fds = rss_and_fds(tree(root))
        out.t.append(time.monotonic() - started)
        out.rss_mb.append(rss)
        out.fds.append(fds)


# --- killing and restarting one upstream ----------------------------------------------------------------


def chaos_monkey(
    port: int,
    log: Path,
    every: float,
    stop: threading.Event,
    events: list[str],
    holder: list[subprocess.Popen[bytes]],
) -> None:
    pick = random.Random(port)
    while not stop.wait(every * pick.uniform(0.75, 1.25)):
        holder[0].send_signal(signal.SIGKILL)
        holder[0].wait()
        events.append(f"{time.strftime('%H:%M:%S')} killed the restart upstream")
        if stop.wait(2.0):
            break
        holder[0] = start_fake("ollama_server", port, 0.0, log)
        events.append(f"{time.strftime('%H:%M:%S')} restarted it")


# --- traffic ------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (call kind, outcome kind)
    details: Counter[tuple[str, str]] = field(default_factory=Counter)  # (call kind, detail)
    lost: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)


async def traffic(
    bridge: str, grpc_target: str, duration: float, concurrency: int, tally: Tally, seed: int
) -> None:
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    async with (
        httpx.AsyncClient(base_url=bridge, timeout=60, limits=limits) as http,
        aio.insecure_channel(grpc_target) as channel,
    ):
        calls = Surfaces(http, channel).calls()
        kinds = itertools.cycle(sorted(calls))  # every surface and mode in turn
        numbers = itertools.count()
        pick = random.Random(seed)
        end = time.monotonic() + duration

        async def caller() -> None:
            while time.monotonic() < end:
                kind, n = next(kinds), next(numbers)
                rid = f"soak-{seed}-{n}"
                tally.sent.append(rid)
                try:
                    outcome = await asyncio.wait_for(calls[kind](pick.choice(MODELS), rid), 60)
                except TimeoutError:
                    outcome = Outcome(LOST, "no answer within 60 s")
                except (httpx.HTTPError, OSError) as exc:
                    outcome = Outcome(LOST, f"{type(exc).__name__}: {exc}"[:160])
                tally.outcomes[(kind, outcome.kind)] += 1
                tally.details[(kind, outcome.detail)] += 1
                if outcome.kind == LOST:
                    tally.lost.append(f"{rid} {kind}: {outcome.detail}")

        await asyncio.gather(*(caller() for _ in range(concurrency)))


def ledger_counts(database: Path, prefix: str) -> Counter[str]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT request_id, COUNT(*) FROM usage_ledger WHERE request_id LIKE ? GROUP BY request_id",
            (f"{prefix}%",),
        ).fetchall()
    return Counter({str(rid): int(count) for rid, count in rows})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of traffic (default 600)")
    parser.add_argument("--concurrency", type=int, default=12, help="callers at once (default 12)")
    parser.add_argument("--chaos", type=float, default=0.15, help="share of upstream calls failed at random")
    parser.add_argument("--kill-every", type=float, default=30, help="seconds between upstream kills")
    parser.add_argument("--warmup", type=float, default=None, help="seconds before the bounds apply")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "soak" / "results")
    args = parser.parse_args(argv)
    warmup = args.warmup if args.warmup is not None else min(60.0, max(10.0, args.duration / 10))

    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    log = tmp / "processes.log"
    ports = {"cloud": free_port(), "local": free_port(), "restart": free_port()}
    os.environ["FAKE_CHAOS_SEED"] = str(args.seed)
    fakes = [
        start_fake("openai_server", ports["cloud"], args.chaos, log),
        start_fake("ollama_server", ports["local"], args.chaos, log),
    ]
    restartable = [start_fake("ollama_server", ports["restart"], 0.0, log)]
    grpc_port, bridge_port = free_port(), free_port()
    config = tmp / "gateway.yaml"
    config.write_text(config_text(tmp, grpc_port, bridge_port, ports))
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    with log.open("ab") as out:
        up = subprocess.Popen(
            [*GATEWAY, "--config", str(config), "up"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    stop = threading.Event()
    samples, tally = Samples(), Tally()
    events: list[str] = []
    try:
        wait_for_port(grpc_port, up)
        wait_for_port(bridge_port, up)
        print(
            f"soak: {args.duration:.0f} s, {args.concurrency} callers, chaos {args.chaos}, seed {args.seed}"
        )
        started = time.monotonic()
        threads = [
            threading.Thread(target=sample, args=(up.pid, started, stop, samples), daemon=True),
            threading.Thread(
                target=chaos_monkey,
                args=(ports["restart"], log, args.kill_every, stop, events, restartable),
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()
        asyncio.run(
            traffic(
                f"http://127.0.0.1:{bridge_port}",
                f"127.0.0.1:{grpc_port}",
                args.duration,
                args.concurrency,
                tally,
                args.seed,
            )
        )
        elapsed = time.monotonic() - started
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)  # drains, and flushes the ledger
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
        for process in [*fakes, *restartable]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=15)
    counts = ledger_counts(tmp / "gateway.db", f"soak-{args.seed}-")
    sent = set(tally.sent)
    ledger = {
        "calls_sent": len(sent),
        "rows": sum(counts.values()),
        "missing": sorted(sent - set(counts))[:20],
        "missing_count": len(sent - set(counts)),
        "duplicates": sorted(rid for rid, n in counts.items() if n > 1)[:20],
        "duplicate_count": sum(1 for n in counts.values() if n > 1),
    }
    passed = write_report(
        args.out,
        duration=elapsed,
        settings=vars(args) | {"warmup": warmup, "out": str(args.out)},
        tally=tally,
        samples=samples,
        ledger=ledger,
        events=events,
        bounds=Bounds(warmup_s=warmup),
        exit_code=up.returncode,
    )
    print((args.out / "results.md").read_text())
    print(f"soak: logs in {log}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
