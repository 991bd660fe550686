"""One benchmark run: start everything, check and warm each path, measure, report.

Every process started here is stopped on the way out (ExitStack), on errors
and on Ctrl-C alike.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import payloads, report
from bench.litellm_proxy import run_litellm
from bench.machine import describe
from bench.measure import Growth, LoadResult, Memory, Run, Scenario
from bench.procs import cpu_ms, machine_busy_ms, own_cpu_ms, rss_mb
from bench.stack import ROLES, run_stack
from bench.targets import Target, build_targets
from bench.tools import ensure_tools
from bench.upstream import run_upstream

Pids = Callable[[], list[int]]
FAILURES = (RuntimeError, OSError, subprocess.SubprocessError)
BUSY_PCT = 5.0  # background CPU above this gets a warning in the report
GROWTH_CAP_S = 1800  # the growth run stops here even if the gateway is very slow
CHUNK_CAP_S = 10  # one wrk run of the growth loop, so memory is read close to each checkpoint


@dataclass(frozen=True)
class Options:
    duration_s: float
    warmup_s: float
    connections: list[int]
    growth_requests: int
    out: Path
    readme: Path | None
    litellm: bool
    quick: bool
    topologies: list[str]  # of `up`; the first is the default topology, measured in full
    workers: int  # in-process workers (the sidecar runs one worker: two processes)


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _prepare(target: Target, connections: int, seconds: float) -> str | None:
    """Check one reply, then warm the path up; the reason it is unusable, or None."""
    try:
        target.check()
        warm = target.run(connections, seconds)
    except FAILURES as exc:
        return str(exc)
    if warm.errors or not warm.requests:
        return warm.first_error or "no request succeeded during the warm-up"
    return None


def _measure(target: Target, connections: int, seconds: float, processes: dict[str, Pids]) -> Scenario:
    scenario = Scenario(target.key, target.label, target.mode, connections, target.tool)
    before = {name: cpu_ms(pids()) for name, pids in processes.items()}
    try:
        result = target.run(connections, seconds)
    except FAILURES as exc:
        scenario.error = str(exc)
        return scenario
    after = {name: cpu_ms(pids()) for name, pids in processes.items()}
    scenario.result = result
    scenario.cpu_ms_per_request = {
        name: (after[name] - before[name]) / result.requests if result.requests else math.nan
        for name in processes
    }
    return scenario


def _summary(scenario: Scenario) -> str:
    where = f"{scenario.label} [{scenario.mode}, {scenario.connections} conn]"
    r = scenario.result
    if r is None:
        return f"{where}: FAILED {scenario.error}"
    first = f", first chunk p50 {r.ttfc_p50_ms:.2f} ms" if r.ttfc_p50_ms is not None else ""
    errors = f", {r.errors} errors" if r.errors else ""
    return f"{where}: {r.rps:,.0f} req/s, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms{first}{errors}"


def _added(run: Run) -> None:
    """Path minus the direct upstream, same mode, same concurrency, same run."""
    for scenario in run.scenarios:
        direct = run.find("direct", scenario.mode, scenario.connections)
        if scenario.key == "direct" or direct is None or direct.result is None or scenario.result is None:
            continue
        scenario.added_p50_ms = scenario.result.p50_ms - direct.result.p50_ms
        if scenario.result.ttfc_p50_ms is not None and direct.result.ttfc_p50_ms is not None:
            scenario.added_ttfc_p50_ms = scenario.result.ttfc_p50_ms - direct.result.ttfc_p50_ms


def _growth(
    run: Run, target: Target, connections: int, total: int, memory: dict[str, Pids]
) -> tuple[Growth, dict[str, tuple[float, float]]]:
    """REST calls in wrk runs of a few seconds until `total`, reading RSS at half and at the end.

    wrk cannot stop after N requests (thread:stop() still waits out -d), so
    each run's length is aimed at the next checkpoint from the last rate.
    """
    growth = Growth(target=total, connections=connections)
    measured = run.find(target.key, target.mode, connections)
    rate = measured.result.rps if measured and measured.result and measured.result.rps else 200.0
    done, seconds = 0, 0.0
    readings: dict[str, list[float]] = {name: [] for name in memory}
    deadline = time.monotonic() + GROWTH_CAP_S
    for checkpoint in (total // 2, total):
        while done < checkpoint:
            if time.monotonic() > deadline:
                growth.error = f"stopped after {GROWTH_CAP_S}s at {done:,} requests"
                return growth, {}
            chunk = min(CHUNK_CAP_S, max(1, math.ceil((checkpoint - done) / rate)))
            try:
                result: LoadResult = target.run(connections, chunk)
            except FAILURES as exc:
                growth.error = str(exc)
                return growth, {}
            done += result.requests
            seconds += result.duration_s
            growth.errors += result.errors
            if not result.requests:
                growth.error = result.first_error or "no request succeeded"
                return growth, {}
            rate = result.rps
        for name, pids in memory.items():
            readings[name].append(_rss(pids()))
        if checkpoint == total // 2:
            growth.half_requests = done
        rss = ", ".join(f"{name} {values[-1]:.1f} MB" for name, values in readings.items())
        say(f"growth: RSS after {done:,} requests: {rss}")
    growth.full_requests = done
    growth.rps = done / seconds if seconds else 0.0
    return growth, {name: (values[0], values[1]) for name, values in readings.items()}


def _rss(pids: list[int]) -> float:
    """Resident MB per process of a role (in process, `--workers N` runs N alike)."""
    return sum(rss_mb(pid) for pid in pids) / len(pids) if pids else 0.0


def _keep_logs(tmp: Path, out: Path) -> None:
    """On failure the temp dir is about to go: keep the servers' logs next to the results."""
    logs = out / "logs"
    for log in tmp.rglob("*.log"):
        logs.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, logs / f"{log.parent.name}-{log.name}")
    if logs.exists():
        say(f"server logs kept in {logs}")


