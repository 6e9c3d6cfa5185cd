"""The SQLite connections: pragmas, one writer, explicit transactions, migrations, backup.

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
import logging
import os
import re
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.db.plans import Plan, run_sync
from bot.domain.localtime import from_utc_text
from bot.errors import DatabaseUnavailableError, MigrationError

T = TypeVar("T")
log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql")
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
# How long a write waits in all for the writer lock (this process's, then SQLite's) before
# giving up. Discord drops an interaction not answered within 3 seconds, and a member should
# hear "try again in a few minutes" rather than nothing.
BUSY_TIMEOUT = 1.5  # seconds
_BUSY_RETRY = 0.05  # seconds between attempts to take SQLite's lock
# The database holds notes, moods and plans: its files (SQLite gives the -wal and -shm
# files the main file's mode) and backups are the owner's alone, whatever the umask.
FILE_MODE = 0o600
FOLDER_MODE = 0o700
# SQLite result codes that mean "cannot be used right now" (locked, read-only, I/O, full),
# as opposed to a mistake in a statement.
_UNAVAILABLE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY,
                                sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN})


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str


def bundled_migrations() -> list[Migration]:
    """Return the migrations shipped in `bot/db/migrations`, in order."""
    found = []
    for entry in resources.files("bot.db.migrations").iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match["version"]), match["name"], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration numbers must run 1..N without gaps, found {versions}")
    return found


class Database:
    """The process's SQLite database: one writer connection and one reader."""

    def __init__(self, path: Path | str, *, busy_timeout: float = BUSY_TIMEOUT, read_only: bool = False) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        # For processes that only look (`status`, beside a running bot): nothing is created, nothing
        # written, and closing does not checkpoint the WAL (which would take the bot's write lock).
        self.read_only = read_only
        self._conn: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        # The task inside `transaction()`: its reads must see its own uncommitted writes.
        self._writing_task: asyncio.Task[Any] | None = None

    @property
    def is_open(self) -> bool:
        """Whether the connections are open."""
        return self._conn is not None

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
        if self._conn is not None and grace > 0:
            try:
                async with asyncio.timeout(grace):
                    await self._write_lock.acquire()
                self._write_lock.release()
            except TimeoutError:
                log.warning("closing the database under a transaction still running after %.0f s", grace)
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

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- reads --------------------------------------------------------------------------

    # Reads are key lookups and short lists, fetched whole in one round trip to the database
    # thread: a cursor's execute, fetch and close would be three, and every command waits
    # for each in turn.

    def _read_conn(self) -> aiosqlite.Connection:
        if self._writing_task is not None and self._writing_task is asyncio.current_task():
            return self.conn  # inside its own transaction: see its writes
        return self.reader

    async def fetch_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """Run a query and return its first row."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Run a query and return all rows."""
        try:
            return list(await self._read_conn().execute_fetchall(sql, params))
        except sqlite3.OperationalError as exc:
            raise DatabaseUnavailableError(str(exc)) from exc

    async def fetch_value(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        """Run a query and return the first column of its first row (or None)."""
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    async def fetch_instant(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> datetime | None:
        """Run a query whose first value is a stored UTC instant (or NULL) and return it."""
        value = await self.fetch_value(sql, params)
        return None if value is None else from_utc_text(value)

    # -- writes -------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the writer lock inside `BEGIN IMMEDIATE … COMMIT` (rollback on error).

        Taking the lock gives up after `busy_timeout` in all, counting both the wait behind
        this process's other writes and the wait for another process to let go of the file,
        so writes queued behind one another while the file is locked each fail in time.
        """
        deadline = asyncio.get_running_loop().time() + self.busy_timeout
        try:
            async with asyncio.timeout_at(deadline):
                await self._write_lock.acquire()
        except TimeoutError:
            raise DatabaseUnavailableError("timed out waiting for the writer lock") from None
        try:
            conn = self.conn
            await _begin(conn, deadline)
            self._writing_task = asyncio.current_task()
            try:
                yield conn
            except sqlite3.OperationalError as exc:
                await _rollback_quietly(conn)
                if _unavailable(exc):  # e.g. a read-only file: the write fails, not BEGIN
                    raise DatabaseUnavailableError(str(exc)) from exc
                raise
            except BaseException:
                await _rollback_quietly(conn)
                raise
            try:
                await conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                await _rollback_quietly(conn)
                raise DatabaseUnavailableError(str(exc)) from exc
        finally:
            self._writing_task = None
            self._write_lock.release()

    async def run_plan(self, plan: Plan[T]) -> T:
        """Run a plan (`bot.db.plans`) as one transaction in a single trip to the database thread.

        The same guarantees as `transaction()`: the writer lock, BEGIN IMMEDIATE waiting out
        another process's lock until `busy_timeout`, COMMIT (with its fsync) before this
        returns, and a rollback if anything in the plan raises.
        """
        deadline = asyncio.get_running_loop().time() + self.busy_timeout
        try:
            async with asyncio.timeout_at(deadline):
                await self._write_lock.acquire()
        except TimeoutError:
            raise DatabaseUnavailableError("timed out waiting for the writer lock") from None
        try:
            conn = self.conn
            wait = max(0.0, deadline - asyncio.get_running_loop().time())
            # aiosqlite's way to run a function in its database thread (the thread that owns the connection).
            return await conn._execute(_run_transaction, conn._conn, plan, wait)
        finally:
            self._write_lock.release()

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run one write statement in its own transaction; return the changed row count."""
        async with self.transaction() as conn:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows in a single transaction."""
        async with self.transaction() as conn:
            await conn.executemany(sql, rows)

    # -- schema -------------------------------------------------------------------------

    async def schema_version(self) -> int:
        """Return `PRAGMA user_version`."""
        return int(await self.fetch_value("PRAGMA user_version") or 0)

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> int:
        """Apply pending migrations, each in its own transaction; return the new version."""
        migrations = bundled_migrations() if migrations is None else list(migrations)
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
            async with self._write_lock:
                await self._apply(migration)
            log.info("applied migration %04d_%s", migration.version, migration.name)
            current = migration.version
        return current

    async def _apply(self, migration: Migration) -> None:
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

    # -- maintenance --------------------------------------------------------------------

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


async def _begin(conn: aiosqlite.Connection, deadline: float) -> None:
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


def _run_transaction(conn: sqlite3.Connection, plan: Plan[T], wait: float) -> T:
    """In the database thread: BEGIN IMMEDIATE (retrying for up to `wait` s), the plan, COMMIT; roll back on error."""
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
    try:
        result = run_sync(conn, plan)
    except BaseException as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError) and _unavailable(exc):
            raise DatabaseUnavailableError(str(exc)) from exc
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise DatabaseUnavailableError(str(exc)) from exc
    return result


def _unavailable(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # absent on errors not raised by SQLite itself
    return code is not None and code & 0xFF in _UNAVAILABLE_CODES


async def _rollback_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass
