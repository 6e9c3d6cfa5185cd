"""The PostgreSQL engine (asyncpg), for more than one process or machine.

A pool of connections serves the process. Writes take this process's writer lock (as with
SQLite: read-then-write logic in one process sees no interleaving writer of its own) and run
in a READ COMMITTED transaction on one pooled connection; other processes write at the same
time, and unique constraints, conditional updates (`… WHERE status = 'pending'`) and
`FOR UPDATE … SKIP LOCKED` on due rows decide between them. Reads run on other pooled
connections in autocommit, so they see committed data only; a read by the task holding the
open transaction goes to its connection and sees its own writes.

The shared SQL is rewritten here: `?` and `:name` placeholders become `$n`. Everything else
the repositories write is SQL both engines take. Versions live in `schema_migrations`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn

import asyncpg

from bot.config import redact_url
from bot.db.database import (
    BUSY_TIMEOUT,
    POSTGRESQL,
    SHARD_WAIT,
    Connection,
    Database,
    ForeignKey,
    IntegrityError,
    Migration,
    Params,
    Row,
)
from bot.domain.shards import Shards
from bot.errors import DatabaseUnavailableError, MigrationError, OperatorError

log = logging.getLogger(__name__)

VERSIONS_TABLE = "schema_migrations"
READERS = 4  # pooled connections for reads, besides the writer's
CONNECT_TIMEOUT = 5.0  # seconds to open a connection before the database counts as unavailable
COMMAND_TIMEOUT = 60.0  # seconds one statement may take before the database counts as unavailable
RETAKE_EVERY = 2.0  # seconds between attempts to take back shards whose session ended (the server restarting)
# The shard-holding connection never speaks, so a server gone without closing the socket (a host
# crash, a failover) would never be noticed: it is asked every so often, and whenever a pooled
# connection is found dead.
HOLDER_PING_EVERY = 30.0
HOLDER_PING_TIMEOUT = 5.0
# Server settings of every connection. A statement blocked by another process's lock gives up
# (a write transaction sets its own, shorter limit: what is left of its deadline), instead of
# hanging a command; a process that stalls inside a transaction does not hold its locks forever.
# Connections are read-only unless a write transaction says otherwise (BEGIN READ WRITE), so a
# statement that writes can never slip through the read side, as with SQLite's query_only reader.
SESSION_SETTINGS = {
    "application_name": "kindred",
    "default_transaction_read_only": "on",
    "lock_timeout": f"{int(BUSY_TIMEOUT * 1000)}ms",
    "idle_in_transaction_session_timeout": "60s",
    "timezone": "UTC",
}
# Migrations wait longer for locks (a running process's reads) than a command would.
MIGRATION_LOCK_TIMEOUT = "60s"
# Key of the advisory lock that makes processes starting together apply each migration once.
MIGRATION_LOCK = 0x4B696E64  # "Kind"
# Two-number advisory keys (class, n) of the processes' shards: the shard count every process
# holds shared, and each shard id held by the one process that runs it (see `hold_shards`).
SHARD_COUNT_LOCK, SHARD_LOCK = 0x4B53, 0x4B49  # "KS", "KI"

# Errors that mean "cannot be used right now" rather than a mistake in a statement: the
# connection or server is gone or refusing, out of resources, read-only, or a lock or
# transaction conflict that a retry a little later resolves.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError, TimeoutError,
    asyncpg.InterfaceError,                       # connection closed, pool closing
    asyncpg.InternalClientError,                  # a connection left mid-operation when the server went
    asyncpg.PostgresConnectionError,              # class 08
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: disk full, too many connections
    asyncpg.exceptions.OperatorInterventionError,   # class 57: shutdown, cannot connect now, canceled
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a standby, or default_transaction_read_only
    asyncpg.exceptions.LockNotAvailableError,       # lock_timeout
    asyncpg.exceptions.TransactionRollbackError,    # class 40: serialization failure, deadlock
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,  # wrong password or role
    asyncpg.exceptions.InvalidCatalogNameError,     # no such database
)


def _raise_mapped(exc: BaseException) -> NoReturn:
    """Raise the engine-neutral error for an asyncpg error (or the error itself: a mistake in a statement)."""
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        raise IntegrityError(str(exc)) from exc
    if isinstance(exc, _UNAVAILABLE):
        raise DatabaseUnavailableError(_describe(exc)) from exc
    raise exc


def _lost(exc: BaseException | None) -> bool:
    """Tell whether an error means the connection itself is gone (so another one may work)."""
    return isinstance(exc, asyncpg.ConnectionDoesNotExistError | asyncpg.InterfaceError | ConnectionError
                      | asyncpg.exceptions.AdminShutdownError | asyncpg.InternalClientError)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|::|\?|(?<![:\w]):([A-Za-z_]\w*)""")


