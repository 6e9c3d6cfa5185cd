"""`/config` changes that move every member's schedule answer within Discord's 3-second deadline.

A server of a few thousand members: each has a check-in reminder and a recovery counter. A new
server zone (`/config checkins`) moves the reminders and celebrations of everyone who follows
the server's zone; a ladder change (`/config milestones …`) moves every counter's next
celebration. The reply must come in time, through the real discord.py and the loopback
server with the deadline switched on, and every member's next due instant must be right
afterwards — across the night the clocks go forward in London.

Time alone would not catch the old shape here: this machine's disk syncs fast, and one
transaction per member took about a second for 3,000 members; on an ordinary disk each
commit costs a sync, and the same work took longer than Discord waits. So the tests also
count commits (a handful per command, not one per member) and require the command to
defer first, since a large enough server always makes the work longer than a second.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.app import KindredBot
from bot.domain.clock import FakeClock
from bot.domain.localtime import next_occurrence, occurrence_on, parse_hhmm, to_utc_text
from bot.fakediscord import FakeDiscord
from bot.fakediscord.interactions import InteractionHandle
from tests.e2e.helpers import Community

DISCORD_DEADLINE = 3.0
MEMBERS = 3_000
MAX_COMMITS = 10  # per command, whatever the number of members
BASE_USER = 800_000_000_000_000_000
# Saturday noon: London's clocks go forward at 01:00 UTC tomorrow; New York's already have.
NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
START = date(2026, 2, 13)  # every counter: day 43 today, 60 days on 14 April, 45 days on 30 March
REMINDER_TIMES = ("01:30", "09:00", "23:30")  # 01:30 does not exist in London tomorrow
OWN_ZONES = (None, None, "Asia/Kolkata", None, "America/St_Johns")  # most follow the server's zone


def own_zone(i: int) -> str | None:
    return OWN_ZONES[i % len(OWN_ZONES)]


async def seed(bot: KindredBot, guild_id: int, server_zone: str) -> None:
    """Members with a reminder and a counter each, scheduled as the bot itself would have."""
    stamp = to_utc_text(NOW)
    rows = []
    for i in range(MEMBERS):
        zone_name = own_zone(i) or server_zone
        remind = REMINDER_TIMES[i % len(REMINDER_TIMES)]
        due = next_occurrence(NOW, parse_hhmm(remind), ZoneInfo(zone_name))
        rows.append((i, own_zone(i), remind, zone_name, to_utc_text(due)))
    async with bot.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO members (member_id, guild_id, user_id, timezone, created_at, last_active_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(1000 + i, guild_id, BASE_USER + i, tz, stamp, stamp) for i, tz, _, _, _ in rows])
        await conn.executemany(
            "INSERT INTO checkin_reminders (member_id, remind_time, timezone, next_due_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(1000 + i, remind, zone_name, due, stamp, stamp) for i, _, remind, zone_name, due in rows])
        await conn.executemany(
            "INSERT INTO recovery_counters (counter_id, member_id, guild_id, name, name_key, created_at, updated_at) "
            "VALUES (?, ?, ?, 'recovery', 'recovery', ?, ?)",
            [(5000 + i, 1000 + i, guild_id, stamp, stamp) for i in range(MEMBERS)])
        await conn.executemany(
            "INSERT INTO recovery_periods (counter_id, member_id, start_date, created_at) VALUES (?, ?, ?, ?)",
            [(5000 + i, 1000 + i, START.isoformat(), stamp) for i in range(MEMBERS)])
    await bot.services.recovery.reschedule_guild(guild_id)


async def a_large_server(fake: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock,
                         server_zone: str) -> int:
    """Prompts on in `server_zone`, then MEMBERS members; return the celebration hour."""
    clock.set(NOW)
    await answered_in_time(await fake.slash("/config checkins", user=community.mod, guild=community.guild,
                                            channel=community.checkins, time="09:00", timezone=server_zone))
    await seed(kindred, community.guild.id, server_zone)
    return kindred.config.defaults.celebration_hour


async def answered_in_time(handle: InteractionHandle) -> str:
    reply = await handle.reply(timeout=30)
    assert reply.ephemeral
    assert handle.response_time is not None and handle.response_time < DISCORD_DEADLINE, (
        f"answered after {handle.response_time:.2f}s")
    return reply.text


@contextlib.asynccontextmanager
async def rescheduling(bot: KindredBot, fake: FakeDiscord, command: str, **options: object) -> AsyncIterator[str]:
    """Run a command at scale: deferred at once, answered in time, in a handful of commits."""
    commits: list[str] = []
    await bot.db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql.strip() == "COMMIT" else None)
    try:
        handle = await fake.slash(command, **options)  # type: ignore[arg-type]
        text = await answered_in_time(handle)
    finally:
        await bot.db.conn.set_trace_callback(None)
    assert len(commits) <= MAX_COMMITS, f"{command} committed {len(commits)} times for {MEMBERS} members"
    assert handle.deferred, f"{command} may take longer than a second with many members: defer first"
    yield text


async def reminders(bot: KindredBot) -> list[sqlite3.Row]:
    return await bot.db.fetch_all(
        "SELECT m.member_id, m.timezone AS own, r.remind_time, r.timezone, r.next_due_at "
        "FROM checkin_reminders r JOIN members m USING (member_id) WHERE m.member_id >= 1000 ORDER BY m.member_id")


async def celebrations(bot: KindredBot) -> list[sqlite3.Row]:
    return await bot.db.fetch_all(
        "SELECT m.timezone AS own, c.next_milestone_days, c.next_celebration_at FROM recovery_counters c "
        "JOIN members m USING (member_id) WHERE c.counter_id >= 5000 ORDER BY c.counter_id")


def assert_celebrations_at(rows: list[sqlite3.Row], days: int, server_zone: str, hour: int) -> None:
    assert len(rows) == MEMBERS
    wrong = []
    for row in rows:
        tz = ZoneInfo(row["own"] or server_zone)
        expected = to_utc_text(occurrence_on(START + timedelta(days=days), time(hour), tz))
        if (row["next_milestone_days"], row["next_celebration_at"]) != (days, expected):
            wrong.append((row["own"], row["next_milestone_days"], row["next_celebration_at"], expected))
    assert wrong == [], f"{len(wrong)} counters scheduled wrongly, e.g. {wrong[:3]}"


async def test_a_new_server_zone_reschedules_thousands_of_members_in_time(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake, guild, mod = fake_discord, community.guild, community.mod
    hour = await a_large_server(fake, community, kindred, clock, "America/New_York")

    fake.interaction_deadline = DISCORD_DEADLINE
    async with rescheduling(kindred, fake, "/config checkins", user=mod, guild=guild, channel=community.checkins,
                            time="09:00", timezone="Europe/London") as text:
        assert "Europe/London" in text

    rows = await reminders(kindred)
    assert len(rows) == MEMBERS
    wrong = []
    for row in rows:
        zone_name = row["own"] or "Europe/London"
        expected = to_utc_text(next_occurrence(NOW, parse_hhmm(row["remind_time"]), ZoneInfo(zone_name)))
        if (row["timezone"], row["next_due_at"]) != (zone_name, expected):
            wrong.append((row["member_id"], row["remind_time"], row["timezone"], row["next_due_at"], expected))
    assert wrong == [], f"{len(wrong)} reminders scheduled wrongly, e.g. {wrong[:3]}"
    # 09:00 tomorrow in London is already summer time: 08:00 UTC, not 09:00.
    nine = [r for r in rows if r["own"] is None and r["remind_time"] == "09:00"]
    assert nine and {r["next_due_at"] for r in nine} == {to_utc_text(datetime(2026, 3, 29, 8, 0, tzinfo=UTC))}
    assert_celebrations_at(await celebrations(kindred), 60, "Europe/London", hour)


async def test_a_ladder_change_reschedules_thousands_of_counters_in_time(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    fake, guild, mod = fake_discord, community.guild, community.mod
    hour = await a_large_server(fake, community, kindred, clock, "Europe/London")
    assert_celebrations_at(await celebrations(kindred), 60, "Europe/London", hour)

    fake.interaction_deadline = DISCORD_DEADLINE
    async with rescheduling(kindred, fake, "/config milestones add", user=mod, guild=guild, days=45) as added:
        assert "45" in added
    assert_celebrations_at(await celebrations(kindred), 45, "Europe/London", hour)

    async with rescheduling(kindred, fake, "/config milestones remove", user=mod, guild=guild, days=45) as removed:
        assert "45" in removed
    assert_celebrations_at(await celebrations(kindred), 60, "Europe/London", hour)

    async with rescheduling(kindred, fake, "/config milestones add", user=mod, guild=guild, days=50):
        pass
    assert_celebrations_at(await celebrations(kindred), 50, "Europe/London", hour)
    async with rescheduling(kindred, fake, "/config milestones reset", user=mod, guild=guild) as reset:
        assert "default" in reset
    assert_celebrations_at(await celebrations(kindred), 60, "Europe/London", hour)
