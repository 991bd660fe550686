"""One generation of `model-gateway up` per set of ports: a lock file per address, and a probe.

Every process binds its ports with SO_REUSEPORT, so a second generation
would not fail to bind: it would silently share the ports with the first,
two configurations answering at random. `claim()` refuses instead, naming
the holder:

- a lock file per listen address beside the unix sockets' directory (the
  system temp dir), `flock`ed and holding the claimant's pid. The children
  inherit the locked file, so a generation whose parent died but whose
  children live on still holds it;
- a connect probe of each address, which also catches a plain `serve` or
  another program on the port.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path

from model_gateway_common.addresses import split_host_port


class PortsBusy(Exception):
    """Another live generation (or another program) holds an address; the message names it."""


def lock_path(address: str, directory: str | None = None) -> Path:
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", address.removeprefix("unix://")).strip("_")
    return Path(directory or tempfile.gettempdir()) / f"model-gateway-{slug}.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 256).decode(errors="replace").strip()
    pid = int(text.split()[0]) if text and text.split()[0].isdigit() else None
    if pid is None:
        return "another model-gateway up"
    if _alive(pid):
        return f"model-gateway up (pid {pid}); stop it first: kill {pid}"
    return (
        f"the children of model-gateway up pid {pid}, which is gone (an orphaned generation); stop them first"
    )


def _probe(address: str, timeout: float = 0.3) -> bool:
    """True when something accepts connections on the address."""
    try:
        if address.startswith("unix:"):
            path = address.removeprefix("unix://").removeprefix("unix:")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(path)
            return True
        host, port = split_host_port(address)
    except (OSError, ValueError):
        return False
    if port == 0:
        return False
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _ephemeral(address: str) -> bool:
    if address.startswith("unix:"):
        return False
    try:
        return split_host_port(address)[1] == 0
    except ValueError:
        return False


class Claim:
    """The locks held for a generation; pass `fds` to its children so they hold them too."""

    def __init__(self, fds: list[int], paths: list[Path]) -> None:
        self.fds = tuple(fds)
        self.paths = tuple(paths)

    def release(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def claim(addresses: Iterable[str], directory: str | None = None) -> Claim:
    """Lock every address for this process (pid written in the file), or raise PortsBusy naming the holder."""
    fds: list[int] = []
    paths: list[Path] = []
    try:
        for address in dict.fromkeys(addresses):
            if _ephemeral(address):
                continue  # port 0: the kernel picks a free one, nothing to share
            path = lock_path(address, directory)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise PortsBusy(f"{address} is held by {holder} (lock file {path})") from None
            fds.append(fd)
            paths.append(path)
            if _probe(address):
                raise PortsBusy(
                    f"{address} is already served by another process (not a model-gateway up "
                    "holding its lock: a `serve`, a `bridge` or another program); stop it first"
                )
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {address}\n".encode(), 0)
    except BaseException:
        Claim(fds, paths).release()
        raise
    return Claim(fds, paths)
