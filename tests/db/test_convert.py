"""`python -m bot db convert --to postgresql://…`: an exact copy into an empty database, or nothing."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.config import Config
from bot.db import convert as convert_module
from bot.db.convert import convert, target_objects, verify
from bot.db.health import HealthRepository
from bot.db.postgres import PostgresDatabase
from bot.db.privacy import PrivacyRepository
from bot.db.sqlite import SqliteDatabase
from bot.domain.clock import FakeClock
from bot.domain.health import GATEWAY, GATEWAY_INTERVAL_SECONDS, STOPPED, SweepRecord
from bot.errors import OperatorError
from bot.services.container import Services, build_services
from tests.conftest import DEFAULT_START
from tests.postgres_server import PostgresServer
from tests.services.test_privacy_coverage import ALICE, G, use_every_feature
from tests.support import RecordingEvents, RecordingNotifier

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class Source:
    """A SQLite database in use: every feature has rows in it."""

    path: Path
    db: SqliteDatabase
    services: Services


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[Source]:
    path = tmp_path / "kindred.sqlite3"
    clock = FakeClock(DEFAULT_START)
    config = dataclasses.replace(Config(), database_path=path)
    async with SqliteDatabase(path) as db:
        await db.migrate()
        services = build_services(config, db, clock, RecordingNotifier(), events=RecordingEvents())
        await use_every_feature(services, clock)
        await services.outbox.dispatch()
        yield Source(path, db, services)


@pytest.fixture
def empty_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database(migrated=False)
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


def export_without_time(data: bytes) -> dict[str, object]:
    document = json.loads(data)
    del document["generated_at"]
    return document


async def test_every_table_is_copied_exactly_and_the_copy_serves_the_same_member(source: Source, empty_url: str) -> None:
    async with PostgresDatabase(empty_url) as target:
        result = await convert(source.db, target)
        assert result.ok and result.version == await source.db.schema_version() == await target.schema_version()
        tables = await source.db.tables()
        assert [c.table for c in sorted(result.tables, key=lambda c: c.table)] == sorted(tables)
        for table in tables:  # counted again, independently of the conversion's own check
            count = f'SELECT count(*) FROM "{table}"'  # noqa: S608
            assert await target.fetch_value(count) == await source.db.fetch_value(count), table
        # The source has rows in every table that holds member data, so all of them were really copied.
        copied_tables = {c.table for c in result.tables if c.target_rows}
        assert set(await PrivacyRepository(source.db).member_linked_tables()) <= copied_tables

        clock = FakeClock(source.services.clock.now())
        config = dataclasses.replace(Config(), database_url=empty_url)
        copied = build_services(config, target, clock, RecordingNotifier(), events=RecordingEvents())
        assert export_without_time((await copied.privacy.export(G, ALICE)).data) == export_without_time(
            (await source.services.privacy.export(G, ALICE)).data)
        # New rows get new ids: the identity counters were moved past the copied ones.
        newest = await source.db.fetch_value("SELECT max(member_id) FROM members")
        assert (await copied.settings.touch(G, 31337)).member_id > newest
        await copied.recovery.start(G, 31337, "2026-11-01", "gambling")
        assert await target.fetch_value("SELECT min(counter_id) FROM recovery_counters WHERE name = 'gambling'") > (
            await source.db.fetch_value("SELECT max(counter_id) FROM recovery_counters"))


async def test_a_copy_that_differs_is_found_table_by_table(source: Source, empty_url: str) -> None:
    async with PostgresDatabase(empty_url) as target:
        assert (await convert(source.db, target)).ok
        async with target.transaction() as conn:
            await conn.execute("UPDATE checkins SET mood = 1 WHERE mood != 1")  # one value in one row
            await conn.execute("DELETE FROM pledges")
        wrong = {c.table: c for c in await verify(source.db, target) if not c.ok}
    assert set(wrong) == {"checkins", "pledges"}
    assert wrong["checkins"].source_rows == wrong["checkins"].target_rows and not wrong["checkins"].same_content
    assert wrong["pledges"].target_rows == 0 < wrong["pledges"].source_rows


async def test_a_target_that_is_not_empty_is_refused_and_left_as_it_was(
        source: Source, postgres_server: PostgresServer) -> None:
    name = postgres_server.create_database()  # migrated: it has Kindred's tables already
    try:
        async with PostgresDatabase(postgres_server.url(name)) as target:
            await target.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (1, 'x', 'x')")
            with pytest.raises(OperatorError, match="not empty"):
                await convert(source.db, target)
            assert await target.fetch_value("SELECT count(*) FROM guilds") == 1
            assert await target.fetch_value("SELECT count(*) FROM members") == 0
    finally:
        postgres_server.drop_database(name)


async def test_a_copy_that_fails_half_way_leaves_the_target_empty(
        source: Source, empty_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_table = convert_module._copy_table
    copied: list[str] = []

    async def fail_on_the_fifth(reader: object, raw: object, table: str, columns: list[str]) -> int:
        if len(copied) == 4:
            raise ConnectionResetError("the network went")
        copied.append(table)
        return await copy_table(reader, raw, table, columns)  # type: ignore[arg-type]

    monkeypatch.setattr(convert_module, "_copy_table", fail_on_the_fifth)
    async with PostgresDatabase(empty_url) as target:
        with pytest.raises(ConnectionResetError):
            await convert(source.db, target)
    raw = await asyncpg.connect(empty_url)
    try:
        assert await target_objects(raw) == 0
    finally:
        await raw.close()


@pytest.mark.parametrize(("error", "minutes_ago", "refused"), [
    (None, 1, True),          # connected a minute ago: running
    ("Disconnected", 2, True),  # running without its gateway: still writing
    (STOPPED, 0, False),      # a clean stop
    (None, 4, False),         # silent for more than three of its minutes: a crashed bot
])
async def test_a_database_a_running_bot_is_using_is_not_converted(
        source: Source, empty_url: str, error: str | None, minutes_ago: int, refused: bool) -> None:
    # The copy is of one instant of the file: what a running bot writes after it (a check-in)
    # would be missing from PostgreSQL, and the check would not notice.
    now = datetime.now(UTC)
    seen = now - timedelta(minutes=minutes_ago)
    await HealthRepository(source.db).record([SweepRecord(GATEWAY, GATEWAY_INTERVAL_SECONDS, seen, seen,
                                                          None if error else seen, error)])
    async with PostgresDatabase(empty_url) as target:
        if refused:
            with pytest.raises(OperatorError, match="running on this database"):
                await convert(source.db, target, now=now)
            assert await target.tables() == []
        else:
            assert (await convert(source.db, target, now=now)).ok


def cli(*args: str, database: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "KINDRED_"))}
    env.update(PYTHONPATH=str(ROOT), KINDRED_DATABASE=str(database))
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


async def test_the_command_converts_then_refuses_to_convert_into_the_same_database_again(
        source: Source, empty_url: str) -> None:
    await source.db.close()  # the bot is stopped before converting
    done = cli("db", "convert", "--to", empty_url, database=source.path)
    assert done.returncode == 0, done.stderr
    assert "every table matches" in done.stdout and "checkins: 1 rows in SQLite, 1 in PostgreSQL, content the same" in (
        done.stdout)
    again = cli("db", "convert", "--to", empty_url, database=source.path)
    assert again.returncode == 2
    lines = [line for line in again.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not empty" in lines[0], again.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("db", "convert", "--to", "mysql://somewhere/db"), "PostgreSQL URL"),
    (("db", "convert", "--to", "postgresql://kindred@/nothing?host=/nonexistent&port=1"), "cannot open the database"),
])
def test_operator_mistakes_are_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    database = tmp_path / "kindred.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA user_version = 1")
    result = cli(*args, database=database)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_converting_without_a_sqlite_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = cli("db", "convert", "--to", "postgresql://x@/y", database=tmp_path / "none.sqlite3")
    assert result.returncode == 2 and "no SQLite database" in result.stderr


async def test_a_running_bot_that_names_its_shards_is_not_converted_either(source: Source, empty_url: str) -> None:
    # Review of issue 16: one process may run every shard on SQLite (README: `KINDRED_SHARD_COUNT=4
    # KINDRED_SHARD_IDS=0-3`, "on SQLite too"); its gateway record then carries the scope named after
    # its shards (`Shards.scope`), not "". The running-bot check must see it, or the copy silently
    # misses what that bot writes after the snapshot.
    now = datetime.now(UTC)
    seen = now - timedelta(minutes=1)
    await HealthRepository(source.db, "shards-0-3-of-4").record(
        [SweepRecord(GATEWAY, GATEWAY_INTERVAL_SECONDS, seen, seen, seen, None)])
    async with PostgresDatabase(empty_url) as target:
        with pytest.raises(OperatorError, match="running on this database"):
            await convert(source.db, target, now=now)
        assert await target.tables() == []
