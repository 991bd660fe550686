"""API keys and projects in the database: only a key's SHA-256 is ever stored.

A key is `mg-` and 32 random bytes, URL-safe base64: that much entropy makes
a fast hash safe (nobody can search 2^256 preimages), so the gateway checks a
key with one SHA-256 and a dict lookup. A revoked key keeps its row, so it is
refused as revoked rather than unknown, and its name is free again.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import orjson

from model_gateway.storage.database import Conflict, Database, Row

KEY_PREFIX = "mg-"
_KEY_BYTES = 32


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(_KEY_BYTES)


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def key_hash(key: str) -> str:
    """What the database stores: the hex SHA-256 of the key."""
    return key_digest(key).hex()


@dataclass(frozen=True, slots=True)
class Scope:
    """What a key or a project may do: model patterns and limits (None: unlimited)."""

    models: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    budget_period: str = "month"


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    name: str
    scope: Scope
    created_at: float


@dataclass(frozen=True, slots=True)
class KeyRecord:
    name: str
    key_hash: str
    scope: Scope
    project: str | None = None
    admin: bool = False
    expires_at: float | None = None
    created_at: float = 0.0
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


_KEY_COLUMNS = (
    "name, key_hash, project, models, rpm, tpm, budget_usd, budget_period, admin, expires_at, "
    "created_at, revoked_at"
)
_PROJECT_COLUMNS = "name, models, rpm, tpm, budget_usd, budget_period, created_at"


def _scope(models: str, rpm: int | None, tpm: int | None, budget: float | None, period: str) -> Scope:
    patterns = orjson.loads(models or "[]")
    return Scope(tuple(str(p) for p in patterns), rpm, tpm, budget, period)


def _key(row: Row) -> KeyRecord:
    name, digest, project, models, rpm, tpm, budget, period, admin, expires, created, revoked = row
    scope = _scope(models, rpm, tpm, budget, period)
    return KeyRecord(name, digest, scope, project, bool(admin), expires, created, revoked)


def _project(row: Row) -> ProjectRecord:
    name, models, rpm, tpm, budget, period, created = row
    return ProjectRecord(name, _scope(models, rpm, tpm, budget, period), created)


def _models(scope: Scope) -> str:
    return orjson.dumps(list(scope.models)).decode()


class KeyStore:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def create_key(self, record: KeyRecord) -> None:
        """Store a new key; Conflict when a live key already has its name."""
        if await self.key(record.name, live=True) is not None:
            raise Conflict(f"a key named '{record.name}' already exists (revoke it first)")
        s = record.scope
        await self.db.execute(
            f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.name,
                record.key_hash,
                record.project,
                _models(s),
                s.rpm,
                s.tpm,
                s.budget_usd,
                s.budget_period,
                int(record.admin),
                record.expires_at,
                record.created_at or time.time(),
                None,
            ),
        )

    async def keys(self) -> list[KeyRecord]:
        """Every key, revoked ones included, oldest first."""
        rows = await self.db.fetch(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id")
        return [_key(row) for row in rows]

    async def key(self, name: str, live: bool = False) -> KeyRecord | None:
        """The live key of that name, else (unless `live`) the one revoked last."""
        rows = await self.db.fetch(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE name = ? "
            "ORDER BY (revoked_at IS NULL) DESC, revoked_at DESC LIMIT 1",
            (name,),
        )
        record = _key(rows[0]) if rows else None
        if record is not None and live and record.revoked:
            return None
        return record

    async def revoke(self, name: str, now: float | None = None) -> bool:
        changed = await self.db.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
            (now or time.time(), name),
        )
        return changed > 0

    async def create_project(self, record: ProjectRecord) -> None:
        if await self.project(record.name) is not None:
            raise Conflict(f"a project named '{record.name}' already exists")
        s = record.scope
        await self.db.execute(
            f"INSERT INTO projects ({_PROJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.name,
                _models(s),
                s.rpm,
                s.tpm,
                s.budget_usd,
                s.budget_period,
                record.created_at or time.time(),
            ),
        )

    async def projects(self) -> list[ProjectRecord]:
        rows = await self.db.fetch(f"SELECT {_PROJECT_COLUMNS} FROM projects ORDER BY name")
        return [_project(row) for row in rows]

    async def project(self, name: str) -> ProjectRecord | None:
        rows = await self.db.fetch(f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE name = ?", (name,))
        return _project(rows[0]) if rows else None
