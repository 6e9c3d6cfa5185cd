"""Database trouble: a locked or read-only database gets a kind reply in time, /crisis still works,
and the bot carries on once the database is back.

Discord's 3-second answer deadline is on for these tests (`fake.interaction_deadline`): a kind
reply that comes after it is never seen by the member, who gets "the application did not
respond" instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.app import KindredBot
from bot.config import Config
from bot.db.database import BUSY_TIMEOUT, Database, DatabaseUnavailableError
from bot.domain.clock import FakeClock
from bot.domain.messages import OutgoingMessage, SendResult
from bot.fakediscord import FakeDiscord, Message, User
from bot.fakediscord.interactions import InteractionHandle
from bot.services.container import build_services
from bot.tree import DATABASE_TROUBLE
from tests.e2e.helpers import Community, running_kindred
from tests.reliability.support import CrashPlan, DiscordLikeNotifier

DISCORD_DEADLINE = 3.0
EIGHT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
NINE = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@contextmanager
def locked(database: Path) -> Iterator[None]:
    """Another process holds the write lock (WAL readers still read)."""
    blocker = sqlite3.connect(database, isolation_level=None, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    blocker.execute("UPDATE guilds SET updated_at = updated_at")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


async def answered(handle: InteractionHandle) -> Message:
    """The reply, which must be private and within Discord's deadline."""
    reply = await handle.reply()
    assert reply.ephemeral
    assert handle.response_time is not None and handle.response_time < DISCORD_DEADLINE
    return reply


async def stored_mood(bot: KindredBot, user: User, guild_id: int) -> int | None:
    return await bot.services.db.fetch_value(
        "SELECT c.mood FROM checkins c JOIN members m USING (member_id) WHERE m.guild_id = ? AND m.user_id = ?",
        (guild_id, user.id))


async def crisis_still_works(fake: FakeDiscord, user: User, community: Community) -> None:
    reply = await answered(await fake.slash("/crisis", user=user, guild=community.guild, country="GB"))
    assert "999" in reply.text and "116 123" in reply.text


async def set_up(fake: FakeDiscord, community: Community, clock: FakeClock) -> None:
    """The prompt at 09:00 London, and a first check-in by Alice (mood 3)."""
    clock.set(EIGHT)
    await answered(await fake.slash("/config checkins", user=community.mod, guild=community.guild,
                                    channel=community.checkins, time="09:00", timezone="Europe/London"))
    await answered(await fake.slash("/checkin", user=community.alice, guild=community.guild, mood=3))


async def test_a_locked_database_answers_kindly_in_time_and_the_bot_catches_up_when_it_is_free(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock,
        kindred_config: Config) -> None:
    fake, guild, alice = fake_discord, community.guild, community.alice
    fake.interaction_deadline = DISCORD_DEADLINE
    await set_up(fake, community, clock)
    clock.set(NINE)
    with locked(kindred_config.database_path):
        # The sweeps cannot claim the prompt (it waits; nothing is lost), and members using the
        # bot meanwhile queue behind them and each other: every one must hear back in time.
        sweeping = asyncio.create_task(kindred.run_sweeps_once())
        burst = await asyncio.gather(
            fake.slash("/checkin", user=alice, guild=guild, mood=1, note="rough night"),
            fake.slash("/pledge", user=community.bob, guild=guild),
            fake.slash("/settings timezone", user=community.mod, guild=guild, tz="Europe/Paris"),
            fake.slash("/reminder set", user=community.bob, guild=guild, time="20:00"))
        for handle in burst:
            assert (await answered(handle)).text == DATABASE_TROUBLE
        await crisis_still_works(fake, alice, community)
        assert await stored_mood(kindred, alice, guild.id) == 3  # nothing half-saved
        assert fake.messages_in(community.checkins) == []
    await sweeping  # its later sweeps find the database free again

    await kindred.run_sweeps_once()
    assert len(fake.messages_in(community.checkins)) == 1  # late, once
    again = await answered(await fake.slash("/checkin", user=alice, guild=guild, mood=4))
    assert "Updated your check-in" in again.text
    assert await stored_mood(kindred, alice, guild.id) == 4
    await kindred.run_sweeps_once()
    assert len(fake.messages_in(community.checkins)) == 1


