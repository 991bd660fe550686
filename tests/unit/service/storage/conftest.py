"""A migrated database for each test: a SQLite file of its own, and the session's real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from model_gateway.storage.database import Database, open_database

TABLES = ("usage_content", "usage_ledger", "api_keys", "projects")


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'gateway.db'}"  # an absolute path: sqlite:////tmp/...


async def emptied(database: Database) -> Database:
    for table in TABLES:
        await database.execute(f"DELETE FROM {table}")
    return database


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = await open_database(url)
    try:
        yield await emptied(opened)
    finally:
        await opened.close()
