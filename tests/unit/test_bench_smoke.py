"""The benchmark harness starts, measures and writes its files (bench/).

A smoke of the harness, never a speed test: it runs `python -m bench --quick`
with one-second scenarios and checks that every scenario was measured and
every report file was written; that run is `make bench-smoke` only, outside the
unit suite. The parsers get small table-driven checks, everywhere.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench import payloads
from bench.load import parse_h2load, parse_wrk, wrk_script
from bench.measure import percentile
from bench.targets import stream_text
from bench.upstream import nginx_conf

ROOT = Path(__file__).resolve().parents[2]
PATHS = ("direct", "grpc", "openai", "ollama", "sidecar-grpc", "sidecar-openai", "sidecar-ollama")
MODES = ("unary", "stream")
CONNECTIONS = (1, 4)

H2LOAD_OUTPUT = """\
finished in 1.00s, 812.00 req/s, 180.38KB/s
requests: 812 total, 813 started, 812 done, 812 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 812 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 180.38KB (184708) total, 38.12KB (39032) headers (space savings 93.51%), 121.02KB (123424) data
"""


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))


def test_wrk_summary_is_parsed() -> None:
    line = (
        'BENCHJSON {"requests":1000,"duration_us":2000000,"connect":0,"read":0,"write":0,'
        '"status":10,"timeout":0,"p50_us":1500.0,"p99_us":4000.0}'
    )
    result = parse_wrk(f"Running 2s test\n{line}\n")
    assert (result.requests, result.errors, result.p50_ms, result.p99_ms) == (990, 10, 1.5, 4.0)
    assert result.rps == pytest.approx(495.0)
    assert '"model":"bench"' in wrk_script(b'{"model":"bench"}')


def test_h2load_counts_replies_without_a_message_as_errors() -> None:
    log = "".join(f"1700000000{i:06d}\t200\t{1000 + i}\n" for i in range(812))
    good = parse_h2load(H2LOAD_OUTPUT, log, min_reply_bytes=152)  # 123424 bytes / 812 replies = 152
    assert (good.requests, good.errors, good.duration_s) == (812, 0, 1.0)
    assert good.p50_ms == pytest.approx(1.405)
    # The same traffic, but a good reply would be bigger: some calls ended with a gRPC error.
    short = parse_h2load(H2LOAD_OUTPUT, log, min_reply_bytes=200)
    assert short.errors == 812 - 123424 // 200


def test_nginx_config_serves_both_bodies_from_memory(tmp_path: Path) -> None:
    conf = nginx_conf(tmp_path, 8080)
    assert "listen 127.0.0.1:8080" in conf
    assert "location = /unary/v1/chat/completions" in conf
    assert "data: [DONE]\\n\\n'" in conf  # the SSE body ends the stream properly


def test_stream_text_joins_sse_and_ndjson_deltas() -> None:
    assert stream_text(payloads.upstream_stream(), ollama=False) == payloads.ANSWER
    ndjson = '{"message":{"role":"assistant","content":"Hel"},"done":false}\n'
    ndjson += '{"message":{"role":"assistant","content":"lo"},"done":false}\n{"done":true}\n'
    assert stream_text(ndjson, ollama=True) == "Hello"


def _tools_available() -> bool:
    have = all(
        shutil.which(t, path=f"{os.environ.get('PATH', '')}:/usr/sbin") for t in ("nginx", "wrk", "h2load")
    )
    return have or os.geteuid() == 0  # root: the harness installs them


# The harness run installs tools and takes minutes: `make bench-smoke` runs it (BENCH_SMOKE=1), never
# the unit suite, which stays at seconds. The parsers above are checked everywhere.
RUN_HARNESS = os.environ.get("BENCH_SMOKE") == "1"


@pytest.mark.timeout(600)
@pytest.mark.skipif(not RUN_HARNESS, reason="the harness run is `make bench-smoke` (BENCH_SMOKE=1)")
@pytest.mark.skipif(
    not _tools_available(), reason="nginx, wrk and h2load are missing and cannot be installed"
)
def test_quick_run_measures_every_scenario_and_writes_reports(tmp_path: Path) -> None:
    out = tmp_path / "results"
    command = [
        sys.executable,
        *("-m", "bench", "--quick", "--no-readme", "--duration", "1", "--warmup", "1"),
        *("--connections", ",".join(map(str, CONNECTIONS)), "--requests-for-growth", "2000"),
        *("--out", str(out)),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=540)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # the harness stops what it started on SIGTERM
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, f"exit {process.returncode}\n{stderr[-4000:]}"

    data = json.loads((out / "results.json").read_text())
    measured = {(s["key"], s["mode"], s["connections"]): s for s in data["scenarios"]}
    for key in PATHS:
        for mode in MODES:
            for conns in CONNECTIONS:
                scenario = measured[(key, mode, conns)]
                assert scenario["error"] is None
                assert scenario["requests"] > 0
                for field in ("rps", "p50_ms", "p99_ms"):
                    assert isinstance(scenario[field], float), (key, mode, conns, field)
                if mode == "stream":
                    assert isinstance(scenario["ttfc_p50_ms"], float)
                if key != "direct":
                    assert isinstance(scenario["added_p50_ms"], float)
                    process = "serve" if key.startswith("sidecar-") else "worker"
                    assert isinstance(scenario["cpu_ms_per_request"][process], float)
    for conns in CONNECTIONS:  # the cache-hit path: unary only
        assert measured[("cache", "unary", conns)]["requests"] > 0
    memory = {m["process"]: m for m in data["memory"]}
    for process_name in ("worker", "serve", "bridge"):
        assert memory[process_name]["after_scenarios_mb"] > 0
    assert memory["worker"]["at_full_mb"] > 0  # the growth run loads the default topology
    assert data["growth"]["full_requests"] >= 2000
    assert data["failures"] == []

    table = (out / "results.md").read_text()
    assert "| gRPC Generate | 1 |" in table
    assert "REST Ollama /api/chat" in table
    assert table in stdout
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
