"""The two engines behind one interface: SQL written once, the same schema, the same errors.

Tests taking `db` run on SQLite and on PostgreSQL; those comparing the engines start both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.config import Config
from bot.db.database import (
    POSTGRESQL,
    Database,
    IntegrityError,
    Migration,
    bundled_migrations,
    database_for,
)
from bot.db.members import MemberRepository, touch_in
from bot.db.plans import Plan, run_async
from bot.db.postgres import PostgresDatabase, postgres_sql
from bot.db.sqlite import SqliteDatabase, sqlite_sql
from bot.errors import DatabaseUnavailableError, MigrationError
from tests.conftest import DEFAULT_START
from tests.postgres_server import PostgresServer

ADD_GUILD = "INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, 'x', 'x')"


# -- the shared SQL, as each engine takes it ----------------------------------------------

@pytest.mark.parametrize(("shared", "expected", "names"), [
    ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2", None),
    ("UPDATE t SET a = :a WHERE b = :b OR c = :a", "UPDATE t SET a = $1 WHERE b = $2 OR c = $1", ("a", "b")),
    # what looks like a placeholder inside a literal, a quoted name, a comment or a cast is not one
    ("SELECT '?', 'it''s :x', \"odd?\" FROM t -- what? :y\nWHERE a = ?", "SELECT '?', 'it''s :x', \"odd?\" FROM t "
     "-- what? :y\nWHERE a = $1", None),
    ("SELECT CAST(? AS BIGINT[]), x::text FROM t", "SELECT CAST($1 AS BIGINT[]), x::text FROM t", None),
    ("SELECT '10:00' WHERE t = :t", "SELECT '10:00' WHERE t = $1", ("t",)),
])
def test_placeholders_become_numbered_for_postgresql(shared: str, expected: str, names: tuple[str, ...] | None) -> None:
    assert postgres_sql(shared) == (expected, names)


def test_a_statement_mixing_placeholder_styles_is_refused() -> None:
    with pytest.raises(ValueError, match="either"):
        postgres_sql("SELECT ? WHERE a = :a")


@pytest.mark.parametrize(("shared", "expected"), [
    ("SELECT g.* FROM s JOIN g USING (id) WHERE due <= ? ORDER BY due LIMIT ? FOR UPDATE OF s SKIP LOCKED",
     "SELECT g.* FROM s JOIN g USING (id) WHERE due <= ? ORDER BY due LIMIT ?"),
    ("SELECT 1 FROM t FOR UPDATE", "SELECT 1 FROM t"),
    ("UPDATE t SET a = 1 WHERE b IS NOT DISTINCT FROM ? AND c IS DISTINCT FROM ?",
     "UPDATE t SET a = 1 WHERE b IS ? AND c IS NOT ?"),
])
def test_sqlite_does_without_row_locks_and_takes_is_for_not_distinct(shared: str, expected: str) -> None:
    assert sqlite_sql(shared) == expected


# -- one schema ---------------------------------------------------------------------------

@pytest.fixture
async def both(tmp_path: Path, postgres_server: PostgresServer) -> AsyncIterator[tuple[Database, Database]]:
    """A fresh SQLite database and a fresh PostgreSQL database, both migrated."""
    name = postgres_server.create_database()
    sqlite = SqliteDatabase(tmp_path / "k.sqlite3")
    postgresql = PostgresDatabase(postgres_server.url(name))
    async with sqlite, postgresql:
        await sqlite.migrate()
        yield sqlite, postgresql
    postgres_server.drop_database(name)


async def test_both_engines_build_the_same_tables_columns_keys_and_nullability(both: tuple[Database, Database]) -> None:
    sqlite, postgresql = both
    assert await sqlite.schema_version() == await postgresql.schema_version() == bundled_migrations()[-1].version
    tables = await sqlite.tables()
    assert await postgresql.tables() == tables
    for table in tables:
        assert await postgresql.columns(table) == await sqlite.columns(table), table
        assert await postgresql.primary_key(table) == await sqlite.primary_key(table), table
        key = lambda k: (k.column, k.parent, k.parent_column, k.on_delete)  # noqa: E731
        assert sorted(map(key, await postgresql.foreign_keys(table))) == sorted(
            map(key, await sqlite.foreign_keys(table))), table
        sqlite_nullable = {r["name"]: not r["notnull"] and not r["pk"]
                           for r in await sqlite.fetch_all(f'PRAGMA table_info("{table}")')}
        postgresql_nullable = {r["name"]: not r["attnotnull"] for r in await postgresql.fetch_all(
            "SELECT attname AS name, attnotnull FROM pg_attribute WHERE attrelid = to_regclass(?) "
            "AND attnum > 0 AND NOT attisdropped", (table,))}
        assert postgresql_nullable == sqlite_nullable, table


async def test_both_engines_have_the_same_named_indexes(both: tuple[Database, Database]) -> None:
    sqlite, postgresql = both
    named = {r["name"] for r in await sqlite.fetch_all(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    # Indexes of their own, not the ones behind a primary key or unique constraint.
    indexes = {r["name"] for r in await postgresql.fetch_all(
        "SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)")}
    # SQLite keeps UNIQUE (guild_id, country, name COLLATE NOCASE) as a constraint; PostgreSQL
    # needs an index on lower(name) for it.
    assert indexes - {"crisis_local_resources_name"} == named


async def test_text_compares_byte_by_byte_on_both_engines(db: Database) -> None:
    # Instants, dates and outbox key ranges rely on SQLite's byte order; a database created with
    # a language's collation would order 'a' before 'B' and put '-' wherever it likes.
    async with db.transaction() as conn:
        for key in ["ab", "é", "a:b", "B", "a-b", "a"]:
            await conn.execute("INSERT INTO sweep_health (name, scope, interval_seconds) VALUES (?, '', 60)", (key,))
    assert [r["name"] for r in await db.fetch_all("SELECT name FROM sweep_health ORDER BY name")] == [
        "B", "a", "a-b", "a:b", "ab", "é"]


# -- transactions and errors ----------------------------------------------------------------

async def test_a_statement_that_may_fail_leaves_the_transaction_usable(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(ADD_GUILD, (1,))
        with pytest.raises(IntegrityError):
            async with conn.may_fail():
                await conn.execute(ADD_GUILD, (1,))
        await conn.execute(ADD_GUILD, (2,))  # PostgreSQL would refuse this without the savepoint
    assert await db.fetch_value("SELECT count(*) FROM guilds") == 2


async def test_a_failed_statement_fails_the_transaction_whole(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as conn:
            await conn.execute(ADD_GUILD, (1,))
            await conn.execute(ADD_GUILD, (1,))
    assert await db.fetch_value("SELECT count(*) FROM guilds") == 0


async def test_inserts_return_their_new_id_and_a_conflict_returns_none(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(ADD_GUILD, (1,))
        first = await conn.fetch_value(
            "INSERT INTO members (guild_id, user_id, created_at, last_active_at) VALUES (1, 5, 'x', 'x') "
            "ON CONFLICT (guild_id, user_id) DO NOTHING RETURNING member_id")
        again = await conn.fetch_value(
            "INSERT INTO members (guild_id, user_id, created_at, last_active_at) VALUES (1, 5, 'x', 'x') "
            "ON CONFLICT (guild_id, user_id) DO NOTHING RETURNING member_id")
    assert isinstance(first, int) and again is None


async def test_a_long_id_list_is_one_parameter(db: Database) -> None:
    ids = list(range(1, 40_001))  # more than either engine's limit of bound variables
    async with db.transaction() as conn:
        await conn.executemany(ADD_GUILD, [(i,) for i in ids[:10]])
    subquery, param = db.ids(ids[5:])
    found = await db.fetch_all(f"SELECT guild_id FROM guilds WHERE guild_id IN ({subquery}) ORDER BY 1", (param,))  # noqa: S608
    assert [r["guild_id"] for r in found] == [6, 7, 8, 9, 10]


async def test_a_member_and_their_server_are_made_in_one_go_for_a_new_server(db: Database) -> None:
    async with db.transaction() as conn:
        member = await touch_in(conn, 77, 8, DEFAULT_START)
        quiet = await touch_in(conn, 78, 9, DEFAULT_START, active=False)
    assert (member.guild_id, member.user_id) == (77, 8)
    assert (quiet.guild_id, quiet.user_id) == (78, 9)
    assert await MemberRepository(db).get(78, 9) == quiet


async def test_a_plan_runs_as_one_transaction_on_either_engine(db: Database) -> None:
    def plan(guild_id: int) -> Plan[list[int]]:
        yield ADD_GUILD, (guild_id,)
        # the shared SQL: a row lock and IS NOT DISTINCT FROM, which SQLite takes without
        rows = yield ("SELECT guild_id FROM guilds WHERE timezone IS NOT DISTINCT FROM ? "
                      "ORDER BY guild_id FOR UPDATE SKIP LOCKED", (None,))
        return [r["guild_id"] for r in rows]

    assert await db.run_plan(plan(1)) == [1]
    async with db.transaction() as conn:  # the same plan, statement by statement
        assert await run_async(conn, plan(2)) == [1, 2]


async def test_a_failed_statement_ends_the_plan_and_nothing_of_it_stays(db: Database) -> None:
    closed = []

    def plan() -> Plan[None]:
        try:
            yield ADD_GUILD, (1,)
            yield ADD_GUILD, (1,)  # a unique key: IntegrityError on either engine
            yield ADD_GUILD, (2,)
        finally:
            closed.append(True)

    with pytest.raises(IntegrityError):
        await db.run_plan(plan())
    assert closed == [True]
    assert await db.fetch_value("SELECT count(*) FROM guilds") == 0
    with pytest.raises(IntegrityError):
        async with db.transaction() as conn:
            await run_async(conn, plan())
    assert closed == [True, True]
    assert await db.fetch_value("SELECT count(*) FROM guilds") == 0


def add_guild(guild_id: int) -> Plan[None]:
    yield ADD_GUILD, (guild_id,)


async def test_a_database_opened_read_only_reads_and_refuses_every_write(db: Database, config: Config) -> None:
    await db.execute(ADD_GUILD, (1,))
    async with database_for(config, read_only=True) as looking:
        assert await looking.fetch_value("SELECT count(*) FROM guilds") == 1
        assert await looking.schema_version() == bundled_migrations(db.dialect)[-1].version
        with pytest.raises(DatabaseUnavailableError, match="read-only"):
            await looking.execute(ADD_GUILD, (2,))
        with pytest.raises(DatabaseUnavailableError, match="read-only"):
            await looking.run_plan(add_guild(2))
        with pytest.raises(MigrationError, match="read-only"):
            await looking.migrate([*bundled_migrations(db.dialect), Migration(99, "later", "SELECT 1")])
    assert await db.fetch_value("SELECT count(*) FROM guilds") == 1


# -- PostgreSQL: versions, several processes, unavailability --------------------------------

@pytest.fixture
async def empty_postgresql(postgres_server: PostgresServer) -> AsyncIterator[PostgresDatabase]:
    """An open PostgreSQL database with no schema at all."""
    name = postgres_server.create_database(migrated=False)
    async with PostgresDatabase(postgres_server.url(name)) as database:
        yield database
    postgres_server.drop_database(name)


async def test_postgresql_records_versions_in_a_table_and_applies_only_pending_ones(
        empty_postgresql: PostgresDatabase) -> None:
    db = empty_postgresql
    migrations = bundled_migrations(POSTGRESQL)
    assert await db.schema_version() == 0
    assert await db.migrate(migrations[:1]) == 1
    await db.execute(ADD_GUILD, (1,))
    assert await db.migrate(migrations) == migrations[-1].version
    assert await db.fetch_value("SELECT count(*) FROM guilds") == 1  # data written at version 1 survives
    assert [r["version"] for r in await db.fetch_all("SELECT version FROM schema_migrations ORDER BY 1")] == [
        m.version for m in migrations]
    assert "schema_migrations" not in await db.tables()  # bookkeeping, not application data
    with pytest.raises(MigrationError, match="newer"):
        await db.migrate(migrations[:1])


async def test_a_failed_postgresql_migration_rolls_back_entirely(empty_postgresql: PostgresDatabase) -> None:
    db = empty_postgresql
    good = Migration(1, "good", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "bad", "CREATE TABLE b (x INTEGER);\nINSERT INTO a VALUES (1);\nTHIS IS NOT SQL;")
    with pytest.raises(MigrationError, match="0002_bad"):
        await db.migrate([good, bad])
    assert await db.schema_version() == 1
    assert "b" not in await db.tables()
    assert await db.fetch_value("SELECT count(*) FROM a") == 0
    await db.execute("INSERT INTO a VALUES (2)")  # usable afterwards
    assert await db.fetch_value("SELECT count(*) FROM a") == 1


async def test_processes_starting_together_apply_each_migration_once(
        empty_postgresql: PostgresDatabase) -> None:
    others = [PostgresDatabase(empty_postgresql.url) for _ in range(3)]
    for other in others:
        await other.open()
    try:
        versions = await asyncio.gather(empty_postgresql.migrate(), *(o.migrate() for o in others))
    finally:
        for other in others:
            await other.close()
    latest = bundled_migrations(POSTGRESQL)[-1].version
    assert versions == [latest] * 4
    assert await empty_postgresql.fetch_value("SELECT count(*) FROM schema_migrations") == latest


async def test_the_read_side_never_writes(db: Database) -> None:
    with pytest.raises(DatabaseUnavailableError):
        await db.fetch_all(f"{ADD_GUILD} RETURNING guild_id", (1,))
    assert await db.fetch_value("SELECT count(*) FROM guilds") == 0


async def test_an_unreachable_postgresql_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    db = PostgresDatabase(f"postgresql://kindred@/nowhere?host={tmp_path}&port=5999")
    with pytest.raises(DatabaseUnavailableError):
        await db.open()
    assert not db.is_open


async def end_our_sessions(server: PostgresServer) -> None:
    """The server ends every session of ours (a restart, a failover, an operator's hand)."""
    admin = await asyncpg.connect(server.url("postgres"))
    try:
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = 'kindred' AND pid != pg_backend_pid()")
    finally:
        await admin.close()


async def test_connections_the_server_ended_are_replaced_before_the_next_command(
        empty_postgresql: PostgresDatabase, postgres_server: PostgresServer) -> None:
    db = empty_postgresql
    await db.migrate()
    await asyncio.gather(*(db.fetch_value("SELECT count(*) FROM guilds") for _ in range(4)))  # several pooled
    await db.execute(ADD_GUILD, (1,))
    await end_our_sessions(postgres_server)
    await db.execute(ADD_GUILD, (2,))  # a command after the restart is not the one that finds out
    assert [r["guild_id"] for r in await db.fetch_all("SELECT guild_id FROM guilds ORDER BY 1")] == [1, 2]
    await end_our_sessions(postgres_server)
    async with db.transaction() as conn:
        await conn.execute(ADD_GUILD, (3,))
    assert await db.fetch_value("SELECT count(*) FROM guilds") == 3


async def test_a_server_gone_mid_transaction_is_unavailable(
        empty_postgresql: PostgresDatabase, postgres_server: PostgresServer) -> None:
    db = empty_postgresql
    await db.migrate()
    with pytest.raises(DatabaseUnavailableError):
        async with db.transaction() as conn:
            await conn.execute(ADD_GUILD, (1,))
            await end_our_sessions(postgres_server)
            await conn.execute(ADD_GUILD, (2,))
    assert await db.fetch_value("SELECT count(*) FROM guilds") == 0

