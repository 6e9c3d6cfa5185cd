"""Database: pragmas, migrations (fresh, upgrade, rollback on failure), transactions, reads, backup.

Tests taking `db` run on both engines; those about SQLite's files, pragmas and backup are `sqlite_only`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.db.database import (
    Database,
    DatabaseUnavailableError,
    IntegrityError,
    Migration,
    MigrationError,
    bundled_migrations,
)
from bot.db.outbox import NewOutboxItem, enqueue
from bot.db.sqlite import READ_CACHE_KIB, WRITE_CACHE_KIB, SqliteDatabase
from bot.domain.messages import OutgoingMessage
from bot.services.container import Services
from tests.support import (
    FILLER_ROWS,
    PAGE_CACHES_RELEASED,
    RecordingNotifier,
    fill_page_caches,
    sqlite_memory_used,
)

ADD_GUILD_7 = "INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (7, 'x', 'x')"
COUNT_GUILD_7 = "SELECT count(*) FROM guilds WHERE guild_id = 7"


@pytest.mark.sqlite_only
async def test_pragmas_are_applied(db: Database) -> None:
    assert (await db.fetch_value("PRAGMA journal_mode")) == "wal"
    assert (await db.fetch_value("PRAGMA synchronous")) == 2  # FULL
    assert (await db.fetch_value("PRAGMA foreign_keys")) == 1
    assert (await db.fetch_value("PRAGMA secure_delete")) == 1
    assert (await db.fetch_value("PRAGMA busy_timeout")) == 50  # longer waits happen between attempts


@pytest.mark.sqlite_only  # SQLite's page caches
async def test_the_connections_keep_smaller_page_caches(db: Database) -> None:
    # Each connection caches up to 2 MiB of pages by default and a long-running bot fills it;
    # pages a connection misses come from the OS's file cache (bench/README.md, "Memory").
    assert await db.fetch_value("PRAGMA cache_size") == -READ_CACHE_KIB
    assert isinstance(db, SqliteDatabase)
    assert [tuple(row) for row in await db.conn.execute_fetchall("PRAGMA cache_size")] == [(-WRITE_CACHE_KIB,)]
    assert READ_CACHE_KIB < WRITE_CACHE_KIB < 2000


async def test_fresh_database_reaches_the_latest_version(db: Database) -> None:
    assert await db.schema_version() == bundled_migrations(db.dialect)[-1].version
    assert {"guilds", "members", "outbox"} <= set(await db.tables())


@pytest.mark.sqlite_only
async def test_every_table_is_strict(db: Database) -> None:
    rows = await db.fetch_all("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    loose = [r["name"] for r in rows if "STRICT" not in r["sql"].upper()]
    assert loose == []


async def test_upgrade_applies_only_pending_migrations(tmp_path: Path) -> None:
    migrations = bundled_migrations()
    async with SqliteDatabase(tmp_path / "k.sqlite3") as database:
        assert await database.migrate(migrations[:1]) == 1
        await database.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (1, 'x', 'x')")
        assert await database.migrate(migrations) == migrations[-1].version
        # Data written at version 1 survives the upgrade.
        assert await database.fetch_value("SELECT count(*) FROM guilds") == 1
        # Running again is a no-op.
        assert await database.migrate(migrations) == migrations[-1].version


async def test_failed_migration_rolls_back_entirely(tmp_path: Path) -> None:
    good = Migration(1, "good", "CREATE TABLE a (x INTEGER) STRICT;")
    bad = Migration(2, "bad", "CREATE TABLE b (x INTEGER) STRICT;\nINSERT INTO a VALUES (1);\nTHIS IS NOT SQL;")
    async with SqliteDatabase(tmp_path / "k.sqlite3") as database:
        with pytest.raises(MigrationError, match="0002_bad"):
            await database.migrate([good, bad])
        assert await database.schema_version() == 1
        tables = {r[0] for r in await database.fetch_all("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "b" not in tables
        assert await database.fetch_value("SELECT count(*) FROM a") == 0
        # The connection is usable afterwards (no transaction left open).
        await database.execute("INSERT INTO a VALUES (2)")
        assert await database.fetch_value("SELECT count(*) FROM a") == 1


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    async with SqliteDatabase(tmp_path / "k.sqlite3") as database:
        await database.migrate()
        with pytest.raises(MigrationError, match="newer"):
            await database.migrate(bundled_migrations()[:1])


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (7, 'x', 'x')")
            raise RuntimeError("boom")
    assert await db.fetch_value("SELECT count(*) FROM guilds WHERE guild_id = 7") == 0


async def test_constraints_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError):
        await db.execute("INSERT INTO members (guild_id, user_id, created_at, last_active_at) VALUES (999, 1, 'x', 'x')")
    await db.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (1, 'x', 'x')")
    with pytest.raises(IntegrityError):
        await db.execute("UPDATE guilds SET checkin_time = '9am' WHERE guild_id = 1")
    with pytest.raises(IntegrityError):
        await db.execute("UPDATE guilds SET checkin_time = '09:00 and more' WHERE guild_id = 1")
    await db.execute("UPDATE guilds SET checkin_time = '09:00' WHERE guild_id = 1")


@pytest.mark.sqlite_only
async def test_backup_round_trip(db: Database, tmp_path: Path) -> None:
    assert isinstance(db, SqliteDatabase)
    await db.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (42, 'a', 'b')")
    target = tmp_path / "backup" / "copy.sqlite3"
    assert await db.backup_to(target) == "ok"
    async with SqliteDatabase(target) as copy:
        assert await copy.fetch_value("SELECT guild_id FROM guilds") == 42
        assert await copy.schema_version() == await db.schema_version()
    with pytest.raises(FileExistsError):
        await db.backup_to(target)


async def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in bundled_migrations()]
    assert versions == list(range(1, len(versions) + 1))


async def test_every_migration_has_its_postgresql_twin_under_the_same_number() -> None:
    sqlite = [(m.version, m.name) for m in bundled_migrations("sqlite")]
    postgresql = [(m.version, m.name) for m in bundled_migrations("postgresql")]
    assert sqlite == postgresql


async def test_reading_settings_never_rejoins_a_left_server(db: Database) -> None:
    from datetime import UTC, datetime

    from bot.db.guilds import GuildRepository

    repo = GuildRepository(db)
    now = datetime(2026, 11, 21, tzinfo=UTC)
    await repo.ensure(1, now)
    await repo.mark_left(1, now)
    assert (await repo.ensure(1, now)).left_at is not None
    await repo.mark_present([1, 2], now)
    assert (await repo.get(1)).left_at is None  # type: ignore[union-attr]
    assert (await repo.get(2)) is not None


@contextlib.asynccontextmanager
async def open_transaction_that_rolls_back(db: Database, write: str) -> AsyncIterator[None]:
    """Another coroutine holds a transaction with `write` done but not committed; it rolls back at the end."""
    written, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with db.transaction() as conn:
            await conn.execute(write)
            written.set()
            await release.wait()
            raise RuntimeError("rolled back")

    task = asyncio.create_task(writer())
    await written.wait()
    try:
        yield
    finally:
        release.set()
        with pytest.raises(RuntimeError):
            await task


async def test_a_read_never_sees_another_coroutines_uncommitted_write(db: Database) -> None:
    async with open_transaction_that_rolls_back(db, ADD_GUILD_7):
        assert await db.fetch_value(COUNT_GUILD_7) == 0
        assert await db.fetch_all("SELECT * FROM guilds") == []
    assert await db.fetch_value(COUNT_GUILD_7) == 0


async def test_a_read_inside_a_transaction_sees_its_own_writes(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(ADD_GUILD_7)
        # Repositories read with db.fetch_* while their caller's transaction is open.
        assert await db.fetch_value(COUNT_GUILD_7) == 1
    assert await db.fetch_value(COUNT_GUILD_7) == 1


async def test_a_task_started_inside_a_transaction_does_not_read_its_uncommitted_writes(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(ADD_GUILD_7)
        # e.g. a send kicked off while the decision to send is not committed yet
        assert await asyncio.create_task(db.fetch_value(COUNT_GUILD_7)) == 0
    assert await asyncio.create_task(db.fetch_value(COUNT_GUILD_7)) == 1


async def test_reads_go_on_while_another_coroutine_writes(db: Database) -> None:
    async with open_transaction_that_rolls_back(db, ADD_GUILD_7):
        # Not queued behind the writer, and nothing written through the read side.
        assert await asyncio.wait_for(db.fetch_value("SELECT count(*) FROM guilds"), 1) == 0
        with pytest.raises((DatabaseUnavailableError, sqlite3.Error)):  # the read side is read-only
            await db.fetch_all("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (8, 'x', 'x') RETURNING *")


async def test_dispatch_never_sends_a_message_whose_transaction_then_rolls_back(
        services: Services, notifier: RecordingNotifier) -> None:
    now = services.clock.now()
    released, queued = asyncio.Event(), asyncio.Event()

    async def sweep_that_fails_after_queueing() -> None:
        async with services.db.transaction() as conn:
            await enqueue(conn, NewOutboxItem("prompt:7:2026-11-21", "t", "channel", 555, OutgoingMessage("hi")),
                          not_before=now, now=now)
            queued.set()
            await released.wait()
            raise RuntimeError("the sweep failed after queueing; its transaction rolls back")

    sweep = asyncio.create_task(sweep_that_fails_after_queueing())
    await queued.wait()
    with contextlib.suppress(DatabaseUnavailableError):  # recording the outcome waits for the writer
        await services.outbox.dispatch()
    released.set()
    with pytest.raises(RuntimeError):
        await sweep
    assert notifier.sent == [], "a message was sent that its own transaction never committed"
    assert await services.db.fetch_value("SELECT count(*) FROM outbox") == 0


# -- files readable by their owner only ---------------------------------------------------


def mode_of(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask-022", "umask-000"])
def permissive_umask(request: pytest.FixtureRequest) -> Iterator[None]:
    """A umask that lets others read new files (022 is the usual default): the modes must not depend on it."""
    old = os.umask(request.param)
    try:
        yield
    finally:
        os.umask(old)


async def test_database_files_and_the_folder_made_for_them_are_private(tmp_path: Path, permissive_umask: None) -> None:
    path = tmp_path / "data" / "kindred" / "kindred.sqlite3"
    async with SqliteDatabase(path) as database:
        await database.migrate()
        await database.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (1, 'x', 'x')")
        for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert file.exists() and mode_of(file) == 0o600, f"{file.name} is {mode_of(file):o}"
    assert mode_of(tmp_path / "data") == 0o700
    assert mode_of(tmp_path / "data" / "kindred") == 0o700


async def test_an_existing_database_readable_by_others_is_made_private(tmp_path: Path, permissive_umask: None) -> None:
    path = tmp_path / "kindred.sqlite3"
    sqlite3.connect(path).close()
    path.chmod(0o644)  # made by an earlier Kindred
    folder_mode = mode_of(tmp_path)
    async with SqliteDatabase(path) as database:
        await database.migrate()
        assert mode_of(path) == 0o600
        assert mode_of(f"{path}-wal") == 0o600
    assert mode_of(tmp_path) == folder_mode  # not the bot's folder to change


@pytest.mark.sqlite_only
async def test_backups_are_private(db: Database, tmp_path: Path, permissive_umask: None) -> None:
    assert isinstance(db, SqliteDatabase)
    target = tmp_path / "backups" / "copy.sqlite3"
    assert await db.backup_to(target) == "ok"
    assert mode_of(target) == 0o600
    assert mode_of(tmp_path / "backups") == 0o700
    leftovers = [p.name for p in target.parent.iterdir() if p != target and mode_of(p) != 0o600]
    assert leftovers == []


@pytest.mark.sqlite_only
async def test_a_checkpoint_waits_out_a_read_in_progress(db: Database) -> None:
    assert isinstance(db, SqliteDatabase)
    # After a deletion the WAL is checkpointed so, with secure_delete, the deleted values
    # leave the disk. Reads on their own connection may be mid-way when that happens; the
    # checkpoint must not give up half done because of one.
    await db.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (9, 'x', 'x')")
    reader = sqlite3.connect(db.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM guilds").fetchall()  # a read snapshot, still open
    await db.execute("DELETE FROM guilds WHERE guild_id = 9")
    attempts: list[str] = []
    tried_again = asyncio.Event()
    loop = asyncio.get_running_loop()

    def seen(sql: str) -> None:  # on the database thread
        if "wal_checkpoint" in sql:
            attempts.append(sql)
            if len(attempts) == 2:
                loop.call_soon_threadsafe(tried_again.set)

    await db.conn.set_trace_callback(seen)
    checkpoint = asyncio.create_task(db.checkpoint())
    try:
        # The first attempt cannot finish while the read is open; the read ends once it has tried again.
        await asyncio.wait_for(tried_again.wait(), 5)
    finally:
        reader.execute("COMMIT")
        reader.close()
        await checkpoint
        await db.conn.set_trace_callback(None)
    assert checkpoint.result() is True
    assert os.path.getsize(f"{db.path}-wal") == 0


# -- group commit: plans queued behind a write share its successor's commit ----------------

async def trace_commits(db: Database) -> list[str]:
    """Record the transaction statements the writer runs (set in its database thread, which owns it)."""
    assert isinstance(db, SqliteDatabase)
    seen: list[str] = []
    await db.conn._execute(db.conn._conn.set_trace_callback,
                           lambda sql: seen.append(sql) if sql.split()[0] in ("BEGIN", "COMMIT", "ROLLBACK") else None)
    return seen


def add_guild(guild_id: int, *, fail: bool = False) -> Iterator[tuple[str, tuple[int, ...]]]:
    yield "INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, 'x', 'x')", (guild_id,)
    if fail:  # the plan's second statement breaks a unique key
        yield "INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, 'x', 'x')", (guild_id,)
    rows = yield "SELECT count(*) AS n FROM guilds", ()
    return guild_id, rows[0]["n"]


@pytest.mark.sqlite_only  # PostgreSQL commits each plan on its own (its commits do not queue behind a lock)
async def test_plans_queued_behind_a_write_are_committed_together(db: Database) -> None:
    seen = await trace_commits(db)
    gate = asyncio.Event()

    async def hold_the_writer() -> None:
        async with db.transaction() as conn:
            await conn.execute(ADD_GUILD_7)
            await gate.wait()

    holder = asyncio.create_task(hold_the_writer())
    await asyncio.sleep(0.05)
    plans = [asyncio.create_task(db.run_plan(add_guild(g))) for g in range(10, 20)]  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert not any(p.done() for p in plans)  # nothing answered before its commit
    gate.set()
    results = await asyncio.gather(*plans)
    await holder
    # Each plan saw the ones before it in the group, in the order they came.
    assert results == [(g, g - 8) for g in range(10, 20)]
    assert seen.count("COMMIT") == 2  # the held transaction, then one for all ten plans (one fsync)
    assert await db.fetch_value("SELECT count(*) FROM guilds") == 11


@pytest.mark.sqlite_only
async def test_a_failing_plan_in_a_group_rolls_back_alone(db: Database) -> None:
    seen = await trace_commits(db)
    gate = asyncio.Event()

    async def hold_the_writer() -> None:
        async with db.transaction():
            await gate.wait()

    holder = asyncio.create_task(hold_the_writer())
    await asyncio.sleep(0.05)
    good = asyncio.create_task(db.run_plan(add_guild(1)))  # type: ignore[arg-type]
    bad = asyncio.create_task(db.run_plan(add_guild(2, fail=True)))  # type: ignore[arg-type]
    later = asyncio.create_task(db.run_plan(add_guild(3)))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    gate.set()
    await holder
    assert await good == (1, 1)
    with pytest.raises(IntegrityError):
        await bad
    assert await later == (3, 2)  # guild 2's first row was rolled back with its plan
    assert seen.count("COMMIT") == 2
    assert [r["guild_id"] for r in await db.fetch_all("SELECT guild_id FROM guilds ORDER BY guild_id")] == [1, 3]


@pytest.mark.sqlite_only
async def test_a_plan_whose_caller_gave_up_before_its_group_began_is_not_run(db: Database) -> None:
    gate = asyncio.Event()

    async def hold_the_writer() -> None:
        async with db.transaction():
            await gate.wait()

    holder = asyncio.create_task(hold_the_writer())
    await asyncio.sleep(0.05)
    dropped = asyncio.create_task(db.run_plan(add_guild(1)))  # type: ignore[arg-type]
    kept = asyncio.create_task(db.run_plan(add_guild(2)))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    dropped.cancel()
    gate.set()
    await holder
    assert await kept == (2, 1)
    assert dropped.cancelled()
    assert [r["guild_id"] for r in await db.fetch_all("SELECT guild_id FROM guilds")] == [2]


@pytest.mark.sqlite_only
async def test_plans_queued_past_the_busy_timeout_fail_and_nothing_of_them_is_kept(db: Database) -> None:
    db.busy_timeout = 0.1
    gate = asyncio.Event()

    async def hold_the_writer() -> None:
        async with db.transaction():
            await gate.wait()

    holder = asyncio.create_task(hold_the_writer())
    await asyncio.sleep(0.05)
    plans = [asyncio.create_task(db.run_plan(add_guild(g))) for g in (1, 2)]  # type: ignore[arg-type]
    results = await asyncio.gather(*plans, return_exceptions=True)
    gate.set()
    await holder
    assert all(isinstance(r, DatabaseUnavailableError) for r in results), results
    assert await db.fetch_value("SELECT count(*) FROM guilds") == 0
    assert await db.run_plan(add_guild(3)) == (3, 1)  # type: ignore[arg-type]  # and the writer is free again


@pytest.mark.sqlite_only
async def test_release_memory_hands_back_the_page_caches(db: Database) -> None:
    # A long-running bot fills both connections' page caches (1 MiB + 512 KiB) and then keeps
    # them through its quiet hours; once a minute it hands them back (a missed page is read
    # again from the OS's file cache in microseconds).
    await fill_page_caches(db)
    filled = sqlite_memory_used()
    await db.release_memory()
    released = sqlite_memory_used()
    assert filled - released >= PAGE_CACHES_RELEASED, (filled, released)
    assert await db.fetch_value("SELECT count(*) FROM filler") == FILLER_ROWS  # and everything reads as before
