"""The SQLite engine (the embedded default): pragmas, one writer, explicit transactions, backup.

Two aiosqlite connections serve the whole process: one writer and one reader. Writes go
through `transaction()`, which holds an asyncio lock and opens `BEGIN IMMEDIATE` on the
writer, so read-then-write logic sees no interleaving writer and a unique constraint, not
luck, decides races. Reads (`fetch_*`) go to the reader, which in WAL mode sees only
committed data: a read never sees another coroutine's transaction half-done (a sweep's
queued message that then rolls back, say). A read made by the task that holds the open
transaction goes to the writer instead, so it sees that transaction's own writes. Both
connections run in autocommit mode (`isolation_level=None`) so nothing commits implicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, NoReturn, TypeVar

import aiosqlite

from bot.db.database import (
    BUSY_TIMEOUT,
    SQLITE,
    Connection,
    Database,
    ForeignKey,
    IntegrityError,
    Migration,
    Params,
    Row,
    quote_ident,
)
from bot.db.plans import Plan, run_with
from bot.domain.shards import Shards
from bot.errors import DatabaseUnavailableError, MigrationError

T = TypeVar("T")
log = logging.getLogger(__name__)

# SQLite's own busy wait is kept short: it blocks the connection's one thread, and so every
# read queued behind it. Longer waits for another process's lock happen in `transaction()`,
# between attempts, where reads (and `/crisis`) carry on.
PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA secure_delete = ON",
    "PRAGMA busy_timeout = 50",
)
# Page caches, KiB (SQLite's default is 2,000 per connection, and a bot running for days fills
# both). Reads and writes are indexed; a page a connection misses comes from the OS's file
# cache in microseconds, a check-in's commit waits milliseconds for its fsync, and a full
# cache stays resident: 1 MiB less after the memory bench's day (bench/README.md, "Memory").
WRITE_CACHE_KIB = 1024
READ_CACHE_KIB = 512
READ_ONLY_PRAGMAS = ("PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 50")  # nothing that writes
_BUSY_RETRY = 0.05  # seconds between attempts to take SQLite's lock
MAX_GROUP = 64  # plans committed together at most (bounds how long one transaction holds the writer)
# The database holds notes, moods and plans: its files (SQLite gives the -wal and -shm
# files the main file's mode) and backups are the owner's alone, whatever the umask.
FILE_MODE = 0o600
FOLDER_MODE = 0o700
# SQLite result codes that mean "cannot be used right now" (locked, read-only, I/O, full),
# as opposed to a mistake in a statement.
_UNAVAILABLE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY,
                                sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN})
# The shared SQL's clauses SQLite does without. Row locks: a write transaction already holds
# the whole file (BEGIN IMMEDIATE). `IS NOT DISTINCT FROM` is SQLite's `IS` (older SQLite lacks the long form).
_ROW_LOCK = re.compile(r"\s+FOR\s+UPDATE(?:\s+OF\s+\w+(?:\s*,\s*\w+)*)?(?:\s+SKIP\s+LOCKED|\s+NOWAIT)?", re.IGNORECASE)
_NOT_DISTINCT = re.compile(r"\bIS\s+NOT\s+DISTINCT\s+FROM\b", re.IGNORECASE)
_DISTINCT = re.compile(r"\bIS\s+DISTINCT\s+FROM\b", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def sqlite_sql(sql: str) -> str:
    """Return the shared SQL as SQLite takes it."""
    sql = _ROW_LOCK.sub("", sql)
    sql = _NOT_DISTINCT.sub("IS", sql)
    return _DISTINCT.sub("IS NOT", sql)


def _unavailable(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # absent on errors not raised by SQLite itself
    return code is not None and code & 0xFF in _UNAVAILABLE_CODES


def _raise_mapped(exc: sqlite3.Error) -> NoReturn:
    """Raise the engine-neutral error for a SQLite error (or the error itself: a mistake in a statement)."""
    if isinstance(exc, sqlite3.IntegrityError):
        raise IntegrityError(str(exc)) from exc
    if _unavailable(exc):
        raise DatabaseUnavailableError(str(exc)) from exc
    raise exc


class SqliteConnection(Connection):
    """The writer (or reader) connection, speaking the shared SQL."""

    dialect = SQLITE

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.raw = conn

    # Statements are fetched whole in one round trip to the database thread: a cursor's
    # execute, fetch and close would be three, and every command waits for each in turn.

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        try:
            cursor = await self.raw.execute(sqlite_sql(sql), params)
        except sqlite3.Error as exc:
            _raise_mapped(exc)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows, in one round trip."""
        try:
            await self.raw.executemany(sqlite_sql(sql), rows)
        except sqlite3.Error as exc:
            _raise_mapped(exc)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a query and return all rows."""
        try:
            return list(await self.raw.execute_fetchall(sqlite_sql(sql), params))
        except sqlite3.Error as exc:
            _raise_mapped(exc)

    @asynccontextmanager
    async def may_fail(self) -> AsyncIterator[None]:
        """SQLite undoes a failed statement by itself and the transaction goes on."""
        yield


class _Reader(SqliteConnection):
    """The read-only connection: any operational failure there means "unavailable"."""

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            return list(await self.raw.execute_fetchall(sqlite_sql(sql), params))
        except sqlite3.OperationalError as exc:
            raise DatabaseUnavailableError(str(exc)) from exc


class SqliteDatabase(Database):
    """The process's SQLite database: one writer connection and one reader."""

    dialect = SQLITE

    def __init__(self, path: Path | str, *, busy_timeout: float = BUSY_TIMEOUT, read_only: bool = False,
                 shards: Shards | None = None) -> None:
        super().__init__(busy_timeout=busy_timeout, read_only=read_only, shards=shards)
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queued: list[_QueuedPlan[Any]] = []  # plans waiting for the next group commit
        self._committer: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        """Whether the connections are open."""
        return self._conn is not None

    @property
    def location(self) -> str:
        """The database file."""
        return str(self.path)

    @property
    def conn(self) -> aiosqlite.Connection:
        """The open writer connection."""
        if self._conn is None:
            raise DatabaseUnavailableError("database is not open")
        return self._conn

    @property
    def reader(self) -> aiosqlite.Connection:
        """The open reader connection (read-only; sees committed data only)."""
        if self._reader is None:
            raise DatabaseUnavailableError("database is not open")
        return self._reader

    async def open(self) -> None:
        """Open the writer and the reader connections and apply the pragmas."""
        if self.read_only:
            # One connection that cannot write (`mode=ro`): no file is created or made private,
            # no journal mode is set, and closing does not checkpoint (which would take the bot's lock).
            self._conn = self._reader = await _connect(
                f"{self.path.absolute().as_uri()}?mode=ro", (*READ_ONLY_PRAGMAS, "PRAGMA query_only = ON"))
            return
        try:
            if str(self.path) != ":memory:":
                _private_folder(self.path.parent)
                _private_file(self.path)
        except OSError as exc:
            raise DatabaseUnavailableError(str(exc)) from exc
        writer = await _connect(self.path, (*PRAGMAS, f"PRAGMA cache_size = -{WRITE_CACHE_KIB}"))
        try:
            # The writer made the file WAL, so the reader reads committed snapshots.
            reader = await _connect(self.path, (*PRAGMAS, "PRAGMA query_only = ON",
                                                f"PRAGMA cache_size = -{READ_CACHE_KIB}"))
        except BaseException:
            await writer.close()
            raise
        self._conn, self._reader = writer, reader

    async def close(self, grace: float = 0.0) -> None:
        """Checkpoint the WAL and close, first giving a transaction in flight up to `grace` seconds to end."""
        if self._conn is not None:
            await self._wait_for_writer(grace)
        reader, self._reader = self._reader, None
        if reader is not None and reader is not self._conn:
            await reader.close()
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        if self.read_only:
            await conn.close()
            return
        try:
            await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            log.warning("WAL checkpoint at close failed", exc_info=True)
        await conn.close()

    # -- reads --------------------------------------------------------------------------

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a query and return all rows."""
        own = self._own_transaction()
        if own is not None:  # inside its own transaction: see its writes
            return await own.fetch_all(sql, params)
        return await _Reader(self.reader).fetch_all(sql, params)

    # -- writes -------------------------------------------------------------------------

    @asynccontextmanager
    async def _begin(self, deadline: float) -> AsyncIterator[Connection]:
        """`BEGIN IMMEDIATE … COMMIT` on the writer (rollback on error)."""
        conn = self.conn
        await _begin_immediate(conn, deadline)
        try:
            yield SqliteConnection(conn)
        except BaseException:
            await _rollback_quietly(conn)
            raise
        try:
            await conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            await _rollback_quietly(conn)
            raise DatabaseUnavailableError(str(exc)) from exc

    async def run_plan(self, plan: Plan[T]) -> T:
        """Run a plan as its own transaction, committed (with its fsync) before this returns.

        The same guarantees as `transaction()`: the writer lock, BEGIN IMMEDIATE waiting out
        another process's lock until `busy_timeout`, and a rollback if the plan raises. Plans
        that arrive while the writer is busy are committed together when it frees (a group
        commit: one BEGIN … COMMIT and one fsync, in one trip to the database thread), each in
        a savepoint of its own, so one that fails rolls back alone; each caller is answered
        only after the COMMIT that holds its plan returned.
        """
        if self.read_only:
            raise DatabaseUnavailableError("the database was opened read-only")
        if self._committer is None and not self._write_lock.locked():
            # The writer is free: run the plan now, from this task; plans arriving meanwhile queue.
            deadline = await self._take_write_lock()
            try:
                return (await self._run_locked([plan], deadline))[0]
            finally:
                self._write_lock.release()
        queued: _QueuedPlan[T] = _QueuedPlan(plan, asyncio.get_running_loop().create_future())
        self._queued.append(queued)
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_queued())
        return await queued.answer

    async def _run_locked(self, plans: list[Plan[Any]], deadline: float) -> list[Any]:
        """Run plans as one transaction in one trip to the database thread (the caller holds the writer lock)."""
        conn = self.conn
        wait = max(0.0, deadline - asyncio.get_running_loop().time())
        # aiosqlite's way to run a function in its database thread (the thread that owns the connection).
        return await conn._execute(_run_group, conn._conn, plans, wait)

    async def _commit_queued(self) -> None:
        """Commit the queued plans, as many as are waiting at a time, until none is left."""
        group: list[_QueuedPlan[Any]] = []
        try:
            while self._queued:
                try:
                    deadline = await self._take_write_lock()
                except DatabaseUnavailableError as exc:
                    group, self._queued = self._queued, []
                    _answer_all(group, exc)
                    continue
                try:
                    # A caller that gave up (cancelled) while its plan waited is not run.
                    group = [q for q in self._queued[:MAX_GROUP] if not q.answer.done()]
                    del self._queued[:MAX_GROUP]
                    if not group:
                        continue
                    outcomes = await self._run_locked([q.plan for q in group], deadline)
                except Exception as exc:  # BEGIN or COMMIT failed, or the database closed: nothing of the group is kept
                    _answer_all(group, exc)
                    continue
                finally:
                    self._write_lock.release()
                for queued, outcome in zip(group, outcomes, strict=True):
                    if queued.answer.done():
                        continue
                    if isinstance(outcome, _Failed):
                        queued.answer.set_exception(outcome.error)
                    else:
                        queued.answer.set_result(outcome)
        finally:
            self._committer = None
            # Cancelled (the loop is closing): nobody waits for an answer that will not come.
            for queued in (*group, *self._queued):
                if not queued.answer.done():
                    queued.answer.cancel()
            self._queued = []

    # -- schema -------------------------------------------------------------------------

    async def schema_version(self) -> int:
        """Return `PRAGMA user_version`."""
        return int(await self.fetch_value("PRAGMA user_version") or 0)

    async def _apply(self, migration: Migration) -> bool:
        # executescript() commits any open transaction first, so BEGIN and COMMIT live
        # inside the script itself; a failure leaves it open and we roll it back.
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{migration.sql}\n;\n"
            f"PRAGMA user_version = {migration.version};\n"
            "COMMIT;"
        )
        try:
            await self.conn.executescript(script)
        except sqlite3.Error as exc:
            await _rollback_quietly(self.conn)
            raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
        return True

    async def tables(self) -> list[str]:
        """Return every application table."""
        rows = await self.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        return [r["name"] for r in rows]

    async def columns(self, table: str) -> list[str]:
        """Return a table's column names in order."""
        return [r["name"] for r in await self.fetch_all(f"PRAGMA table_info({quote_ident(table)})")]

    async def primary_key(self, table: str) -> list[str]:
        """Return a table's primary key columns in order."""
        rows = await self.fetch_all(f"PRAGMA table_info({quote_ident(table)})")
        return [r["name"] for r in sorted((r for r in rows if r["pk"]), key=lambda r: r["pk"])]

    async def foreign_keys(self, table: str) -> list[ForeignKey]:
        """Return the foreign keys of a table."""
        return [ForeignKey(table, r["from"], r["table"], r["to"] or "rowid", r["on_delete"])
                for r in await self.fetch_all(f"PRAGMA foreign_key_list({quote_ident(table)})")]

    # -- maintenance --------------------------------------------------------------------

    async def release_memory(self) -> None:
        """Hand back both connections' page caches (`PRAGMA shrink_memory`); each fills again as it reads.

        Pages in use by a transaction in flight stay; a page read again comes from the OS's file cache.
        """
        for conn in {id(c): c for c in (self._conn, self._reader) if c is not None}.values():
            with contextlib.suppress(sqlite3.Error, ValueError):  # ValueError: closed meanwhile
                await conn.execute_fetchall("PRAGMA shrink_memory")

    async def checkpoint(self) -> bool:
        """Fold the WAL back into the main file and truncate it; False if reads kept it from finishing.

        After a deletion this is what takes the deleted values off the disk (with
        `secure_delete`), so a read in progress on the reader connection is waited out
        rather than leaving the WAL as it is. Writers get the lock between attempts.
        """
        deadline = asyncio.get_running_loop().time() + self.busy_timeout
        while True:
            async with self._write_lock:
                rows = await self.conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = next(iter(rows), (0,))[0]
            if not busy:
                return True
            if asyncio.get_running_loop().time() >= deadline:
                log.warning("WAL checkpoint could not finish: reads kept it busy")
                return False
            await asyncio.sleep(_BUSY_RETRY)

    async def backup_to(self, target: Path | str) -> str:
        """Copy the database with SQLite's online backup API; return the copy's integrity check."""
        target = Path(target)
        _private_folder(target.parent)
        _create_private(target)  # FileExistsError if it exists: a backup never overwrites
        async with self._write_lock:
            dest = await aiosqlite.connect(target)
            try:
                await self.conn.backup(dest)
            finally:
                await dest.close()
        check = await aiosqlite.connect(target)
        try:
            async with check.execute("PRAGMA integrity_check") as cursor:
                rows = [r[0] for r in await cursor.fetchall()]
        finally:
            await check.close()
        return "ok" if rows == ["ok"] else "; ".join(rows)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[SqliteConnection]:
        """Read everything as of one instant on the reader (a deferred transaction held open)."""
        reader = self.reader
        await reader.execute("BEGIN")
        try:
            yield _Reader(reader)
        finally:
            await _rollback_quietly(reader)


def _private_folder(folder: Path) -> None:
    """Create `folder` and its missing parents readable by the owner only; leave existing ones be."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        path.chmod(FOLDER_MODE)  # mkdir's mode is filtered by the umask; chmod's is not


def _create_private(path: Path) -> None:
    """Create an empty file readable by the owner only (FileExistsError if it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # the umask may have left fewer bits, never more; be exact
    finally:
        os.close(fd)


def _private_file(path: Path) -> None:
    """Create the database file owner-only, or take group and other access off an existing one."""
    try:
        _create_private(path)  # SQLite takes an empty file as a new database
        return
    except FileExistsError:
        pass
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                file.chmod(mode & 0o700)
                log.info("made %s readable by its owner only (it was %o)", file.name, mode)
        except FileNotFoundError:
            continue
        except OSError as exc:  # e.g. a read-only mount or another user's file: still usable
            log.warning("could not make %s private: %s", file.name, exc.strerror)


async def _connect(path: Path | str, pragmas: Iterable[str]) -> aiosqlite.Connection:
    """Open one connection (a path, or a `file:` URI) in autocommit mode with `pragmas` applied."""
    try:
        conn = await aiosqlite.connect(path, isolation_level=None, uri=isinstance(path, str))
    except (sqlite3.Error, OSError) as exc:
        raise DatabaseUnavailableError(str(exc)) from exc
    try:
        for pragma in pragmas:
            await conn.execute(pragma)
    except sqlite3.Error as exc:
        await conn.close()  # its worker thread would otherwise outlive the failure
        raise DatabaseUnavailableError(str(exc)) from exc
    conn.row_factory = sqlite3.Row
    return conn


async def _begin_immediate(conn: aiosqlite.Connection, deadline: float) -> None:
    """BEGIN IMMEDIATE, trying again while another process holds the file, until `deadline`."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            await conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or loop.time() >= deadline:
                raise DatabaseUnavailableError(str(exc)) from exc
        await asyncio.sleep(_BUSY_RETRY)


def _fetch_mapped(conn: sqlite3.Connection, sql: str, params: Params) -> list[Row]:
    """Run one statement of the shared SQL on a plain sqlite3 connection, with engine-neutral errors."""
    try:
        return conn.execute(sqlite_sql(sql), params).fetchall()
    except sqlite3.Error as exc:
        _raise_mapped(exc)


def _run_group(conn: sqlite3.Connection, plans: list[Plan[Any]], wait: float) -> list[Any]:
    """In the database thread: BEGIN IMMEDIATE (retrying for up to `wait` s), the plans, COMMIT.

    Return each plan's result, or `_Failed` for a plan that raised: with more than one plan,
    each runs in a savepoint and a failed one is rolled back alone. If SQLite itself ended
    the transaction (disk full, an I/O error) or COMMIT fails, nothing is kept and this raises.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or time.monotonic() >= deadline:
                raise DatabaseUnavailableError(str(exc)) from exc
        time.sleep(_BUSY_RETRY)  # this thread serves only this connection: the loop keeps running
    fetch = functools.partial(_fetch_mapped, conn)
    outcomes: list[Any] = []
    try:
        if len(plans) == 1:  # alone: the transaction is the plan's, no savepoint needed
            outcomes.append(run_with(fetch, plans[0]))
        else:
            for plan in plans:
                conn.execute("SAVEPOINT kindred_plan")
                try:
                    outcomes.append(run_with(fetch, plan))
                except Exception as exc:
                    if not conn.in_transaction:  # SQLite rolled back everything: no plan of the group is kept
                        raise
                    conn.execute("ROLLBACK TO kindred_plan")
                    outcomes.append(_Failed(exc))
                conn.execute("RELEASE kindred_plan")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise DatabaseUnavailableError(str(exc)) from exc
    return outcomes


@dataclass(frozen=True, slots=True)
class _Failed:
    """A plan of a group that raised (and was rolled back to its savepoint)."""

    error: Exception


@dataclass(frozen=True, slots=True)
class _QueuedPlan(Generic[T]):
    """A plan waiting for a group commit, and where its caller waits for the answer."""

    plan: Plan[T]
    answer: asyncio.Future[T]


def _answer_all(group: list[_QueuedPlan[Any]], exc: Exception) -> None:
    """Fail every plan of a group that was not kept: a lone plan with its own error."""
    for queued in group:
        if not queued.answer.done():
            queued.answer.set_exception(
                exc if len(group) == 1 else DatabaseUnavailableError(f"the write was not committed: {exc}"))


async def _rollback_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass
