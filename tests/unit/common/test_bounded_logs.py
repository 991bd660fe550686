"""The log queue between every logger and the writer thread is bounded (no unbounded queues)."""

from __future__ import annotations

import io
import logging
import threading

import pytest

from model_gateway_common import logs


class StuckStream(io.StringIO):
    """A stderr nobody reads: writes block until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait(10)
        return super().write(text)

    def isatty(self) -> bool:
        return False


def test_a_stuck_log_stream_drops_records_past_the_bound_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_QUEUED_RECORDS", 100)
    stream = StuckStream()
    logs.setup_logging(stream, env={"LOG_FORMAT": "text"})
    try:
        log = logging.getLogger("bounded")
        log.warning("first")  # the writer takes it and blocks writing it
        for i in range(5_000):
            log.warning("record %d", i)
        handler = logging.getLogger().handlers[0]
        assert handler.queue.qsize() <= 100  # type: ignore[attr-defined]
        stream.release.set()
    finally:
        logs.stop_logging()
    assert "log records dropped" in stream.getvalue()
