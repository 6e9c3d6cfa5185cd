"""One `Database` interface, two engines: SQLite (the embedded default) and PostgreSQL.

Repositories are written once, against `Connection`: SQL with `?` (or `:name`) placeholders
and the SQL both engines share. What differs stays in the engine modules, `bot/db/sqlite.py`
and `bot/db/postgres.py`: placeholders, locking clauses, error types, schema introspection,
how versions are stored. Services never learn which engine runs; `database_for(config)`
picks it (`KINDRED_DATABASE_URL=postgresql://…` selects PostgreSQL).

Both engines keep the same discipline:

* Writes happen inside `transaction()`, one at a time per process (an asyncio lock), so
  read-then-write logic sees no interleaving writer of its own process; across processes
  (PostgreSQL, several shard processes) unique constraints, conditional updates and
  `FOR UPDATE … SKIP LOCKED` on due rows decide races.
* Reads (`fetch_*`) use other connections that see committed data only, so a read never
  sees another coroutine's transaction half-done. A read made by the task holding the open
  transaction goes to that transaction's connection instead and sees its own writes.
* A constraint violation raises `IntegrityError` and "cannot be used right now" (locked,
  gone, read-only, full) raises `DatabaseUnavailableError`, whatever the engine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from bot.db.plans import Plan, run_async
from bot.domain.localtime import from_utc_text
from bot.domain.shards import Shards
from bot.errors import DatabaseUnavailableError, MigrationError, OperatorError

if TYPE_CHECKING:
    from bot.config import Config

T = TypeVar("T")
log = logging.getLogger(__name__)

# How long a write waits in all for the writer lock (this process's, then the engine's)
# before giving up. Discord drops an interaction not answered within 3 seconds, and a member
# should hear "try again in a few minutes" rather than nothing.
BUSY_TIMEOUT = 1.5  # seconds
SHARD_WAIT = 10.0  # seconds `run` waits for a shard its killed predecessor's session still holds

SQLITE, POSTGRESQL = "sqlite", "postgresql"
DIALECTS = (SQLITE, POSTGRESQL)
# `0001_initial.sql` is SQLite's; `0001_initial.postgresql.sql` the same version for PostgreSQL.
_MIGRATION_NAME = re.compile(r"(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<dialect>postgresql))?\.sql")

Params = Sequence[Any] | dict[str, Any]


class IntegrityError(Exception):
    """A statement broke a constraint (unique, foreign key, check, not null), on either engine."""


class Row(Protocol):
    """A result row: by column name or position (`sqlite3.Row`, `asyncpg.Record`)."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A column of `table` referencing `parent(parent_column)`."""

    table: str
    column: str
    parent: str
    parent_column: str
    on_delete: str


