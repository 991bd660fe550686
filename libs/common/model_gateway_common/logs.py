"""Logging for both processes: JSON lines (or readable lines on a terminal), off the event loop.

One record per request carries its fields in `extra={"fields": {...}}`; the
JSON formatter puts them at the top level of the line. Records are handed to
a queue and written by a listener thread, so a slow stderr never blocks the
event loop. LOG_LEVEL sets the level, LOG_FORMAT (`json` or `text`) overrides
the terminal check.
"""

from __future__ import annotations

import atexit
import copy
import logging
import logging.handlers
import os
import queue
import re
import sys
import threading
from datetime import UTC, datetime
from typing import IO, Any, cast

import orjson
from opentelemetry import trace

# A safety net, not the defence: nothing logs headers, but an exception text
# that quotes one must not carry a credential out.
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_RESERVED = {"ts", "level", "logger", "msg"}


def scrub(text: str) -> str:
    return _BEARER.sub(r"\1 [redacted]", text)


def _timestamp(record: logging.LogRecord) -> str:
    return (
        datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = getattr(record, "fields", None) or {}
    trace_id = getattr(record, "trace_id", None)
    if trace_id and "trace_id" not in fields:
        fields = {**fields, "trace_id": trace_id}
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        for key, value in _fields(record).items():
            line[f"field.{key}" if key in _RESERVED else key] = value
        exc_text = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else None)
        if exc_text:
            line["exc"] = scrub(exc_text)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """For a person at a terminal: time, level, logger, message, then key=value fields."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        parts = [when, f"{record.levelname:<7}", record.name, scrub(record.getMessage())]
        parts += [f"{k}={v}" for k, v in _fields(record).items() if v is not None and v != ""]
        text = " ".join(parts)
        exc_text = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else None)
        return f"{text}\n{scrub(exc_text)}" if exc_text else text


# Records waiting for the writer thread. Bounded: a stderr nobody reads (a full pipe) must not
# grow the process without end; past the bound records are dropped, and the writer says how many.
MAX_QUEUED_RECORDS = 50_000
_dropped = [0]


class _ContextQueueHandler(logging.handlers.QueueHandler):
    """Captures what only the caller's context knows (message, trace id, traceback) before queueing."""

    def enqueue(self, record: logging.LogRecord) -> None:
        if cast("queue.SimpleQueue[logging.LogRecord]", self.queue).qsize() >= MAX_QUEUED_RECORDS:
            _dropped[0] += 1
            return
        self.queue.put_nowait(record)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
        return record


class _BatchWriter:
    """Writes queued records every FLUSH_INTERVAL_S, many lines per write.

    A listener that wakes for every record (logging's QueueListener) costs
    the event loop a GIL hand-off and a write(2) per request; in the profile
    that was a quarter of the gateway's CPU. Waking on a timer costs neither.
    """

    FLUSH_INTERVAL_S = 0.05

    def __init__(
        self, records: queue.SimpleQueue[logging.LogRecord], formatter: logging.Formatter, stream: IO[str]
    ):
        self._records, self._formatter, self._stream = records, formatter, stream
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self.FLUSH_INTERVAL_S):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        lines = []
        while True:
            try:
                lines.append(self._formatter.format(self._records.get_nowait()))
            except queue.Empty:
                break
        if lines:
            try:
                if _dropped[0]:
                    dropped, _dropped[0] = _dropped[0], 0
                    lines.append(f"model-gateway: {dropped} log records dropped: the log stream was too slow")
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()
            except (OSError, ValueError):  # a closed stderr must not kill the writer
                pass


_listener: _BatchWriter | None = None


def setup_logging(stream: IO[str] | None = None, env: dict[str, str] | None = None) -> None:
    """Route every logger through one queue to `stream` (stderr), formatted for who reads it."""
    global _listener
    env = dict(os.environ) if env is None else env
    stream = stream or sys.stderr
    fmt = env.get("LOG_FORMAT", "").lower()
    use_json = fmt == "json" or (fmt != "text" and not stream.isatty())
    formatter: logging.Formatter = JsonFormatter() if use_json else TextFormatter()

    if _listener is not None:
        _listener.stop()
    else:
        atexit.register(stop_logging)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = _BatchWriter(records, formatter, stream)
    _listener.start()

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(_ContextQueueHandler(records))
    level = env.get("LOG_LEVEL", "INFO").upper()
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")


def stop_logging() -> None:
    """Flush what is queued; safe to call more than once."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None
