"""The usage and cost ledger: one database row per finished call, written off the request's path.

An OutcomeSink: `record(call)` turns the call into a row tuple and appends it
to an in-memory batch (microseconds, no I/O). A background task writes the
batch in one transaction every `usage.flush_interval_s` (1 s by default);
`close()` (the server's graceful stop, after draining) writes what is left.
A kill -9 therefore loses at most the rows of one flush window. While the
database is unreachable rows wait, up to `usage.max_queue`; past that new rows
are dropped and counted (`model_gateway_ledger_dropped_rows_total`).

The row carries the key's name, never the key. With `usage.capture_content`
the canonical request and answer (a stream's assembled from its chunks) go
into `usage_content`, purged after `usage.content_retention_days`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from google.protobuf import json_format
from opentelemetry import trace
from prometheus_client import Counter

from model_gateway.config import UsageConfig
from model_gateway.core.call import Call
from model_gateway.obs.access_log import outcome
from model_gateway.storage.database import Database
from model_gateway.storage.usage import insert_content, insert_usage, purge_content, utc_day

log = logging.getLogger("model_gateway.ledger")

ROWS_WRITTEN = Counter("model_gateway_ledger_rows_written", "Usage ledger rows written.")
ROWS_DROPPED = Counter("model_gateway_ledger_dropped_rows", "Usage ledger rows dropped: the queue was full.")
FLUSH_ERRORS = Counter("model_gateway_ledger_flush_errors", "Usage ledger writes that failed (rows kept).")

PURGE_EVERY_S = 3600.0


def _trace_id() -> str:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def usage_row(call: Call) -> tuple[Any, ...]:
    """The ledger row of a call that just finished (storage/usage.USAGE_COLUMNS, in order)."""
    latency = time.perf_counter() - call.started
    ts = time.time() - latency  # when the call started
    status, result = outcome(call)
    route, usage, cost = call.route, call.usage, call.cost
    principal = call.ctx.principal
    key_name = "" if result == "UNAUTHENTICATED" else principal.name
    first = call.first_chunk_s
    return (
        ts,
        utc_day(ts),
        call.ctx.request_id,
        _trace_id(),
        key_name,
        principal.project,
        call.ctx.surface,
        call.rpc,
        call.requested_model,
        route.served_model if route is not None else "",
        route.provider if route is not None else "",
        route.deployment if route is not None else "",
        route.attempts if route is not None else 0,
        usage.input_tokens if usage is not None else 0,
        usage.output_tokens if usage is not None else 0,
        usage.cached_input_tokens if usage is not None else 0,
        usage.reasoning_tokens if usage is not None else 0,
        int(usage.estimated) if usage is not None else 0,
        float(cost.total_usd) if cost is not None else 0.0,
        float(call.saved_usd),
        int(call.cache_hit),
        round(latency * 1000, 3),
        round(first * 1000, 3) if first is not None else None,
        status,
        "" if call.error is None and status == "OK" else result,
        call.arm,
    )


def _json(message: Any) -> str:
    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=None)


def content_row(call: Call, ts: float, key_name: str) -> tuple[Any, ...]:
    answer = call.response or call.answer  # streams: assembled by the record stage when capturing
    return (
        ts,
        call.ctx.request_id,
        key_name,
        call.requested_model,
        _json(call.request),
        _json(answer) if answer is not None else None,
    )


class Ledger:
    """Batches rows in memory and writes them every flush interval (and on close)."""

    def __init__(self, database: Database, config: UsageConfig | None = None) -> None:
        config = config or UsageConfig()
        self.db = database
        self.flush_interval_s = config.flush_interval_s
        self.max_queue = config.max_queue
        self.capture = config.capture_content
        self.retention_s = config.content_retention_days * 86400
        self._rows: list[tuple[Any, ...]] = []
        self._content: list[tuple[Any, ...]] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._purged_at = 0.0
        self.written = 0
        self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._rows)

    def record(self, call: Call) -> None:
        if len(self._rows) >= self.max_queue:
            self.dropped += 1
            ROWS_DROPPED.inc()
            return
        row = usage_row(call)
        self._rows.append(row)
        if self.capture:
            self._content.append(content_row(call, row[0], row[4]))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="usage-ledger")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self.flush()
            if self.capture and time.monotonic() - self._purged_at > PURGE_EVERY_S:
                await self._purge()

    async def flush(self) -> int:
        """Write the rows batched so far in one transaction; on failure keep them for the next try."""
        async with self._lock:
            rows, content = self._rows, self._content
            if not rows and not content:
                return 0
            self._rows, self._content = [], []
            try:
                await insert_usage(self.db, rows)
                await insert_content(self.db, content)
            except Exception as exc:
                FLUSH_ERRORS.inc()
                if not self._failing:
                    log.warning("usage ledger: cannot write %d rows, will retry: %s", len(rows), exc)
                self._failing = True
                # Put them back in front of what arrived meanwhile, within the bound.
                self._rows = (rows + self._rows)[: self.max_queue]
                self._content = (content + self._content)[: self.max_queue]
                return 0
            if self._failing:
                log.info("usage ledger: writing again")
            self._failing = False
            self.written += len(rows)
            ROWS_WRITTEN.inc(len(rows))
            return len(rows)

    async def _purge(self) -> None:
        self._purged_at = time.monotonic()
        try:
            removed = await purge_content(self.db, time.time() - self.retention_s)
        except Exception as exc:
            log.warning("usage ledger: cannot purge captured content: %s", exc)
            return
        if removed:
            log.info("usage ledger: purged %d captured contents past retention", removed)

    async def close(self) -> None:
        """Stop the timer and write everything still batched (the server calls this after draining)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._rows:
            log.error("usage ledger: %d rows could not be written before stopping", len(self._rows))
