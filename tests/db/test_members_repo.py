"""`touch_in`: the member row every command reads and marks, for new and returning members."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.db.database import Database, bundled_migrations
from bot.db.members import touch_in
from bot.db.sqlite import SqliteDatabase

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
GUILD = 900_000_000_000_000_002


async def test_a_new_member_gets_a_row_and_so_does_their_server(db: Database) -> None:
    async with db.transaction() as conn:
        member = await touch_in(conn, GUILD, 21, NOW)
    assert (member.guild_id, member.user_id, member.dm_closed_at) == (GUILD, 21, None)
    assert await db.fetch_value("SELECT count(*) FROM guilds WHERE guild_id = ?", (GUILD,)) == 1
    assert await db.fetch_value("SELECT last_active_at FROM members WHERE member_id = ?",
                                (member.member_id,)) == "2026-11-21T10:00:00+00:00"


async def test_a_returning_member_is_marked_active_and_their_closed_dm_mark_lifted(db: Database) -> None:
    async with db.transaction() as conn:
        first = await touch_in(conn, GUILD, 21, NOW)
    await db.execute("UPDATE members SET dm_closed_at = ? WHERE member_id = ?",
                     ("2026-11-21T11:00:00+00:00", first.member_id))
    later = NOW + timedelta(days=2)
    async with db.transaction() as conn:
        again = await touch_in(conn, GUILD, 21, later)
    assert again.member_id == first.member_id and again.dm_closed_at is None
    row = await db.fetch_one("SELECT dm_closed_at, last_active_at, created_at FROM members WHERE member_id = ?",
                             (first.member_id,))
    assert row is not None
    assert (row["dm_closed_at"], row["last_active_at"], row["created_at"]) == (
        None, "2026-11-23T10:00:00+00:00", "2026-11-21T10:00:00+00:00")
    assert await db.fetch_value("SELECT count(*) FROM members") == 1


async def test_the_same_user_in_another_server_is_another_member(db: Database) -> None:
    async with db.transaction() as conn:
        here = await touch_in(conn, GUILD, 21, NOW)
        there = await touch_in(conn, GUILD + 1, 21, NOW)
        here_again = await touch_in(conn, GUILD, 21, NOW)
    assert here.member_id == here_again.member_id != there.member_id


async def test_a_new_member_of_a_known_server_and_a_quiet_look_up(db: Database) -> None:
    async with db.transaction() as conn:
        first = await touch_in(conn, GUILD, 21, NOW)
        second = await touch_in(conn, GUILD, 22, NOW + timedelta(hours=1))
        # Being looked up without using the bot changes nothing about them.
        looked_up = await touch_in(conn, GUILD, 21, NOW + timedelta(hours=2), active=False)
    assert second.member_id != first.member_id and second.guild_id == GUILD
    assert looked_up == first
    assert await db.fetch_value("SELECT last_active_at FROM members WHERE member_id = ?",
                                (first.member_id,)) == "2026-11-21T10:00:00+00:00"


async def test_upgrading_makes_stored_closed_dm_marks_agree_across_servers(tmp_path: Path) -> None:
    migrations = bundled_migrations()
    before = next(m.version for m in migrations if m.name == "dm_closed_per_user") - 1
    async with SqliteDatabase(tmp_path / "k.sqlite3") as database:
        await database.migrate(migrations[:before])
        rows = [  # (guild, user, dm_closed_at, last_active_at)
            (1, 31, "2026-11-01T10:00:00+00:00", "2026-10-01T10:00:00+00:00"),  # refused...
            (2, 31, None, "2026-11-02T10:00:00+00:00"),                         # ...then used the bot here
            (1, 32, "2026-11-01T10:00:00+00:00", "2026-10-01T10:00:00+00:00"),  # refused, never back
            (2, 32, None, "2026-10-01T10:00:00+00:00"),                         # (met here before)
            (1, 33, "2026-11-01T10:00:00+00:00", "2026-10-01T10:00:00+00:00"),  # refused, used the bot,
            (2, 33, "2026-11-03T10:00:00+00:00", "2026-11-02T10:00:00+00:00"),  # refused again
        ]
        for guild in (1, 2):
            await database.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, 'x', 'x')", (guild,))
        await database.executemany(
            "INSERT INTO members (guild_id, user_id, dm_closed_at, created_at, last_active_at) VALUES (?, ?, ?, 'x', ?)",
            rows)
        await database.migrate(migrations)
        marks = {(r["guild_id"], r["user_id"]): r["dm_closed_at"]
                 for r in await database.fetch_all("SELECT guild_id, user_id, dm_closed_at FROM members")}
    assert marks == {
        (1, 31): None, (2, 31): None,
        (1, 32): "2026-11-01T10:00:00+00:00", (2, 32): "2026-11-01T10:00:00+00:00",
        (1, 33): "2026-11-03T10:00:00+00:00", (2, 33): "2026-11-03T10:00:00+00:00",
    }
