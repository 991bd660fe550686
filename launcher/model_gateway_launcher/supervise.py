"""One generation of `model-gateway up`: its ports claimed, its children tied to its life, stopped in order.

Both topologies start their processes through here. The ports are claimed
first (a lock file per address and a probe: one generation at a time), and
every child gets the lifeline (a pipe and PR_SET_PDEATHSIG), so a SIGKILL of
`up` leaves nothing serving. Children run in their own session, so a
terminal's Ctrl-C reaches `up` alone, which stops them in its own order.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence

from model_gateway_common.lifeline import Lifeline
from model_gateway_common.port_claim import Claim, claim

Child = subprocess.Popen[bytes]


class Generation:
    """Raises PortsBusy (naming the holder) when another generation holds the addresses."""

    def __init__(self, addresses: Sequence[str], grace_s: float) -> None:
        self.ports: Claim = claim(addresses)
        self.lifeline = Lifeline()
        self.grace_s = grace_s
        self.children: list[Child] = []
        self.stopping = False
        self._signalled: set[int] = set()
        self._first: list[Child] = []  # stopped first on a signal (the bridges, or every worker)

    def start(self, argv: Sequence[str], first_to_stop: bool = True) -> Child:
        child = subprocess.Popen(
            list(argv),
            env=self.lifeline.child_env(),
            pass_fds=(*self.lifeline.pass_fds, *self.ports.fds),
            start_new_session=True,
        )
        self.children.append(child)
        if first_to_stop:
            self._first.append(child)
        return child

    def handle_signals(self) -> None:
        """SIGTERM and SIGINT stop the children meant to stop first; `wait_any` does the rest.
        SIGHUP is passed on to every child (certificates reload)."""

        def forward(_signum: int, _frame: object) -> None:
            self.stopping = True
            self.signal(self._first or self.children)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)

        def reload(_signum: int, _frame: object) -> None:
            # SIGHUP: every child re-reads its TLS certificates (model_gateway_common.tls).
            for child in self.children:
                if child.poll() is None:
                    child.send_signal(signal.SIGHUP)

        signal.signal(signal.SIGHUP, reload)

    def signal(self, children: Sequence[Child]) -> None:
        for child in children:
            if child.poll() is None and child.pid not in self._signalled:
                self._signalled.add(child.pid)  # once: a second SIGINT would make uvicorn skip its drain
                child.send_signal(signal.SIGTERM)

    def wait_any(self) -> None:
        """Until a signal, or until any child ends (whichever child ends first ends them all)."""
        while not self.stopping and all(c.poll() is None for c in self.children):
            time.sleep(0.2)

    def stop(self, children: Sequence[Child]) -> list[int]:
        """SIGTERM, then each gets the drain's grace (and a little) before it is killed."""
        self.signal(children)
        return [self._wait(child) for child in children]

    def _wait(self, child: Child) -> int:
        try:
            return child.wait(self.grace_s + 5)
        except subprocess.TimeoutExpired:
            child.kill()
            return child.wait()

    def close(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
        self.lifeline.close()
        self.ports.release()


def clean_exit(codes: Sequence[int]) -> int:
    """uvicorn re-raises the signal it stopped on: dying by our SIGTERM or SIGINT is a clean stop."""
    return max((0 if code in (-signal.SIGTERM, -signal.SIGINT) else code for code in codes), default=0)
