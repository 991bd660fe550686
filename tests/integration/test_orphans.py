"""`model-gateway up` leaves nothing behind however it dies, and runs one generation per set of ports."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.integration.conftest import GATEWAY, ROOT, free_port, stop, wait_for_tcp
from tests.unit.common.test_lifeline import gone, wait_gone


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def write_config(tmp: Path) -> tuple[Path, int, int]:
    grpc_port, bridge_port = free_port(), free_port()
    config = tmp / "gateway.yaml"
    config.write_text(
        f"server: {{grpc: '127.0.0.1:{grpc_port}', bridge: '127.0.0.1:{bridge_port}'}}\n"
        f"storage: {{database: 'sqlite:///{tmp}/gateway.db'}}\n"
    )
    return config, grpc_port, bridge_port


def start_up(config: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*GATEWAY, "--config", str(config), "up", "--workers", str(workers)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_kill_9_of_up_leaves_no_process_behind_within_a_second(tmp_path: Path) -> None:
    config, grpc_port, bridge_port = write_config(tmp_path)
    up = start_up(config, workers=2)
    children: list[int] = []
    # Two workers: one process each in process, a service and a bridge each as sidecars.
    expected = 4 if os.environ.get("MODEL_GATEWAY_TOPOLOGY") == "sidecar" else 2
    try:
        wait_for_tcp(grpc_port, up)
        wait_for_tcp(bridge_port, up)
        end = time.monotonic() + 30  # sidecars: two services, then two bridges
        while len(children) < expected and time.monotonic() < end:
            children = children_of(up.pid)
            time.sleep(0.1)
        assert len(children) == expected, children
        up.send_signal(signal.SIGKILL)
        up.wait()
        assert wait_gone(children, within=1.0) == [], "children outlived `up`"
    finally:
        for pid in children:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        stop(up)

    # The ports are free again: a new generation starts and stops cleanly.
    again = start_up(config)
    try:
        wait_for_tcp(bridge_port, again)
        end = time.monotonic() + 30  # its workers started: its signal handlers are in place
        while not children_of(again.pid) and time.monotonic() < end:
            time.sleep(0.1)
    finally:
        stop(again)
    assert again.returncode == 0


def test_a_second_up_on_the_same_ports_is_refused_naming_the_first(tmp_path: Path) -> None:
    config, grpc_port, bridge_port = write_config(tmp_path)
    first = start_up(config)
    try:
        wait_for_tcp(bridge_port, first)
        second = start_up(config)
        _, err = second.communicate(timeout=30)
        assert second.returncode == 1
        message = err.decode()
        assert f"127.0.0.1:{grpc_port}" in message and f"pid {first.pid}" in message, message
        assert first.poll() is None  # the first generation is untouched
    finally:
        stop(first)
    assert first.returncode == 0