@contextmanager
def opened_read_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The database file opens read-only, as on a read-only mount or a file the bot may not write."""
    connect = aiosqlite.connect

    def read_only(database: Any, **kwargs: Any) -> aiosqlite.Connection:
        kwargs.pop("uri", None)
        path = str(database).removeprefix("file://").split("?")[0]
        return connect(f"file:{path}?mode=ro", uri=True, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(aiosqlite, "connect", read_only)
        yield


async def test_a_read_only_database_answers_kindly_and_the_bot_catches_up_when_it_is_writable(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake, guild, alice = fake_discord, community.guild, community.alice
    fake.interaction_deadline = DISCORD_DEADLINE
    async with running_kindred(fake, kindred_config, clock=clock):
        await set_up(fake, community, clock)
    clock.set(NINE)
    with opened_read_only(monkeypatch):
        async with running_kindred(fake, kindred_config, clock=clock, sync=False) as bot:
            await bot.run_sweeps_once()
            for command, options in [("/checkin", {"mood": 1}), ("/pledge", {}), ("/reminder set", {"time": "20:00"})]:
                reply = await answered(await fake.slash(command, user=alice, guild=guild, **options))
                assert reply.text == DATABASE_TROUBLE, command
            await crisis_still_works(fake, alice, community)
            shown = await answered(await fake.slash("/settings show", user=community.bob, guild=guild))
            assert shown.text == DATABASE_TROUBLE  # even a first use writes the member's row
    assert fake.messages_in(community.checkins) == []

    async with running_kindred(fake, kindred_config, clock=clock, sync=False) as bot:
        await bot.run_sweeps_once()
        assert len(fake.messages_in(community.checkins)) == 1
        assert "Updated" in (await answered(await fake.slash("/checkin", user=alice, guild=guild, mood=5))).text
        assert await stored_mood(bot, alice, guild.id) == 5


async def test_waiting_for_the_writer_lock_is_bounded_too(tmp_path: Path) -> None:
    async with Database(tmp_path / "k.sqlite3", busy_timeout=0.2) as db:
        await db.migrate()
        release = asyncio.Event()

        async def slow_writer() -> None:  # e.g. a sweep waiting out another process's lock
            async with db.transaction():
                await release.wait()

        holder = asyncio.create_task(slow_writer())
        await asyncio.sleep(0)
        with pytest.raises(DatabaseUnavailableError):
            await db.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (1, 'x', 'x')")
        release.set()
        await holder
        assert await db.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (1, 'x', 'x')") == 1
    assert BUSY_TIMEOUT <= DISCORD_DEADLINE / 2  # room for Discord's latency and the reply itself


async def test_a_message_the_database_cannot_record_as_sent_is_not_sent_again(tmp_path: Path) -> None:
    # Discord accepted the prompt, then writes began to fail (another process took the lock; a
    # full disk is the same) before the outcome was stored: the drain must not send the
    # still-"pending" prompt again every 30 seconds, which Discord absorbs by nonce for about
    # 5 minutes and then posts again and again.
    config = dataclasses.replace(Config(), database_path=tmp_path / "k.sqlite3")
    clock = FakeClock(EIGHT)
    discord = DiscordLikeNotifier(clock)
    guild_id, channel_id = 990_000_000_000_000_001, 990_000_000_000_000_002
    lock = contextlib.ExitStack()
    process = discord.for_process(CrashPlan())

    class LockedAfterSend:
        async def send_dm(self, user_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
            raise AssertionError("no DM in this test")

        async def send_channel(self, channel_id: int, message: OutgoingMessage, *,
                               nonce: str | None = None) -> SendResult:
            result = await process.send_channel(channel_id, message, nonce=nonce)
            lock.enter_context(locked(config.database_path))
            return result

    async with Database(config.database_path, busy_timeout=0.05) as db:
        await db.migrate()
        services = build_services(config, db, clock, LockedAfterSend())
        await services.guild_config.set_checkins(guild_id, channel_id=channel_id, time="09:00",
                                                 timezone="Europe/London")
        clock.set(NINE)
        assert await services.checkins.sweep_prompts(NINE) == 1  # queued, not sent yet
        with lock:
            for _ in range(20):  # ten minutes of the scheduler's drains
                with contextlib.suppress(DatabaseUnavailableError):
                    await services.outbox.dispatch()
                clock.advance(timedelta(seconds=30))
        await services.scheduler.run_all_once()
        status = await db.fetch_value("SELECT status FROM outbox")
    assert [(d.target_id, d.at) for d in discord.delivered] == [(channel_id, NINE)]
    assert status == "sent"


async def test_nothing_is_sent_while_the_database_refuses_writes_and_it_goes_out_once_after(tmp_path: Path) -> None:
    # A send is claimed in the database first, so while writes fail nothing goes out (and so
    # nothing can go out twice); the prompt is posted late, once, when the database is back.
    config = dataclasses.replace(Config(), database_path=tmp_path / "k.sqlite3")
    clock = FakeClock(EIGHT)
    discord = DiscordLikeNotifier(clock)
    guild_id, channel_id = 990_000_000_000_000_001, 990_000_000_000_000_002
    async with Database(config.database_path, busy_timeout=0.05) as db:
        await db.migrate()
        services = build_services(config, db, clock, discord.for_process(CrashPlan()))
        await services.guild_config.set_checkins(guild_id, channel_id=channel_id, time="09:00",
                                                 timezone="Europe/London")
        clock.set(NINE)
        assert await services.checkins.sweep_prompts(NINE) == 1
        with locked(config.database_path):
            for _ in range(20):
                with contextlib.suppress(DatabaseUnavailableError):
                    await services.outbox.dispatch()
                clock.advance(timedelta(seconds=30))
        assert discord.delivered == []
        await services.scheduler.run_all_once()
        await services.scheduler.run_all_once()
        status = await db.fetch_value("SELECT status FROM outbox")
    assert [(d.target_id, d.at) for d in discord.delivered] == [(channel_id, NINE + timedelta(minutes=10))]
    assert status == "sent"


async def test_crisis_shows_the_members_plan_first_and_answers_in_time_without_it_when_reads_stall_or_stop(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, kindred_config: Config) -> None:
    fake, guild, alice = fake_discord, community.guild, community.alice
    fake.interaction_deadline = DISCORD_DEADLINE
    await kindred.services.coping.save_plan(guild.id, alice.id, {"people": "Sam, my sponsor"})

    async def crisis() -> Message:
        reply = await answered(await fake.slash("/crisis", user=alice, guild=guild, country="GB"))
        assert "999" in reply.text and "116 123" in reply.text
        return reply

    # Another process holds the write lock: reads still work, so the plan is there, first.
    with locked(kindred_config.database_path):
        reply = await crisis()
        assert reply.embeds[0]["title"] == "📋 Your plan" and "Sam, my sponsor" in reply.text

    # A read stuck behind a long one (the reader's only thread is busy): the plan cannot come in
    # time, so /crisis answers without it.
    release = threading.Event()
    stuck = asyncio.ensure_future(kindred.db.reader._execute(release.wait, 30))
    try:
        assert "Sam, my sponsor" not in (await crisis()).text
        # The plan form cannot open without the plan (an empty one would overwrite it when saved).
        refused = await answered(await fake.slash("/plan edit", user=alice, guild=guild))
        assert refused.text == DATABASE_TROUBLE
    finally:
        release.set()
        await stuck

    # The database goes away altogether: the same.
    await kindred.db.close()
    assert "Sam, my sponsor" not in (await crisis()).text
    assert await kindred.try_open_database()
    assert "Sam, my sponsor" in (await crisis()).text
