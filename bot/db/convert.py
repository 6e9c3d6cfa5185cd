"""Copy a SQLite database into an empty PostgreSQL database, then prove the copy.

`python -m bot db convert --to postgresql://…`. The whole copy is one PostgreSQL transaction:
the schema at the SQLite file's version, every row (parents before children), and the
identity counters set past the copied ids. A failure leaves the target as empty as it was.
The SQLite file is only read, inside one read transaction, so the copy and the check see the
same instant of it; what a bot wrote after that instant would not be copied, so a database a
running bot records its gateway in is refused (stop the bot first).
Then each table is compared: row counts, and a digest of every row in primary-key order.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import asyncpg

from bot.db.database import POSTGRESQL, ForeignKey, bundled_migrations, quote_ident
from bot.db.health import HealthRepository
from bot.db.postgres import PostgresDatabase, apply_in, write_transaction
from bot.db.sqlite import SqliteDatabase
from bot.domain.health import GATEWAY, SweepRecord, gateway_alive
from bot.errors import OperatorError

log = logging.getLogger(__name__)

CHUNK = 5000  # rows read and written at a time
HEALTH_VERSION = 7  # the migration that made `sweep_health` (0007_sweep_health.sql)


@dataclass(frozen=True, slots=True)
class TableCheck:
    """One table after the copy: rows on each side and whether every row is the same."""

    table: str
    source_rows: int
    target_rows: int
    same_content: bool

    @property
    def ok(self) -> bool:
        """Whether the copy of this table is exact."""
        return self.source_rows == self.target_rows and self.same_content


@dataclass(frozen=True, slots=True)
class Conversion:
    """What a conversion did."""

    version: int
    tables: tuple[TableCheck, ...]

    @property
    def ok(self) -> bool:
        """Whether every table was copied exactly."""
        return all(t.ok for t in self.tables)


async def target_objects(raw: asyncpg.Connection) -> int:
    """Count the tables, views and sequences in the target outside PostgreSQL's own schemas."""
    return int(await raw.fetchval(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"))


async def convert(source: SqliteDatabase, target: PostgresDatabase,
                  progress: Callable[[str], None] = lambda _: None, *, now: datetime | None = None) -> Conversion:
    """Copy every table of an open SQLite database into an open, empty PostgreSQL database and check it.

    Raises OperatorError if the source has no schema, a bot is running on it, or the target is not empty.
    """
    now = now or datetime.now(UTC)
    version = await source.schema_version()
    if version >= HEALTH_VERSION:
        # The copy is of one instant of the file: what a running bot wrote after it would be
        # missing from PostgreSQL, and the check (against the same instant) would not notice.
        gateway = await _live_gateway(source, now)
        if gateway is not None:
            raise OperatorError(
                f"a bot is running on this database (it recorded its gateway at {gateway.last_finished_at:%H:%M:%S} "
                "UTC): stop it, then convert; a bot that was killed counts as running for three of its minutes")
    if version == 0:
        raise OperatorError(f"the SQLite database at {source.location} has no Kindred schema: nothing to convert")
    migrations = [m for m in bundled_migrations(POSTGRESQL) if m.version <= version]
    if not migrations or migrations[-1].version != version:
        raise OperatorError(f"the SQLite database at {source.location} is at schema version {version}, "
                            "which this Kindred does not know: upgrade Kindred first")
    async with source.snapshot() as snapshot, target.session() as raw:
        reader = snapshot.raw
        tables = await _ordered_tables(source)
        async with write_transaction(raw):
            existing = await target_objects(raw)
            if existing:
                raise OperatorError(
                    f"the target database {target.location} is not empty ({existing} tables or other objects); "
                    "convert copies into an empty database only: create a new one (createdb) and try again")
            for migration in migrations:
                await apply_in(raw, migration)
            for table in tables:
                copied = await _copy_table(reader, raw, table, await source.columns(table))
                progress(f"{table}: {copied} rows copied")
            await _reset_identities(raw, tables)
        # Checked against the same instant of the SQLite file that was copied.
        checks = await _check_tables(source, reader, raw, tables)
    return Conversion(version, checks)


async def _live_gateway(source: SqliteDatabase, now: datetime) -> SweepRecord | None:
    """Return a running bot's gateway record in any scope (unsharded, or any process's shards), or None."""
    # A process running shards on SQLite records under its shards' scope (`Shards.scope`), not "".
    scopes = await source.fetch_all("SELECT scope FROM sweep_health WHERE name = ? ORDER BY scope", (GATEWAY,))
    for row in scopes:
        gateway = (await HealthRepository(source, row["scope"]).records()).get(GATEWAY)
        if gateway_alive(gateway, now):
            return gateway
    return None


async def verify(source: SqliteDatabase, target: PostgresDatabase) -> tuple[TableCheck, ...]:
    """Compare every table of the SQLite database with its copy: row counts and every row's content."""
    async with source.snapshot() as snapshot, target.session() as raw:
        return await _check_tables(source, snapshot.raw, raw, await _ordered_tables(source))


async def _check_tables(source: SqliteDatabase, reader: aiosqlite.Connection, raw: asyncpg.Connection,
                        tables: list[str]) -> tuple[TableCheck, ...]:
    return tuple([await _check_table(reader, raw, table, await source.primary_key(table)) for table in tables])


async def _ordered_tables(source: SqliteDatabase) -> list[str]:
    """Return the source's tables with every table after the tables it references."""
    tables = await source.tables()
    parents: dict[str, set[str]] = {}
    for table in tables:
        keys: list[ForeignKey] = await source.foreign_keys(table)
        parents[table] = {k.parent for k in keys if k.parent != table}
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in ordered and parents[t] <= set(ordered)]
        if not ready:
            raise OperatorError("the schema's foreign keys form a cycle; cannot order the copy")
        ordered += ready
    return ordered


async def _rows(reader: aiosqlite.Connection, sql: str) -> AsyncIterator[list[tuple[Any, ...]]]:
    async with reader.execute(sql) as cursor:
        while chunk := await cursor.fetchmany(CHUNK):
            yield [tuple(row) for row in chunk]


async def _copy_table(reader: aiosqlite.Connection, raw: asyncpg.Connection, table: str,
                      columns: list[str]) -> int:
    target_columns = [r["attname"] for r in await raw.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(quote_ident($1)) "
        "AND attnum > 0 AND NOT attisdropped ORDER BY attnum", table)]
    if target_columns != columns:
        raise OperatorError(f"table {table} has columns {columns} in SQLite but {target_columns} in PostgreSQL: "
                            "the two schemas differ at the same version (a bug; nothing was copied)")
    names = ", ".join(quote_ident(c) for c in columns)
    copied = 0
    async for chunk in _rows(reader, f"SELECT {names} FROM {quote_ident(table)}"):  # noqa: S608 - names from the schema
        await raw.copy_records_to_table(table, records=chunk, columns=columns)
        copied += len(chunk)
    return copied


