"""The database: API keys, projects and the usage ledger, on SQLite or PostgreSQL.

`storage.database` is a URL in SQLAlchemy's form:

    sqlite:///relative/path.db      relative to the working directory
    sqlite:////absolute/path.db
    sqlite:///:memory:              one process, gone when it stops (tests)
    postgresql://user:pass@host:port/db

SQLite runs in WAL mode on one connection owned by one worker thread, so a
write never blocks the event loop; the file and its folder are created on
first start. PostgreSQL goes through asyncpg's connection pool. Both speak the
same small interface (`execute`, `executemany`, `fetch`) with `?` placeholders,
and both are brought to the latest schema by `upgrade` (storage/migrations.py).

Every failure to open a database is a `StorageError` whose one-line message
names `storage.database` and the URL with its password masked.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import itertools
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit

from model_gateway.storage.migrations import MIGRATIONS, Migration
from model_gateway.storage.redis import masked

T = TypeVar("T")
Row = tuple[Any, ...]
Dialect = Literal["sqlite", "postgresql"]

CONNECT_TIMEOUT_S = 5.0
SQLITE_BUSY_TIMEOUT_MS = 5000  # several processes (`up --workers N`) share one SQLite file
POOL_SIZE = 4
# Any constant will do: every gateway takes this advisory lock while it migrates.
_MIGRATION_LOCK = 0x6D675F6D6967  # "mg_mig"
_EXPECTED = "sqlite:///relative.db, sqlite:////absolute.db or postgresql://user:pass@host:port/db"
_PLACEHOLDER = re.compile(r"\?")


class StorageError(Exception):
    """The database cannot be opened or used; the message is one line and shows no password."""


class Conflict(StorageError):
    """A row with the same unique name already exists."""


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    dialect: Dialect
    target: str  # the SQLite file (or ":memory:"), or the PostgreSQL DSN
    shown: str  # for messages: the URL with its password masked


def parse_database_url(url: str) -> DatabaseUrl:
    shown = masked(url)
    scheme, sep, rest = url.partition("://")
    driver = scheme.split("+", 1)[0].lower()  # postgresql+asyncpg:// is SQLAlchemy's spelling
    if sep and driver == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise StorageError(f"storage.database: '{shown}' is not a database URL (expected {_EXPECTED})")
        return DatabaseUrl("sqlite", unquote(rest[1:]), shown)
    if sep and driver in ("postgresql", "postgres"):
        try:
            parts = urlsplit(f"postgresql://{rest}")
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise StorageError(f"storage.database: '{shown}' is not a database URL ({exc})") from None
        if not parts.hostname and "host=" not in parts.query:
            raise StorageError(f"storage.database: '{shown}' names no host (expected {_EXPECTED})")
        return DatabaseUrl("postgresql", f"postgresql://{rest}", shown)
    raise StorageError(f"storage.database: '{shown}' is not a database URL (expected {_EXPECTED})")


class Database(abc.ABC):
    """The queries the gateway needs, with `?` placeholders, on either database."""

    dialect: Dialect
    shown: str

    @abc.abstractmethod
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""

    @abc.abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows, in one transaction: all or none."""

    @abc.abstractmethod
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    @abc.abstractmethod
    async def upgrade(self, migrations: Sequence[Migration] = MIGRATIONS) -> list[Migration]:
        """Apply the migrations not applied yet, under a lock other instances respect; those applied."""

    @abc.abstractmethod
    async def versions(self) -> list[int]:
        """The schema versions applied so far."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    def failed(self, what: str, exc: BaseException) -> StorageError:
        text = " ".join(str(exc).split()) or type(exc).__name__
        return StorageError(f"storage.database: {what} {self.shown}: {text}")


# --- SQLite ------------------------------------------------------------------------------------


class SqliteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(self, path: str, shown: str) -> None:
        self.path, self.shown = path, shown
        # One thread owns the one connection: statements run there, in order, off the event loop.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise sqlite3.ProgrammingError("the database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._with_connection, fn)

    def _with_connection(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = self._connect()
        return fn(self._conn)

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if self.path != ":memory:":
                _wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at each checkpoint, never corrupt
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    async def open(self) -> None:
        try:
            await self._run(lambda conn: conn.execute("SELECT 1").fetchall())
        except (OSError, sqlite3.Error) as exc:
            raise self.failed("cannot open", exc) from None

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        def run(conn: sqlite3.Connection) -> int:
            return conn.execute(sql, tuple(params)).rowcount

        return await self._guard(run)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            with _immediate(conn):
                conn.executemany(sql, rows)

        await self._guard(run)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        def run(conn: sqlite3.Connection) -> list[Row]:
            return [tuple(row) for row in conn.execute(sql, tuple(params)).fetchall()]

        return await self._guard(run)

    async def _guard(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self._run(fn)
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from None
        except (OSError, sqlite3.Error) as exc:
            raise self.failed("failed on", exc) from None

    async def upgrade(self, migrations: Sequence[Migration] = MIGRATIONS) -> list[Migration]:
        def run(conn: sqlite3.Connection) -> list[Migration]:
            # BEGIN IMMEDIATE takes the write lock: a second process waits, then finds the work done.
            with _immediate(conn):
                conn.execute(_MIGRATIONS_TABLE["sqlite"])
                done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
                applied = []
                for migration in migrations:
                    if migration.version in done:
                        continue
                    for statement in migration.sqlite:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        (migration.version, migration.name, time.time()),
                    )
                    applied.append(migration)
                return applied

        try:
            return await self._run(run)
        except (OSError, sqlite3.Error) as exc:
            raise self.failed("cannot migrate", exc) from None

    async def versions(self) -> list[int]:
        rows = await self.fetch(
            "SELECT version FROM schema_migrations ORDER BY version"
            if await self._has_migrations_table()
            else "SELECT 1 WHERE 0"
        )
        return [int(row[0]) for row in rows]

    async def _has_migrations_table(self) -> bool:
        rows = await self.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        )
        return bool(rows)

    async def close(self) -> None:
        def run() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, run)
        self._thread.shutdown(wait=True)


def _wal(conn: sqlite3.Connection) -> None:
    """WAL mode (kept in the file once set). Switching needs a moment alone with the file, and
    SQLite does not wait for it: processes starting together retry instead."""
    end = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > end:
                raise
            time.sleep(0.02)


@contextlib.contextmanager
def _immediate(conn: sqlite3.Connection) -> Any:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# --- PostgreSQL --------------------------------------------------------------------------------


def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's $1, $2, ... (no statement here has a literal `?`)."""
    counter = itertools.count(1)
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


