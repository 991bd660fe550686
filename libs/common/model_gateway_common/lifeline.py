"""Children that die with their parent, whatever kills it (an OOM killer's SIGKILL included).

Two mechanisms, since neither covers every case alone:

- **A pipe.** The parent keeps the write end (close-on-exec, so no other
  child holds it) and hands the read end to each child. When the parent
  dies, the kernel closes the write end and the child's read returns EOF;
  a watcher thread then asks the process to stop (SIGTERM, so it drains)
  and ends it outright `grace_s` later. Works on any POSIX system and across
  `exec` (the bridge is started as its own program).
- **PR_SET_PDEATHSIG** (Linux, through ctypes `prctl`): the kernel signals
  the child the moment its parent thread exits, with no thread involved.

The parent side is `Lifeline` (`child_env()` and `pass_fds` for
`subprocess.Popen`); a child calls `attach()` first thing, which does
nothing unless the parent set `MODEL_GATEWAY_LIFELINE`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping

ENV = "MODEL_GATEWAY_LIFELINE"  # "<read fd>:<parent pid>"
PR_SET_PDEATHSIG = 1
DEFAULT_GRACE_S = 0.5


class Lifeline:
    """The parent's end: one pipe for every child it starts."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()  # both close-on-exec; Popen's pass_fds opens the read end

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return (self._read,)

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env[ENV] = f"{self._read}:{os.getpid()}"
        return env

    def close(self) -> None:
        """Cut the line on purpose: every attached child stops as if the parent had died."""
        for fd in (self._write, self._read):
            with contextlib.suppress(OSError):
                os.close(fd)


def set_parent_death_signal(signum: int) -> bool:
    """PR_SET_PDEATHSIG for this process; False where the platform has no prctl."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _stop(grace_s: float) -> None:
    """Ask for a clean stop, then make sure of it."""
    try:
        os.kill(os.getpid(), signal.SIGTERM)
    finally:
        time.sleep(grace_s)
        os._exit(1)


def attach(
    grace_s: float = DEFAULT_GRACE_S,
    *,
    death_signal: int | None = signal.SIGTERM,
    on_parent_gone: Callable[[float], None] = _stop,
) -> bool:
    """In a child: die with the parent named in `MODEL_GATEWAY_LIFELINE`. False when there is none.

    The variable is removed from the environment, so this process's own
    children (e.g. a subprocess it runs) are not tied to our parent.
    """
    value = os.environ.pop(ENV, None)
    if not value:
        return False
    fd = int(value.partition(":")[0])
    if death_signal is not None:
        set_parent_death_signal(death_signal)
    os.set_inheritable(fd, False)

    def watch() -> None:
        while True:
            try:
                if not os.read(fd, 1):
                    break  # EOF: the parent (every holder of the write end) is gone
            except InterruptedError:
                continue
            except OSError:
                break
        on_parent_gone(grace_s)

    # A parent that died before the prctl above sends no signal, but its pipe reads EOF at once.
    threading.Thread(target=watch, name="lifeline", daemon=True).start()
    return True
