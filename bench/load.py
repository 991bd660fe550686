"""wrk (REST, HTTP/1.1) and h2load (gRPC over h2c), each run once and parsed.

Both run with one thread: on a 2-core machine the load tool shares the CPU
with the processes under test, so it should take as little of it as it can.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

from bench.measure import LoadResult, percentile

_WRK_MARK = "BENCHJSON "

# done() prints one JSON line. No `response` function: its mere presence makes
# wrk parse every reply (and wrk.thread:stop() does not end the run early anyway).
_WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{headers}wrk.body = [==[{body}]==]
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{mark}{{"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,' ..
    '"status":%.0f,"timeout":%.0f,"p50_us":%.1f,"p99_us":%.1f}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(body: bytes, headers: Mapping[str, str] | None = None) -> str:
    text = body.decode()
    if "]==]" in text:
        raise ValueError("request body would end the Lua long string")
    extra = "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in (headers or {}).items())
    return _WRK_LUA.format(body=text, headers=extra, mark=_WRK_MARK)


def parse_wrk(output: str) -> LoadResult:
    for line in output.splitlines():
        if line.startswith(_WRK_MARK):
            data = json.loads(line[len(_WRK_MARK) :])
            break
    else:
        raise RuntimeError(f"wrk printed no summary:\n{output[-2000:]}")
    errors = sum(int(data[key]) for key in ("connect", "read", "write", "status", "timeout"))
    # wrk counts non-2xx replies in both `requests` and `status`.
    good = int(data["requests"]) - int(data["status"])
    return LoadResult(
        requests=max(0, good),
        errors=errors,
        duration_s=float(data["duration_us"]) / 1e6,
        p50_ms=float(data["p50_us"]) / 1000.0,
        p99_ms=float(data["p99_us"]) / 1000.0,
        first_error=f"{errors} wrk errors: {data}" if errors else None,
    )


def run_wrk(
    wrk: str,
    url: str,
    body: bytes,
    connections: int,
    duration_s: float,
    workdir: Path,
    headers: Mapping[str, str] | None = None,
) -> LoadResult:
    script = workdir / "wrk.lua"
    script.write_text(wrk_script(body, headers))
    seconds = max(1, round(duration_s))
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout[-2000:]}")
    return parse_wrk(done.stdout)


_H2_FINISHED = re.compile(r"finished in ([\d.]+)(us|ms|s),")
_H2_REQUESTS = re.compile(r"requests: .*?(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout")
_H2_DATA = re.compile(r"\((\d+)\) data")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_h2load(output: str, log: str, min_reply_bytes: int) -> LoadResult:
    """Latencies come from h2load's per-request log (its summary has no percentiles).

    h2load cannot see a gRPC status (an error is still HTTP 200), so replies
    are also counted by bytes: fewer DATA bytes than `min_reply_bytes` per
    success means some calls answered with an error instead of a message.
    """
    finished = _H2_FINISHED.search(output)
    counts = _H2_REQUESTS.search(output)
    data = _H2_DATA.search(output)
    if not (finished and counts and data):
        raise RuntimeError(f"h2load printed no summary:\n{output[-2000:]}")
    latencies, bad_status = [], 0
    for line in log.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3:
            if fields[1] == "200":
                latencies.append(int(fields[2]) / 1000.0)
            else:
                bad_status += 1
    succeeded = len(latencies)
    short = max(0, succeeded - int(data.group(1)) // max(1, min_reply_bytes))
    errors = sum(int(g) for g in counts.groups()[1:]) + bad_status + short
    return LoadResult(
        requests=max(0, succeeded - short),
        errors=errors,
        duration_s=float(finished.group(1)) * _UNITS[finished.group(2)],
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        first_error=f"{errors} h2load errors ({short} replies without a message)" if errors else None,
    )


def run_h2load(
    h2load: str,
    url: str,
    frame: bytes,
    connections: int,
    duration_s: float,
    workdir: Path,
    min_reply_bytes: int,
    headers: Mapping[str, str] | None = None,
) -> LoadResult:
    """Unary gRPC over h2c: the framed request body posted with gRPC's headers (and `headers`)."""
    body, log = workdir / "grpc-request.bin", workdir / "h2load-requests.tsv"
    body.write_bytes(frame)
    log.unlink(missing_ok=True)
    seconds = max(1, round(duration_s))
    command = [
        h2load,
        *("-t", "1", "-c", str(connections), "-m", "1", "-D", str(seconds)),
        *("-d", str(body), "--log-file", str(log)),
        *("-H", "content-type: application/grpc", "-H", "te: trailers"),
        *(arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"h2load failed ({done.returncode}): {done.stderr.strip() or done.stdout[-2000:]}")
    return parse_h2load(done.stdout, log.read_text() if log.exists() else "", min_reply_bytes)