class PostgresDatabase(Database):
    dialect: Dialect = "postgresql"

    def __init__(self, dsn: str, shown: str) -> None:
        self.dsn, self.shown = dsn, shown
        self._pool: Any = None
        self._sql: dict[str, str] = {}

    def _q(self, sql: str) -> str:
        numbered = self._sql.get(sql)
        if numbered is None:
            numbered = self._sql[sql] = _numbered(sql)
        return numbered

    async def open(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=POOL_SIZE,
                timeout=CONNECT_TIMEOUT_S,
                command_timeout=30,
                server_settings={"application_name": "model-gateway"},
            )
        except (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise self.failed("cannot connect to", _without_password(exc, self.dsn)) from None

    async def _guard(self, work: Callable[[Any], Any]) -> Any:
        import asyncpg

        try:
            async with self._pool.acquire() as conn:
                return await work(conn)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(str(exc)) from None
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise self.failed("failed on", _without_password(exc, self.dsn)) from None

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async def work(conn: Any) -> int:
            status: str = await conn.execute(self._q(sql), *params)
            count = status.rsplit(" ", 1)[-1]
            return int(count) if count.isdigit() else 0

        result: int = await self._guard(work)
        return result

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async def work(conn: Any) -> None:
            async with conn.transaction():
                await conn.executemany(self._q(sql), rows)

        await self._guard(work)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async def work(conn: Any) -> list[Row]:
            return [tuple(record) for record in await conn.fetch(self._q(sql), *params)]

        result: list[Row] = await self._guard(work)
        return result

    async def upgrade(self, migrations: Sequence[Migration] = MIGRATIONS) -> list[Migration]:
        async def work(conn: Any) -> list[Migration]:
            async with conn.transaction():
                # PostgreSQL's DDL is transactional: a migration applies whole or not at all.
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(_MIGRATIONS_TABLE["postgresql"])
                done = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
                applied = []
                for migration in migrations:
                    if migration.version in done:
                        continue
                    for statement in migration.postgresql:
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        time.time(),
                    )
                    applied.append(migration)
                return applied

        try:
            result: list[Migration] = await self._guard(work)
        except StorageError as exc:
            raise StorageError(str(exc).replace("failed on", "cannot migrate", 1)) from None
        return result

    async def versions(self) -> list[int]:
        rows = await self.fetch("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not rows[0][0]:
            return []
        return [int(r[0]) for r in await self.fetch("SELECT version FROM schema_migrations ORDER BY version")]

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=10)
            except TimeoutError:
                pool.terminate()


def _without_password(exc: BaseException, dsn: str) -> BaseException:
    password = urlsplit(dsn).password
    if password and password in str(exc):
        return StorageError(str(exc).replace(password, "***"))
    return exc


_MIGRATIONS_TABLE: dict[Dialect, str] = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)",
}


async def open_database(url: str, upgrade: bool = True) -> Database:
    """Connect (creating a SQLite file and its folder), then bring the schema up to date."""
    parsed = parse_database_url(url)
    database: SqliteDatabase | PostgresDatabase
    if parsed.dialect == "sqlite":
        database = SqliteDatabase(parsed.target, parsed.shown)
    else:
        database = PostgresDatabase(parsed.target, parsed.shown)
    await database.open()
    if upgrade:
        try:
            await database.upgrade()
        except BaseException:
            await database.close()
            raise
    return database


def placeholders(count: int) -> str:
    return ", ".join("?" * count)


def in_clause(values: Iterable[Any]) -> tuple[str, list[Any]]:
    items = list(values)
    return f"({placeholders(len(items))})", items