@functools.lru_cache(maxsize=1024)
def postgres_sql(sql: str) -> tuple[str, tuple[str, ...] | None]:
    """Rewrite `?` or `:name` placeholders to `$n`; return the SQL and the names in `$n` order (None for `?`).

    Quoted strings, quoted names, comments and `::` casts are left alone.
    """
    positional = 0
    names: list[str] = []

    def replace(match: re.Match[str]) -> str:
        nonlocal positional
        found = match.group(0)
        if found == "?":
            positional += 1
            return f"${positional}"
        name = match.group(1)
        if name is None:
            return found  # a literal, a quoted name, a comment or a cast
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    text = _TOKEN.sub(replace, sql)
    if positional and names:
        raise ValueError("a statement uses either ? or :name placeholders, not both")
    return text, (tuple(names) if names else None)


def _args(names: tuple[str, ...] | None, params: Params) -> Sequence[Any]:
    if names is None:
        if isinstance(params, dict):
            raise TypeError("named parameters given to a statement with ? placeholders")
        return params
    if not isinstance(params, dict):
        raise TypeError("a statement with :name placeholders takes a dict of parameters")
    return [params[name] for name in names]


def _rowcount(status: str) -> int:
    """Return the row count in a command status ("UPDATE 3", "INSERT 0 1", "SELECT 2")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresConnection(Connection):
    """One pooled asyncpg connection, speaking the shared SQL."""

    dialect = POSTGRESQL

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.raw = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        text, names = postgres_sql(sql)
        try:
            return _rowcount(await self.raw.execute(text, *_args(names, params)))
        except (asyncpg.PostgresError, *_UNAVAILABLE) as exc:
            _raise_mapped(exc)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows, pipelined."""
        text, names = postgres_sql(sql)
        if names is not None:
            raise TypeError("executemany takes ? placeholders")
        try:
            await self.raw.executemany(text, list(rows))
        except (asyncpg.PostgresError, *_UNAVAILABLE) as exc:
            _raise_mapped(exc)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a query (or a statement with RETURNING) and return all rows."""
        text, names = postgres_sql(sql)
        try:
            return list(await self.raw.fetch(text, *_args(names, params)))
        except (asyncpg.PostgresError, *_UNAVAILABLE) as exc:
            _raise_mapped(exc)

    @asynccontextmanager
    async def may_fail(self) -> AsyncIterator[None]:
        """Run the statement in a savepoint, so that its failure leaves the transaction usable."""
        await self.execute("SAVEPOINT kindred_may_fail")
        try:
            yield
        except BaseException:
            try:
                await self.raw.execute("ROLLBACK TO SAVEPOINT kindred_may_fail")
            except (asyncpg.PostgresError, *_UNAVAILABLE):
                pass  # the connection is gone: the outer transaction fails on its own
            raise
        await self.execute("RELEASE SAVEPOINT kindred_may_fail")


class PostgresDatabase(Database):
    """A PostgreSQL database shared by this and possibly other processes."""

    dialect = POSTGRESQL

    def __init__(self, url: str, *, busy_timeout: float = BUSY_TIMEOUT, readers: int = READERS,
                 read_only: bool = False, shards: Shards | None = None) -> None:
        super().__init__(busy_timeout=busy_timeout, read_only=read_only, shards=shards)
        self.url = url
        self.readers = readers
        self._pool: asyncpg.Pool | None = None
        self._shard_holder: asyncpg.Connection | None = None
        self._take_back: asyncio.Task[None] | None = None  # after the holder's session ended
        self._holder_pings: asyncio.Task[None] | None = None
        self._holder_check = asyncio.Lock()  # one query at a time on the holder

    @property
    def is_open(self) -> bool:
        """Whether the pool is open."""
        return self._pool is not None

    @property
    def location(self) -> str:
        """The URL without its password."""
        return redact_url(self.url)

    @property
    def pool(self) -> asyncpg.Pool:
        """The open connection pool."""
        if self._pool is None:
            raise DatabaseUnavailableError("database is not open")
        return self._pool

    async def open(self) -> None:
        """Open the pool (one connection at once, more as reads need them)."""
        if self._pool is not None:
            return
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=1 + self.readers, timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT, server_settings=SESSION_SETTINGS,
                # Nothing here changes a session's settings, so a returned connection needs no
                # reset query (one more round trip per read); an open transaction is still rolled back.
                reset=_keep_session,
            )
        except (asyncpg.PostgresError, ValueError, *_UNAVAILABLE) as exc:
            raise DatabaseUnavailableError(_describe(exc)) from exc

    async def close(self, grace: float = 0.0) -> None:
        """Close the pool, first giving a transaction in flight up to `grace` seconds to end."""
        self._stop_shard_tasks()
        holder, self._shard_holder = self._shard_holder, None
        if holder is not None:
            holder.terminate()  # its session ends, and the shards with it
        if self._pool is None:
            return
        await self._wait_for_writer(grace)
        pool, self._pool = self._pool, None
        try:
            # Waits for lent connections to come back; one that never does must not hang shutdown.
            await asyncio.wait_for(pool.close(), timeout=max(grace, CONNECT_TIMEOUT))
        except (TimeoutError, asyncpg.PostgresError, *_UNAVAILABLE):
            pool.terminate()

    async def _acquire(self, wait: float) -> asyncpg.Connection:
        """Take a pooled connection (unavailable if none can be had within `wait` seconds)."""
        try:
            return await self.pool.acquire(timeout=max(wait, 0.001))
        except (asyncpg.PostgresError, *_UNAVAILABLE) as exc:
            raise DatabaseUnavailableError(_describe(exc)) from exc

    async def _release(self, raw: asyncpg.Connection) -> None:
        try:
            await self.pool.release(raw, timeout=CONNECT_TIMEOUT)
        except Exception:  # noqa: BLE001 - whatever state it is in, it must not stay lent out
            _terminate(raw)
            log.info("a database connection was dropped on its return to the pool")

    @asynccontextmanager
    async def _connection(self, wait: float) -> AsyncIterator[asyncpg.Connection]:
        """Lend a pooled connection (unavailable if none can be had within `wait` seconds)."""
        raw = await self._acquire(wait)
        try:
            yield raw
        finally:
            await self._release(raw)

    # -- reads --------------------------------------------------------------------------

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a query and return all rows (autocommit: committed data only)."""
        own = self._own_transaction()
        if own is not None:  # inside its own transaction: see its writes
            return await own.fetch_all(sql, params)
        for attempt in (1, 2):
            try:
                async with self._connection(self.busy_timeout) as raw:
                    return await PostgresConnection(raw).fetch_all(sql, params)
            except DatabaseUnavailableError as exc:
                # A pooled connection the server ended (a restart, a failover) is found out
                # by using it; a read can simply be asked again, on a new connection.
                if attempt == 2 or not _lost(exc.__cause__):
                    raise
                await self._expire_idle()
        raise AssertionError("unreachable")

    # -- jobs of the whole bot ------------------------------------------------------------

    @asynccontextmanager
    async def only_one_process(self, job: str) -> AsyncIterator[bool]:
        """Hold a session advisory lock named after `job` on a pooled connection for the block.

        Not waited for: a process that finds it held skips the job this time. A process that
        dies holding it loses its connection, and PostgreSQL releases the lock with it, so the
        next run in another process (or its restart) does the job.
        """
        key = advisory_key(job)
        async with self._connection(self.busy_timeout) as raw:
            try:
                held = bool(await raw.fetchval("SELECT pg_try_advisory_lock($1)", key))
            except (asyncpg.PostgresError, *_UNAVAILABLE) as exc:
                raise DatabaseUnavailableError(_describe(exc)) from exc
            if not held:
                yield False
                return
            try:
                yield True
            finally:
                try:
                    await raw.execute("SELECT pg_advisory_unlock($1)", key)
                except (asyncpg.PostgresError, *_UNAVAILABLE):
                    # A connection that may still hold the lock must not go back to the pool.
                    _terminate(raw)

    async def hold_shards(self, wait: float = 0.0) -> None:
        """Hold this process's shards on a connection of their own, released when the process ends.

        Every process holds its shard count shared, so processes that split the bot differently
        are found out, and each of its shards alone (a bot without shards is shard 0 of 1).
        """
        if self._shard_holder is not None:
            return
        shards = self.configured_shards or Shards(1, frozenset({0}))
        try:
            holder = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT,
                                           server_settings=SESSION_SETTINGS)
        except (asyncpg.PostgresError, ValueError, *_UNAVAILABLE) as exc:
            raise DatabaseUnavailableError(_describe(exc)) from exc
        try:
            await self._take_shards(holder, shards, wait)
        except (asyncpg.PostgresError, *_UNAVAILABLE) as exc:  # the new session ended too
            holder.terminate()
            raise DatabaseUnavailableError(_describe(exc)) from exc
        except BaseException:
            holder.terminate()
            raise
        self._shard_holder = holder
        holder.add_termination_listener(self._holder_ended)
        if self._holder_pings is None:
            self._holder_pings = asyncio.get_running_loop().create_task(self._ping_holder(), name="kindred-shard-ping")

    async def _ping_holder(self) -> None:
        while True:
            await asyncio.sleep(HOLDER_PING_EVERY)
            await self._check_holder()

    async def _check_holder(self) -> None:
        """End the shard-holding connection if its server no longer answers (its locks are gone with it)."""
        holder = self._shard_holder
        if holder is None or self._holder_check.locked():
            return
        async with self._holder_check:
            try:
                await asyncio.wait_for(holder.fetchval("SELECT 1"), HOLDER_PING_TIMEOUT)
            except (asyncpg.PostgresError, *_UNAVAILABLE):
                holder.terminate()  # `_holder_ended` takes the shards back

    def _holder_ended(self, holder: asyncpg.Connection) -> None:
        # The session holding the shards ended without us (PostgreSQL restarted, or the session
        # was killed): its locks went with it, and a second process for these shards would now
        # be let in. Take them back; closing clears `_shard_holder` first, so it is not this.
        if holder is not self._shard_holder:
            return
        self._shard_holder = None
        log.warning("the database session holding this process's shards ended; taking them back")
        self._take_back = asyncio.get_running_loop().create_task(self._take_shards_back(), name="kindred-shards")

    async def _take_shards_back(self) -> None:
        while self._pool is not None:
            try:
                await self.hold_shards(wait=SHARD_WAIT)
            except DatabaseUnavailableError:
                await asyncio.sleep(RETAKE_EVERY)  # the server is still coming back
                continue
            except OperatorError as exc:
                log.error("%s", exc)
                if self.on_shards_lost is not None:
                    self.on_shards_lost(exc)
                return
            log.info("holding this process's shards again")
            return

    def _stop_shard_tasks(self) -> None:
        tasks = (self._take_back, self._holder_pings)
        self._take_back = self._holder_pings = None
        for task in tasks:
            if task is not None and task is not asyncio.current_task():
                task.cancel()

    @staticmethod
    async def _take_shards(holder: asyncpg.Connection, shards: Shards, wait: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        await holder.execute("SELECT pg_advisory_lock_shared($1, $2)", SHARD_COUNT_LOCK, shards.count)
        counts = await holder.fetch(
            "SELECT DISTINCT objid::int8 AS n FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2"
            " AND classid = $1 AND objid <> $2::int8::oid"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            SHARD_COUNT_LOCK, shards.count)
        if counts:
            raise OperatorError(
                f"another Kindred process on this database runs with KINDRED_SHARD_COUNT={counts[0]['n']}, this one "
                f"with KINDRED_SHARD_COUNT={shards.count}: every process of a bot needs the same count "
                "(unset means one process with every shard).")
        waiting = sorted(shards.ids)
        while True:
            waiting = [shard for shard in waiting
                       if not await holder.fetchval("SELECT pg_try_advisory_lock($1, $2)", SHARD_LOCK, shard)]
            if not waiting or loop.time() >= deadline:
                break
            await asyncio.sleep(0.2)  # a killed process's session ends within moments
        if waiting:
            taken = ", ".join(str(shard) for shard in waiting)
            raise OperatorError(
                f"shard {taken} of {shards.count} is already run by another Kindred process on this database: "
                "give every shard to exactly one process (KINDRED_SHARD_IDS).")

    def terminate(self) -> None:
        """Drop every connection at once, as the server sees a killed process's go."""
        self._stop_shard_tasks()
        holder, self._shard_holder = self._shard_holder, None
        if holder is not None:
            holder.terminate()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()

    # -- writes -------------------------------------------------------------------------

    @asynccontextmanager
    async def _begin(self, deadline: float) -> AsyncIterator[Connection]:
        """BEGIN … COMMIT on one pooled connection (rollback on error)."""
        raw = await self._begun(deadline)
        try:
            try:
                yield PostgresConnection(raw)
            except BaseException:
                await _rollback_quietly(raw)
                raise
            try:
                await raw.execute("COMMIT")
            except (asyncpg.PostgresError, *_UNAVAILABLE) as exc:
                await _rollback_quietly(raw)
                raise DatabaseUnavailableError(_describe(exc)) from exc
        finally:
            await self._release(raw)

    async def _begun(self, deadline: float) -> asyncpg.Connection:
        """Lend a connection with a write transaction begun on it (on a second one if the first was dead)."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            raw = await self._acquire(deadline - loop.time())
            # Waiting for another process's row or table lock counts against the same deadline
            # as waiting for this process's writer lock did (as SQLite's BEGIN IMMEDIATE does):
            # a command queued behind others still hears back in time. One round trip for both.
            wait_ms = max(1, int((deadline - loop.time()) * 1000))
            try:
                await raw.execute(f"BEGIN READ WRITE; SET LOCAL lock_timeout = {wait_ms}")
                return raw
            except (asyncpg.PostgresError, *_UNAVAILABLE) as exc:
                await self._release(raw)
                if attempt == 2 or not _lost(exc):
                    _raise_mapped(exc)
                await self._expire_idle()
        raise AssertionError("unreachable")

    async def _expire_idle(self) -> None:
        """After one dead connection, replace the others too: a server restart ended them all."""
        log.warning("a database connection was lost; reconnecting")
        await self.pool.expire_connections()
        await self._check_holder()  # the server that ended it may have ended the shards' session too

    # -- schema -------------------------------------------------------------------------

    async def schema_version(self) -> int:
        """Return the newest version recorded in `schema_migrations` (0 before the first migration)."""
        if await self.fetch_value("SELECT to_regclass(?)", (VERSIONS_TABLE,)) is None:
            return 0
        return int(await self.fetch_value(f"SELECT coalesce(max(version), 0) FROM {VERSIONS_TABLE}"))  # noqa: S608 - a constant

    async def _apply(self, migration: Migration) -> bool:
        # Processes starting together take turns: the advisory lock is held to the end of the
        # transaction, and the version is read again under it.
        async with self.session() as raw:
            try:
                async with write_transaction(raw):
                    await raw.execute(f"SET LOCAL lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'")
                    await raw.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                    return await apply_in(raw, migration)
            except _UNAVAILABLE as exc:
                raise DatabaseUnavailableError(_describe(exc)) from exc
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc

    @asynccontextmanager
    async def session(self) -> AsyncIterator[asyncpg.Connection]:
        """Lend a pooled connection for maintenance (migrations, conversion), outside the writer lock."""
        async with self._connection(CONNECT_TIMEOUT) as raw:
            yield raw

    async def tables(self) -> list[str]:
        """Return every application table in the current schema."""
        rows = await self.fetch_all(
            "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() AND c.relname != ? ORDER BY 1",
            (VERSIONS_TABLE,))
        return [r["name"] for r in rows]

    async def columns(self, table: str) -> list[str]:
        """Return a table's column names in order."""
        rows = await self.fetch_all(
            "SELECT attname AS name FROM pg_attribute WHERE attrelid = to_regclass(quote_ident(?)) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (table,))
        return [r["name"] for r in rows]

    async def primary_key(self, table: str) -> list[str]:
        """Return a table's primary key columns in order."""
        rows = await self.fetch_all(
            "SELECT a.attname AS name FROM pg_constraint c "
            "CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k (attnum, position) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
            "WHERE c.conrelid = to_regclass(quote_ident(?)) AND c.contype = 'p' ORDER BY k.position", (table,))
        return [r["name"] for r in rows]

    async def foreign_keys(self, table: str) -> list[ForeignKey]:
        """Return the foreign keys of a table (one column each, as the schema has them)."""
        rows = await self.fetch_all(
            "SELECT a.attname AS column_name, p.relname AS parent, pa.attname AS parent_column, "
            "CAST(c.confdeltype AS TEXT) AS on_delete FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "JOIN pg_class p ON p.oid = c.confrelid "
            "JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1] "
            "WHERE c.conrelid = to_regclass(quote_ident(?)) AND c.contype = 'f' ORDER BY c.conname", (table,))
        actions = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
        return [ForeignKey(table, r["column_name"], r["parent"], r["parent_column"], actions[r["on_delete"]])
                for r in rows]

    # -- maintenance --------------------------------------------------------------------

    async def checkpoint(self) -> bool:
        """Nothing to fold: PostgreSQL's autovacuum reclaims deleted rows' space."""
        return True


async def apply_in(raw: asyncpg.Connection, migration: Migration) -> bool:
    """Apply a migration inside the caller's transaction and record it; False if it was recorded already."""
    await raw.execute(
        f"CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    if await raw.fetchval(f"SELECT 1 FROM {VERSIONS_TABLE} WHERE version = $1", migration.version):  # noqa: S608 - a constant
        return False
    await raw.execute(migration.sql)
    await raw.execute(
        f"INSERT INTO {VERSIONS_TABLE} (version, name, applied_at) VALUES ($1, $2, $3)",  # noqa: S608 - a constant
        migration.version, migration.name, datetime.now(UTC).isoformat(timespec="seconds"))
    return True


@asynccontextmanager
async def write_transaction(raw: asyncpg.Connection) -> AsyncIterator[None]:
    """BEGIN READ WRITE … COMMIT on a lent connection (rolled back on error); connections are read-only otherwise."""
    await raw.execute("BEGIN READ WRITE")
    try:
        yield
    except BaseException:
        await _rollback_quietly(raw)
        raise
    await raw.execute("COMMIT")


async def _keep_session(raw: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is (asyncpg has rolled back any transaction left open)."""


async def _rollback_quietly(raw: asyncpg.Connection) -> None:
    try:
        await raw.execute("ROLLBACK")
    except Exception:  # noqa: BLE001 - the error that led here is the one to report
        _terminate(raw)  # in no state to be used again: the pool replaces it


def advisory_key(job: str) -> int:
    """Return the 64-bit advisory lock key of a job (stable across processes and versions)."""
    return int.from_bytes(hashlib.sha256(f"kindred:{job}".encode()).digest()[:8], "big", signed=True)


def _terminate(raw: asyncpg.Connection) -> None:
    """Close a connection at once (one the server ended is already back in the pool's hands)."""
    with contextlib.suppress(Exception):
        raw.terminate()
