"""Children tied to their parent's life, and one generation per set of ports (model_gateway_common)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from model_gateway_common.port_claim import PortsBusy, claim

ROOT = Path(__file__).resolve().parents[3]


def gone(pid: int) -> bool:
    """No such process, or a zombie nobody has reaped yet (it no longer runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_gone(pids: list[int], within: float) -> list[int]:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if all(gone(pid) for pid in pids):
            return []
        time.sleep(0.02)
    return [pid for pid in pids if not gone(pid)]


# A parent that starts one child tied by the lifeline, prints the child's pid, then waits forever.
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    from model_gateway_common.lifeline import Lifeline
    line = Lifeline()
    child = subprocess.Popen(
        [sys.executable, "-c", sys.argv[1]], env=line.child_env(), pass_fds=line.pass_fds
    )
    print(child.pid, flush=True)
    time.sleep(600)
    """
)


def start_parent(child_code: str) -> tuple[subprocess.Popen[str], int]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, textwrap.dedent(child_code)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    return parent, child


def wait_ready(pid: int, marker: Path) -> None:
    end = time.monotonic() + 20
    while not marker.exists():
        assert time.monotonic() < end and not gone(pid), "the child did not start"
        time.sleep(0.02)


def test_the_pipe_alone_ends_a_child_that_ignores_sigterm_when_the_parent_is_killed(tmp_path: Path) -> None:
    """No PDEATHSIG and SIGTERM ignored: only the pipe's EOF can end this child."""
    marker = tmp_path / "ready"
    parent, child = start_parent(
        f"""
        import signal, time, pathlib
        from model_gateway_common.lifeline import attach
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        assert attach(0.1, death_signal=None)
        pathlib.Path({str(marker)!r}).touch()
        time.sleep(600)
        """
    )
    try:
        wait_ready(child, marker)
        parent.kill()
        parent.wait()
        assert wait_gone([child], within=1.0) == []
    finally:
        if not gone(child):
            os.kill(child, signal.SIGKILL)


def test_the_death_signal_alone_reaches_a_child_whose_pipe_watcher_never_acts(tmp_path: Path) -> None:
    marker = tmp_path / "ready"
    parent, child = start_parent(
        f"""
        import signal, time, pathlib
        from model_gateway_common.lifeline import attach
        assert attach(death_signal=signal.SIGKILL, on_parent_gone=lambda grace: None)
        pathlib.Path({str(marker)!r}).touch()
        time.sleep(600)
        """
    )
    try:
        wait_ready(child, marker)
        parent.kill()
        parent.wait()
        assert wait_gone([child], within=1.0) == []
    finally:
        if not gone(child):
            os.kill(child, signal.SIGKILL)


def test_a_child_without_a_lifeline_is_left_alone() -> None:
    code = "from model_gateway_common.lifeline import attach; print(attach())"
    env = {k: v for k, v in os.environ.items() if k != "MODEL_GATEWAY_LIFELINE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_a_second_claim_names_the_live_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from model_gateway_common.port_claim import claim\n"
            f"claim(['127.0.0.1:1', 'unix://{tmp_path}/g.sock'], {str(tmp_path)!r})\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(PortsBusy) as caught:
            claim(["127.0.0.1:1"], str(tmp_path))
        assert f"pid {holder.pid}" in str(caught.value) and "127.0.0.1:1" in str(caught.value)
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone: its lock went with it.
    claim(["127.0.0.1:1"], str(tmp_path)).release()


def test_a_port_served_by_another_program_is_refused(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(PortsBusy, match="already served by another process"):
            claim([address], str(tmp_path))
    # Port 0 asks the kernel for any free port: never claimed.
    claim(["127.0.0.1:0"], str(tmp_path)).release()
    assert not list(tmp_path.glob("*_0.lock"))