async def _reset_identities(raw: asyncpg.Connection, tables: list[str]) -> None:
    """Move each identity counter past the largest copied id, so new rows get new ids."""
    for table in tables:
        for column in await raw.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(quote_ident($1)) "
                "AND attidentity != ''", table):
            name = column["attname"]
            await raw.execute(
                f"SELECT setval(pg_get_serial_sequence($1, $2), max({quote_ident(name)})) "  # noqa: S608 - names from the schema
                f"FROM {quote_ident(table)} HAVING max({quote_ident(name)}) IS NOT NULL", quote_ident(table), name)


async def _check_table(reader: aiosqlite.Connection, raw: asyncpg.Connection, table: str,
                       key: list[str]) -> TableCheck:
    order = ", ".join(quote_ident(c) for c in key)
    sql = f"SELECT * FROM {quote_ident(table)} ORDER BY {order}"  # noqa: S608 - names from the schema
    source_digest, source_rows = hashlib.sha256(), 0
    async for chunk in _rows(reader, sql):
        for row in chunk:
            source_digest.update(repr(row).encode())
        source_rows += len(chunk)
    target_digest, target_rows = hashlib.sha256(), 0
    async with raw.transaction(readonly=True):  # a cursor lives in a transaction
        async for record in raw.cursor(sql, prefetch=CHUNK):
            target_digest.update(repr(tuple(record.values())).encode())
            target_rows += 1
    return TableCheck(table, source_rows, target_rows, source_digest.digest() == target_digest.digest())
