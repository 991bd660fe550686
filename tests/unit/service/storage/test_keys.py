"""Keys and projects in the database: only hashes stored, names reusable after revoking."""

from __future__ import annotations

import hashlib
import re

import pytest

from model_gateway.storage.database import Conflict, Database
from model_gateway.storage.keys import KeyRecord, KeyStore, ProjectRecord, Scope, key_hash, new_key


def test_a_key_is_mg_and_32_random_bytes_urlsafe() -> None:
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert re.fullmatch(r"mg-[A-Za-z0-9_-]{43}", key)


def test_the_stored_hash_is_sha256() -> None:
    assert key_hash("mg-abc") == hashlib.sha256(b"mg-abc").hexdigest()


async def test_keys_round_trip_with_their_scope(database: Database) -> None:
    store = KeyStore(database)
    await store.create_project(ProjectRecord("research", Scope(("llama*",), rpm=100), 1.0))
    key = new_key()
    scope = Scope(("llama*", "qwen*"), rpm=60, tpm=100_000, budget_usd=10.5, budget_period="day")
    record = KeyRecord("team-a", key_hash(key), scope, "research", admin=True, expires_at=2e9, created_at=5.0)
    await store.create_key(record)
    assert await store.keys() == [record]
    assert await store.key("team-a") == record
    assert (await store.project("research")) == ProjectRecord("research", Scope(("llama*",), rpm=100), 1.0)
    # Nothing but the hash: the key itself is in no column.
    rows = await database.fetch("SELECT * FROM api_keys")
    assert key not in repr(rows) and key_hash(key) in repr(rows)


async def test_a_live_name_is_unique_and_free_again_once_revoked(database: Database) -> None:
    store = KeyStore(database)
    first = KeyRecord("team-a", key_hash(new_key()), Scope(), created_at=1.0)
    await store.create_key(first)
    with pytest.raises(Conflict, match="already exists"):
        await store.create_key(KeyRecord("team-a", key_hash(new_key()), Scope(), created_at=2.0))
    assert await store.revoke("team-a", now=3.0)
    assert not await store.revoke("team-a")  # already revoked
    assert await store.key("team-a", live=True) is None
    second = KeyRecord("team-a", key_hash(new_key()), Scope(rpm=5), created_at=4.0)
    await store.create_key(second)
    assert await store.key("team-a") == second
    assert [k.revoked for k in await store.keys()] == [True, False]


async def test_a_project_name_is_unique(database: Database) -> None:
    store = KeyStore(database)
    await store.create_project(ProjectRecord("p", Scope(), 1.0))
    with pytest.raises(Conflict):
        await store.create_project(ProjectRecord("p", Scope(), 2.0))