def _start(stack: ExitStack, tmp: Path, options: Options, run: Run) -> tuple[list[Target], dict[str, Pids]]:
    """nginx, the gateway in each topology and (optionally) LiteLLM; the paths to load and the
    processes to watch (every topology stays up; only the one under load spends CPU)."""
    tools = ensure_tools()
    upstream = stack.enter_context(run_upstream(tools["nginx"], tmp / "nginx"))
    say(f"nginx on :{upstream.port}")
    processes: dict[str, Pids] = {}
    gateways = []
    for topology in options.topologies:
        workers = options.workers if topology == "inprocess" else 1
        gateway = stack.enter_context(run_stack(upstream, tmp / f"gateway-{topology}", topology, workers))
        say(
            f"up --topology {topology} --workers {workers}: gRPC on {gateway.grpc_target}, "
            f"REST on {gateway.bridge_url}"
        )
        gateways.append(gateway)
        for role, pids in gateway.pids.items():
            processes[role] = lambda pids=pids: list(pids)  # type: ignore[misc]
    upstream_pids = upstream.pids()
    processes["upstream"] = lambda: upstream_pids
    extra = []
    if options.litellm:
        litellm = stack.enter_context(run_litellm(upstream, tmp / "litellm", run.notes))
        if litellm is None:
            _keep_logs(tmp / "litellm", options.out)
        else:
            processes["litellm"] = litellm.pids
            extra.append(litellm.rest())
    return build_targets(tools, upstream, gateways, tmp, extra), processes


