"""The usage ledger's table: rows in, reports out (`model-gateway usage`, GetUsage).

One row per call. A report groups the rows by key name, requested model,
provider or UTC day, between two UTC dates (both inclusive), and sums
calls, errors (any status but OK), tokens and cost.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from model_gateway.storage.database import Database, placeholders

USAGE_COLUMNS = (
    "ts",
    "day",
    "request_id",
    "trace_id",
    "key_name",
    "project",
    "surface",
    "rpc",
    "requested_model",
    "served_model",
    "provider",
    "deployment",
    "attempts",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "estimated",
    "cost_usd",
    "saved_usd",
    "cache_hit",
    "latency_ms",
    "ttft_ms",
    "status",
    "reason",
    "arm",
)
CONTENT_COLUMNS = ("ts", "request_id", "key_name", "requested_model", "request", "response")

_INSERT_USAGE = (
    f"INSERT INTO usage_ledger ({', '.join(USAGE_COLUMNS)}) VALUES ({placeholders(len(USAGE_COLUMNS))})"
)
_INSERT_CONTENT = (
    f"INSERT INTO usage_content ({', '.join(CONTENT_COLUMNS)}) VALUES ({placeholders(len(CONTENT_COLUMNS))})"
)

# --by value -> the column it groups on
GROUPS = {"key": "key_name", "model": "requested_model", "provider": "provider", "day": "day"}
FIGURES = ("calls", "errors", "input_tokens", "output_tokens", "cached_input_tokens", "cost_usd", "saved_usd")


def utc_day(ts: float) -> str:
    return _utc_day(int(ts // 86_400))  # a ledger row per call: the date is formatted once a day


@functools.lru_cache(maxsize=8)
def _utc_day(days: int) -> str:
    return dt.datetime.fromtimestamp(days * 86_400, dt.UTC).strftime("%Y-%m-%d")


def parse_day(text: str, what: str) -> str:
    """A YYYY-MM-DD date, checked; ValueError naming `what` otherwise."""
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{what}: '{text}' is not a date (YYYY-MM-DD)") from None


async def insert_usage(db: Database, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        await db.executemany(_INSERT_USAGE, rows)


async def insert_content(db: Database, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        await db.executemany(_INSERT_CONTENT, rows)


async def purge_content(db: Database, before: float) -> int:
    return await db.execute("DELETE FROM usage_content WHERE ts < ?", (before,))


@dataclass(frozen=True, slots=True)
class UsageRow:
    group: str
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost_usd: float
    saved_usd: float

    def as_dict(self, by: str) -> dict[str, Any]:
        return {by: self.group, **{name: getattr(self, name) for name in FIGURES}}


async def usage_report(
    db: Database, by: str = "key", since: str | None = None, until: str | None = None
) -> list[UsageRow]:
    """Rows grouped `by` key | model | provider | day, for the UTC days since..until (inclusive)."""
    column = GROUPS.get(by)
    if column is None:
        raise ValueError(f"by: '{by}' is not one of {', '.join(GROUPS)}")
    where, params = [], []
    if since:
        where.append("day >= ?")
        params.append(parse_day(since, "since"))
    if until:
        where.append("day <= ?")
        params.append(parse_day(until, "until"))
    rows = await db.fetch(
        f"SELECT {column}, COUNT(*), "
        "CAST(SUM(CASE WHEN status = 'OK' THEN 0 ELSE 1 END) AS BIGINT), "
        "CAST(SUM(input_tokens) AS BIGINT), CAST(SUM(output_tokens) AS BIGINT), "
        "CAST(SUM(cached_input_tokens) AS BIGINT), SUM(cost_usd), SUM(saved_usd) "
        "FROM usage_ledger"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" GROUP BY {column} ORDER BY {column}",
        params,
    )
    return [
        UsageRow(
            str(group),
            int(calls),
            int(errors),
            int(inputs),
            int(outputs),
            int(cached),
            round(float(cost), 10),
            round(float(saved), 10),
        )
        for group, calls, errors, inputs, outputs, cached, cost, saved in rows
    ]


async def totals_by_key(db: Database) -> dict[str, tuple[int, float]]:
    """Calls and cost so far, per key name (for `keys list`)."""
    rows = await db.fetch("SELECT key_name, COUNT(*), SUM(cost_usd) FROM usage_ledger GROUP BY key_name")
    return {str(name): (int(calls), round(float(cost), 10)) for name, calls, cost in rows}


async def count_rows(db: Database) -> int:
    rows = await db.fetch("SELECT COUNT(*) FROM usage_ledger")
    return int(rows[0][0])