def bundled_migrations(dialect: str = SQLITE) -> list[Migration]:
    """Return the migrations shipped in `bot/db/migrations` for one engine, in order."""
    if dialect not in DIALECTS:
        raise ValueError(dialect)
    found = []
    for entry in resources.files("bot.db.migrations").iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match and (match["dialect"] or SQLITE) == dialect:
            found.append(Migration(int(match["version"]), match["name"], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"{dialect} migration numbers must run 1..N without gaps, found {versions}")
    return found


def id_list(dialect: str, values: Iterable[int]) -> tuple[str, Any]:
    """Return a subquery yielding these integers as `value`, and its one parameter.

    For long lists (every server the bot is in): one parameter instead of one per value.
    """
    if dialect == SQLITE:
        return "SELECT value FROM json_each(?)", json.dumps(list(values))
    return "SELECT unnest(CAST(? AS BIGINT[])) AS value", list(values)


class _Reads(ABC):
    """Queries, answered as rows, a row or a value."""

    # The shards this process runs when it runs only some of them (None: every server is its).
    shards: Shards | None = None

    def mine(self, column: str) -> str:
        """Return `AND <condition>` keeping rows of this process's shards' servers (`column`), or "".

        Scheduled work is filtered in the due-row query itself, so a process reads (and locks)
        only its own servers' due rows, and the cost follows those rows on either engine.
        """
        return "" if self.shards is None else f" AND {self.shards.sql(column)}"

    @abstractmethod
    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a query (or a statement with RETURNING) and return all rows."""

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """Run a query and return its first row."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        """Run a query and return the first column of its first row (or None)."""
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]


class Connection(_Reads):
    """A connection inside a transaction: the statements repositories write once for both engines."""

    dialect: ClassVar[str]

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows (in one round trip where the engine can)."""

    @abstractmethod
    def may_fail(self) -> AbstractAsyncContextManager[None]:
        """Let ONE statement fail with `IntegrityError` and the transaction go on.

        SQLite undoes just the failed statement by itself; PostgreSQL would abort the whole
        transaction, so there the statement runs in a savepoint.
        """

    def ids(self, values: Iterable[int]) -> tuple[str, Any]:
        """Return a subquery of these integers and its parameter (see `id_list`)."""
        return id_list(self.dialect, values)


class Database(_Reads):
    """The process's database: one writer at a time, reads on connections that see committed data."""

    dialect: ClassVar[str]

    def __init__(self, *, busy_timeout: float = BUSY_TIMEOUT, read_only: bool = False,
                 shards: Shards | None = None) -> None:
        self.busy_timeout = busy_timeout
        self.configured_shards = shards  # what this process runs (None: the whole bot, one connection)
        self.shards = None if shards is None or shards.complete else shards  # filters: only a strict subset
        # For processes that only look (`status`, beside a running bot): nothing is created,
        # nothing written (`transaction()` refuses), and closing changes nothing.
        self.read_only = read_only
        self._write_lock = asyncio.Lock()
        # The task inside `transaction()` and its connection: its reads must see its own writes.
        self._writing_task: asyncio.Task[Any] | None = None
        self._writing_conn: Connection | None = None
        # Told when this process's shards were lost and another process runs them now (only
        # PostgreSQL holds shards): the process must stop, or both would answer the same members.
        self.on_shards_lost: Callable[[OperatorError], None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    @abstractmethod
    def is_open(self) -> bool:
        """Whether the connections are open."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the database is, for messages (a path, or a URL without its password)."""

    @abstractmethod
    async def open(self) -> None:
        """Open the connections (DatabaseUnavailableError if the database cannot be reached)."""

    @abstractmethod
    async def close(self, grace: float = 0.0) -> None:
        """Close, first giving a transaction in flight up to `grace` seconds to end."""

    async def _wait_for_writer(self, grace: float) -> None:
        if grace <= 0:
            return
        try:
            async with asyncio.timeout(grace):
                await self._write_lock.acquire()
            self._write_lock.release()
        except TimeoutError:
            log.warning("closing the database under a transaction still running after %.0f s", grace)

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- reads --------------------------------------------------------------------------

    def _own_transaction(self) -> Connection | None:
        """The open transaction's connection if the current task holds it."""
        if self._writing_task is not None and self._writing_task is asyncio.current_task():
            return self._writing_conn
        return None

    # `fetch_all` sees committed data, or the caller's own transaction (engines implement it).

    async def fetch_instant(self, sql: str, params: Params = ()) -> datetime | None:
        """Run a query whose first value is a stored UTC instant (or NULL) and return it."""
        value = await self.fetch_value(sql, params)
        return None if value is None else from_utc_text(value)

    def ids(self, values: Iterable[int]) -> tuple[str, Any]:
        """Return a subquery of these integers and its parameter (see `id_list`)."""
        return id_list(self.dialect, values)

    # -- jobs of the whole bot ------------------------------------------------------------

    @asynccontextmanager
    async def only_one_process(self, job: str) -> AsyncIterator[bool]:
        """Tell whether this process runs `job` now: of the processes sharing the database, one at a time does.

        Held until the block ends. For work that is the whole bot's rather than a shard's
        (retention): run twice at once, it would do the same deletes twice over. One process
        per SQLite file, so there it always runs; PostgreSQL overrides this.
        """
        yield True

    async def hold_shards(self, wait: float = 0.0) -> None:
        """Hold this process's shards for as long as it runs: refuse (OperatorError) what another process runs.

        Two processes running one shard would both answer its members' commands. One process
        per SQLite file, so there it always succeeds; PostgreSQL overrides this. A shard still
        held is asked again for up to `wait` seconds (the session of a process just killed
        takes the server a moment to end).
        """

    # -- writes -------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Hold this process's writer lock inside a transaction: commit at the end, roll back on error.

        Taking the lock gives up after `busy_timeout` in all, counting the wait behind this
        process's other writes and the engine's own wait (another process holding the SQLite
        file), so writes queued behind one another while the database is stuck each fail in time.
        """
        deadline = await self._take_write_lock()
        try:
            async with self._begin(deadline) as conn:
                conn.shards = self.shards
                self._writing_task, self._writing_conn = asyncio.current_task(), conn
                try:
                    yield conn
                finally:
                    self._writing_task = self._writing_conn = None
        finally:
            self._write_lock.release()

    async def _take_write_lock(self) -> float:
        """Take this process's writer lock within `busy_timeout`; return the write's deadline (loop time)."""
        if self.read_only:
            raise DatabaseUnavailableError("the database was opened read-only")
        deadline = asyncio.get_running_loop().time() + self.busy_timeout
        try:
            async with asyncio.timeout_at(deadline):
                await self._write_lock.acquire()
        except TimeoutError:
            raise DatabaseUnavailableError("timed out waiting for the writer lock") from None
        return deadline

    async def run_plan(self, plan: Plan[T]) -> T:
        """Run a plan (`bot.db.plans`) as one transaction, with the same guarantees as `transaction()`.

        Committed before this returns, rolled back if any statement fails. Engines may run it
        in fewer round trips (SQLite: one trip to its database thread).
        """
        async with self.transaction() as conn:
            return await run_async(conn, plan)

    @abstractmethod
    def _begin(self, deadline: float) -> AbstractAsyncContextManager[Connection]:
        """Open a write transaction (waiting for the engine's lock until `deadline`), commit or roll back."""

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction; return the changed row count."""
        async with self.transaction() as conn:
            return await conn.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows in a single transaction."""
        async with self.transaction() as conn:
            await conn.executemany(sql, rows)

    # -- schema -------------------------------------------------------------------------

    @abstractmethod
    async def schema_version(self) -> int:
        """Return the number of the last migration applied (0 for an empty database)."""

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> int:
        """Apply pending migrations, each in its own transaction; return the new version."""
        migrations = bundled_migrations(self.dialect) if migrations is None else list(migrations)
        current = await self.schema_version()
        latest = migrations[-1].version if migrations else 0
        if current > latest:
            raise MigrationError(
                f"database schema is version {current}, newer than this Kindred ({latest}); "
                "upgrade Kindred or restore a matching backup"
            )
        for migration in migrations:
            if migration.version <= current:
                continue
            if self.read_only:
                raise MigrationError(f"database schema is version {current}, not {latest}, and it was opened read-only")
            async with self._write_lock:
                applied = await self._apply(migration)
            if applied:
                log.info("applied migration %04d_%s", migration.version, migration.name)
            current = migration.version
        return current

    @abstractmethod
    async def _apply(self, migration: Migration) -> bool:
        """Apply one migration in its own transaction (MigrationError, rolled back, on failure).

        Returns False if another process applied it first.
        """

    @abstractmethod
    async def tables(self) -> list[str]:
        """Return every application table (not the engine's own bookkeeping), by name."""

    @abstractmethod
    async def columns(self, table: str) -> list[str]:
        """Return a table's column names in order."""

    @abstractmethod
    async def primary_key(self, table: str) -> list[str]:
        """Return a table's primary key columns in order."""

    @abstractmethod
    async def foreign_keys(self, table: str) -> list[ForeignKey]:
        """Return the foreign keys of a table."""

    # -- maintenance --------------------------------------------------------------------

    @abstractmethod
    async def checkpoint(self) -> bool:
        """Take deleted values off the disk where the engine lets us; False if it could not finish."""

    async def release_memory(self) -> None:
        """Hand back what the engine caches in this process and can read again (the bot does it once a minute)."""


def database_for(config: Config, *, busy_timeout: float = BUSY_TIMEOUT, read_only: bool = False) -> Database:
    """Return the configured database, not yet open: PostgreSQL with a URL, else the SQLite file."""
    if config.database_url:
        from bot.db.postgres import PostgresDatabase

        return PostgresDatabase(config.database_url, busy_timeout=busy_timeout, read_only=read_only,
                                shards=config.shards)
    from bot.db.sqlite import SqliteDatabase

    return SqliteDatabase(config.database_path, busy_timeout=busy_timeout, read_only=read_only,
                          shards=config.shards)


def quote_ident(name: str) -> str:
    """Quote a table or column name taken from the schema (refusing anything unexpected)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected identifier {name!r}")
    return f'"{name}"'