def _scenarios(targets: list[Target], processes: dict[str, Pids], options: Options, run: Run) -> set[str]:
    """Checks and warms every path, then measures mode by mode, concurrency by concurrency.

    Paths of one mode and concurrency run back to back, the direct upstream
    first, so each added latency compares figures taken a few seconds apart.
    Returns the keys of the unusable unary paths.
    """
    broken: dict[tuple[str, str], str] = {}
    for target in targets:
        problem = _prepare(target, max(options.connections), options.warmup_s)
        if problem:
            broken[(target.key, target.mode)] = problem
            say(f"{target.label} [{target.mode}] is not usable: {problem}")
    for mode in ("unary", "stream"):
        for conns in options.connections:
            for target in (t for t in targets if t.mode == mode):
                problem = broken.get((target.key, target.mode))
                if problem:
                    scenario = Scenario(target.key, target.label, mode, conns, target.tool, error=problem)
                else:
                    scenario = _measure(target, conns, options.duration_s, processes)
                run.scenarios.append(scenario)
                say(_summary(scenario))
                time.sleep(0.3)  # let the last replies and closed sockets settle
    _added(run)
    return {key for key, mode in broken if mode == "unary"}


def _memory(
    targets: list[Target], processes: dict[str, Pids], options: Options, run: Run, grow: bool
) -> None:
    """RSS after the scenarios, then (when REST works) along the growth run."""
    for name, pids in processes.items():
        run.memory.append(Memory(name, _rss(pids())))
    if not grow:
        run.notes.append("memory growth run skipped: REST /v1/chat/completions is not usable")
        return
    rest = next(t for t in targets if (t.key, t.mode) == ("openai", "unary"))
    watched = {name: processes[name] for name in ROLES[options.topologies[0]]}
    growth, readings = _growth(run, rest, max(options.connections), options.growth_requests, watched)
    run.growth = growth
    for memory in run.memory:
        if memory.process in readings:
            memory.at_half_mb, memory.at_full_mb = readings[memory.process]


def measure_all(options: Options, run: Run) -> None:
    shutil.rmtree(options.out / "logs", ignore_errors=True)  # logs of an earlier run would mislead
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        try:
            targets, processes = _start(stack, tmp, options, run)
            broken = _scenarios(targets, processes, options, run)
            _memory(targets, processes, options, run, grow="openai" not in broken)
        except Exception:
            _keep_logs(tmp, options.out)
            raise
        if run.failures:
            _keep_logs(tmp, options.out)


def main(options: Options) -> int:
    run = Run(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=describe(),
        settings={
            "duration_s": options.duration_s,
            "warmup_s": options.warmup_s,
            "connections": options.connections,
            "growth_requests": options.growth_requests,
            "stream_chunks": len(payloads.PIECES),
            "quick": options.quick,
            "litellm": options.litellm,
            "topologies": options.topologies,
            "inprocess_workers": options.workers,
        },
    )
    busy, own, started = machine_busy_ms(), own_cpu_ms(), time.monotonic()
    try:
        measure_all(options, run)
    except RuntimeError as exc:
        say(f"failed: {exc}")
        return 1
    # Everything started here has been reaped by now, so its CPU is in own_cpu_ms().
    capacity = (time.monotonic() - started) * 1000.0 * (os.cpu_count() or 1)
    others = (machine_busy_ms() - busy) - (own_cpu_ms() - own)
    run.background_cpu_pct = max(0.0, others / capacity * 100.0)
    if run.background_cpu_pct > BUSY_PCT:
        run.notes.append(
            f"other processes used {run.background_cpu_pct:.0f}% of the machine's CPU during this run: "
            "the figures are noisier and slower than on an idle machine"
        )
    files = report.write(run, options.out)
    table = report.markdown(run)
    print(table)
    say("wrote " + ", ".join(str(path) for path in files.values()))
    if options.readme is not None and not options.quick:
        if report.update_readme(options.readme, table):
            say(f"updated the benchmark section of {options.readme}")
        else:
            say(f"{options.readme} has no {report.README_START} ... {report.README_END} block; not updated")
    for failure in run.failures:
        say(f"FAILED {failure}")
    return 1 if run.failures else 0
