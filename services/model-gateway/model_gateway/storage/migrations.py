"""The schema, as numbered migrations for SQLite and PostgreSQL.

Each migration is applied once, in order, in one transaction with its row in
`schema_migrations`; `model-gateway db upgrade` and every start apply the
ones missing. Never edit a released migration: add the next number.

Times are unix seconds (REAL / DOUBLE PRECISION); `day` is the UTC date of a
ledger row (YYYY-MM-DD), kept beside it so reports group and filter by an
index. Booleans are 0/1 integers on both databases. Model patterns are JSON
lists of glob patterns.
"""

from __future__ import annotations

from dataclasses import dataclass

_TYPES = {
    "sqlite": {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "real": "REAL", "int": "INTEGER"},
    "postgresql": {"id": "BIGSERIAL PRIMARY KEY", "real": "DOUBLE PRECISION", "int": "BIGINT"},
}


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]


def _migration(version: int, name: str, *statements: str) -> Migration:
    """One migration written once, with {id} {real} {int} standing for each database's types."""
    return Migration(
        version,
        name,
        tuple(s.format(**_TYPES["sqlite"]) for s in statements),
        tuple(s.format(**_TYPES["postgresql"]) for s in statements),
    )


MIGRATIONS: tuple[Migration, ...] = (
    _migration(
        1,
        "keys and projects",
        """CREATE TABLE projects (
            name TEXT PRIMARY KEY,
            models TEXT NOT NULL DEFAULT '[]',
            rpm {int},
            tpm {int},
            budget_usd {real},
            budget_period TEXT NOT NULL DEFAULT 'month',
            created_at {real} NOT NULL
        )""",
        """CREATE TABLE api_keys (
            id {id},
            name TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            project TEXT REFERENCES projects (name),
            models TEXT NOT NULL DEFAULT '[]',
            rpm {int},
            tpm {int},
            budget_usd {real},
            budget_period TEXT NOT NULL DEFAULT 'month',
            admin {int} NOT NULL DEFAULT 0,
            expires_at {real},
            created_at {real} NOT NULL,
            revoked_at {real}
        )""",
        # A revoked key keeps its row (so it is refused as revoked, not unknown) and frees its name.
        "CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL",
    ),
    _migration(
        2,
        "usage ledger",
        """CREATE TABLE usage_ledger (
            id {id},
            ts {real} NOT NULL,
            day TEXT NOT NULL,
            request_id TEXT NOT NULL,
            trace_id TEXT NOT NULL,
            key_name TEXT NOT NULL,
            project TEXT NOT NULL,
            surface TEXT NOT NULL,
            rpc TEXT NOT NULL,
            requested_model TEXT NOT NULL,
            served_model TEXT NOT NULL,
            provider TEXT NOT NULL,
            deployment TEXT NOT NULL,
            attempts {int} NOT NULL,
            input_tokens {int} NOT NULL,
            output_tokens {int} NOT NULL,
            cached_input_tokens {int} NOT NULL,
            reasoning_tokens {int} NOT NULL,
            estimated {int} NOT NULL,
            cost_usd {real} NOT NULL,
            saved_usd {real} NOT NULL,
            cache_hit {int} NOT NULL,
            latency_ms {real} NOT NULL,
            ttft_ms {real},
            status TEXT NOT NULL,
            reason TEXT NOT NULL,
            arm TEXT NOT NULL
        )""",
        "CREATE INDEX usage_ledger_day ON usage_ledger (day)",
        "CREATE INDEX usage_ledger_key_day ON usage_ledger (key_name, day)",
    ),
    _migration(
        3,
        "captured content",
        """CREATE TABLE usage_content (
            id {id},
            ts {real} NOT NULL,
            request_id TEXT NOT NULL,
            key_name TEXT NOT NULL,
            requested_model TEXT NOT NULL,
            request TEXT NOT NULL,
            response TEXT
        )""",
        "CREATE INDEX usage_content_ts ON usage_content (ts)",
    ),
)

LATEST = MIGRATIONS[-1].version
