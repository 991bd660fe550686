"""Database URLs, opening (one-line errors with the password masked), WAL, versioned migrations."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path

import pytest

from model_gateway.storage.database import (
    Database,
    StorageError,
    open_database,
    parse_database_url,
)
from model_gateway.storage.migrations import LATEST, MIGRATIONS
from tests.backing import postgres_database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("url", "dialect", "target"),
    [
        ("sqlite:///./data/gateway.db", "sqlite", "./data/gateway.db"),
        ("sqlite:///relative/path.db", "sqlite", "relative/path.db"),
        ("sqlite:////var/lib/gw/gateway.db", "sqlite", "/var/lib/gw/gateway.db"),
        ("sqlite:///:memory:", "sqlite", ":memory:"),
        (
            "postgresql://mg:pw@db.internal:5433/ledger",
            "postgresql",
            "postgresql://mg:pw@db.internal:5433/ledger",
        ),
        ("postgresql+asyncpg://mg@db/ledger", "postgresql", "postgresql://mg@db/ledger"),
        ("postgres://mg@db/ledger", "postgresql", "postgresql://mg@db/ledger"),
    ],
)
def test_urls_in_sqlalchemys_form(url: str, dialect: str, target: str) -> None:
    parsed = parse_database_url(url)
    assert (parsed.dialect, parsed.target) == (dialect, target)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://gateway.db",
        "sqlite:///",
        "mysql://root:hunter2@db/gw",
        "gateway.db",
        "postgresql://mg:hunter2@db:port/gw",
        "postgresql://:hunter2@/gw",
    ],
)
def test_a_malformed_url_is_one_line_naming_it_without_the_password(url: str) -> None:
    with pytest.raises(StorageError) as raised:
        parse_database_url(url)
    message = str(raised.value)
    assert message.startswith("storage.database: ") and "\n" not in message
    assert "hunter2" not in message


async def test_sqlite_is_created_on_first_start_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "gateway.db"
    database = await open_database(f"sqlite:///{path}")
    try:
        assert path.exists()
        assert await database.versions() == [m.version for m in MIGRATIONS]
        assert (await database.fetch("PRAGMA journal_mode"))[0][0] == "wal"
    finally:
        await database.close()


async def test_migrations_apply_once_and_a_second_upgrade_does_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    database = await open_database(url, upgrade=False)
    try:
        assert await database.versions() == []
        assert [m.version for m in await database.upgrade()] == [m.version for m in MIGRATIONS]
        assert await database.upgrade() == []
        assert max(await database.versions()) == LATEST
    finally:
        await database.close()


async def test_an_unwritable_sqlite_path_is_a_start_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match=r"storage.database: cannot open sqlite:///.*file/gateway.db"):
        await open_database(f"sqlite:///{blocker}/gateway.db")


async def test_an_unreachable_postgresql_is_one_line_with_the_password_masked() -> None:
    url = f"postgresql://mg:hunter2@127.0.0.1:{free_port()}/ledger"
    with pytest.raises(StorageError) as raised:
        await open_database(url)
    message = str(raised.value)
    assert message.startswith("storage.database: cannot connect to postgresql://mg:***@127.0.0.1:")
    assert "hunter2" not in message and "\n" not in message


async def test_a_missing_postgresql_database_is_named(postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/mg_no_such_database"
    with pytest.raises(StorageError, match="mg_no_such_database"):
        await open_database(url)


async def _open_many(url: str, count: int) -> list[Database]:
    return list(await asyncio.gather(*(open_database(url) for _ in range(count))))


async def test_instances_starting_together_migrate_once_on_postgresql() -> None:
    with postgres_database() as url:
        databases = await _open_many(url, 3)
        try:
            rows = await databases[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
            assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]
        finally:
            await asyncio.gather(*(d.close() for d in databases))


async def test_instances_starting_together_migrate_once_on_sqlite(tmp_path: Path) -> None:
    databases = await _open_many(f"sqlite:///{tmp_path / 'gateway.db'}", 3)
    try:
        assert await databases[2].versions() == [m.version for m in MIGRATIONS]
    finally:
        await asyncio.gather(*(d.close() for d in databases))
    with sqlite3.connect(tmp_path / "gateway.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone() == (len(MIGRATIONS),)


async def test_many_rows_go_in_one_transaction_all_or_none(database: Database) -> None:
    from model_gateway.storage.database import Conflict

    insert = "INSERT INTO projects (name, created_at) VALUES (?, ?)"
    await database.executemany(insert, [("a", 1.0), ("b", 2.0)])
    with pytest.raises(Conflict):
        await database.executemany(insert, [("c", 3.0), ("a", 4.0)])  # "a" exists: "c" is not kept
    assert await database.fetch("SELECT name FROM projects ORDER BY name") == [("a",), ("b",)]
