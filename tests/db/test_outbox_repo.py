"""The outbox table: bodies kept only while unsent, and withdrawing unsent messages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.db.database import Database, bundled_migrations
from bot.db.outbox import NewOutboxItem, cancel_in, cancel_naming_in, enqueue
from bot.db.sqlite import SqliteDatabase
from bot.domain.messages import OutgoingMessage

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
G1, G2 = 900_000_000_000_000_001, 900_000_000_000_000_002
ALICE = 100_000_000_000_000_001


async def add(db: Database, key: str, text: str, guild_id: int = G1, target: str = "dm") -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, 'x', 'x') "
                           "ON CONFLICT DO NOTHING", (guild_id,))
        await enqueue(conn, NewOutboxItem(key, "test", target, 5, OutgoingMessage(text), guild_id), not_before=NOW,
                      now=NOW)


async def statuses(db: Database) -> dict[str, tuple[str, str | None]]:
    return {r["dedupe_key"]: (r["status"], r["payload"])
            for r in await db.fetch_all("SELECT dedupe_key, status, payload FROM outbox")}


async def test_upgrading_drops_the_bodies_of_finished_messages(tmp_path: Path) -> None:
    migrations = bundled_migrations()
    before = next(m.version for m in migrations if m.name == "outbox_keep_no_body") - 1
    async with SqliteDatabase(tmp_path / "k.sqlite3") as db:
        await db.migrate(migrations[:before])
        for key in ("a", "b", "c", "d"):
            await add(db, key, f"words of {key}")
        await db.execute("UPDATE outbox SET status = 'sent', sent_at = 'x', message_id = 7 WHERE dedupe_key = 'a'")
        await db.execute("UPDATE outbox SET status = 'undeliverable' WHERE dedupe_key = 'b'")
        await db.execute("UPDATE outbox SET status = 'cancelled' WHERE dedupe_key = 'c'")
        await db.migrate(migrations)
        assert await statuses(db) == {"a": ("sent", None), "b": ("undeliverable", None), "c": ("cancelled", None),
                                      "d": ("pending", '{"content":"words of d"}')}
        assert await db.fetch_value("SELECT message_id FROM outbox WHERE dedupe_key = 'a'") == 7
        # From now on the schema itself refuses a finished message with a body.
        with pytest.raises(Exception, match="CHECK"):
            await db.execute("UPDATE outbox SET status = 'sent' WHERE dedupe_key = 'd'")


async def test_cancel_by_keys_and_by_key_prefix(db: Database) -> None:
    for key in ("milestone:1:7", "milestone:1:30", "milestone:12:7", "nudge:1", "nudge:2"):
        await add(db, key, "x", target="channel" if key == "milestone:1:30" else "dm")
    async with db.transaction() as conn:
        assert await cancel_in(conn, key_prefix="milestone:1:", target="channel") == 1
        assert await cancel_in(conn, key_prefix="milestone:1:") == 1  # the other; not period 12's
        assert await cancel_in(conn, keys=["nudge:2", "nudge:9"]) == 1
        assert await cancel_in(conn, keys=[]) == 0
        with pytest.raises(ValueError, match="give keys"):
            await cancel_in(conn)
    assert {k for k, (status, _) in (await statuses(db)).items() if status == "pending"} == {"milestone:12:7", "nudge:1"}


async def test_messages_naming_a_deleted_member_are_withdrawn_in_that_server_only(db: Database) -> None:
    await add(db, "request", f"👋 <@{ALICE}> would like to be your buddy")
    await add(db, "link", f"see https://discord.com/users/{ALICE}")
    await add(db, "longer-number", f"message 9{ALICE}3 is someone else's")
    await add(db, "other-server", f"<@{ALICE}> in another server", guild_id=G2)
    async with db.transaction() as conn:
        assert await cancel_naming_in(conn, G1, ALICE) == 2
    found = await statuses(db)
    assert {k for k, (status, _) in found.items() if status == "cancelled"} == {"request", "link"}
    assert found["request"] == ("cancelled", None)
