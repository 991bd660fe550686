"""Process plumbing from /proc (no psutil): CPU ticks, resident memory, children, ports."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), 0 once it is gone."""
    fields = _stat_fields(pid)
    # Fields 14 and 15 of /proc/PID/stat; index 0 here is field 3 (state).
    return int(fields[11]) + int(fields[12]) if fields else 0


def cpu_ms(pids: Iterable[int]) -> float:
    return sum(cpu_ticks(pid) for pid in pids) * 1000.0 / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    """VmRSS in MiB, 0.0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and parent_of(int(entry.name)) == pid:
            found.append(int(entry.name))
    return sorted(found)


def descendants(pid: int) -> list[int]:
    """The process and everything below it, for servers that fork workers."""
    result, queue = [], [pid]
    while queue:
        current = queue.pop()
        result.append(current)
        queue.extend(children(current))
    return result


def wait_for_tcp(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace: float = 20.0) -> None:
    """Ask nicely, then kill; never leaves the process behind."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def kill_leftovers(pids: dict[int, list[str]]) -> None:
    """Children that outlived their parent (e.g. `up` killed hard) are ended by pid.

    The command line recorded at start must still match, so a recycled pid is left alone.
    """
    for pid, command in pids.items():
        if command and cmdline(pid) == command:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def machine_busy_ms() -> float:
    """CPU time spent by everything on the machine since boot (first line of /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) * 1000.0 / CLOCK_TICKS


def own_cpu_ms() -> float:
    """CPU of this process and of every reaped descendant (load tools, nginx, `up` and its children)."""
    ours = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (ours.ru_utime + ours.ru_stime + reaped.ru_utime + reaped.ru_stime) * 1000.0
