"""Durability: SIGKILL in the middle of a burst of `/checkin` loses no acknowledged check-in.

The real `python -m bot run` process serves forty members checking in at once through the
loopback Discord and is killed with SIGKILL (no shutdown, no checkpoint) while the second half
of the burst is in flight. Every check-in whose success reply reached Discord must then be in
the database exactly as acknowledged — read with the sqlite3 module (or a PostgreSQL session of
our own) while the bot is dead — and
a restarted bot must show it and take new check-ins.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from bot.fakediscord import FakeDiscord, User
from bot.fakediscord.interactions import InteractionHandle
from tests.e2e.helpers import BotProcess, Community, bot_env, run_cli

BURST = 40
SUCCESS = "Checked in for"


STORED = ("SELECT m.user_id, c.mood, c.craving, c.note FROM checkins c JOIN members m USING (member_id) "
          "WHERE m.guild_id = ?")


async def stored_checkins(database: Path, url: str | None, guild_id: int) -> dict[int, tuple[int, int | None, str | None]]:
    """user id → (mood, craving, note), read straight from the file (or from PostgreSQL by a session of our own)."""
    if url is not None:
        conn = await asyncpg.connect(url)
        try:
            rows = [tuple(r) for r in await conn.fetch(STORED.replace("?", "$1"), guild_id)]
        finally:
            await conn.close()
    else:
        with sqlite3.connect(database) as file:
            assert file.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = file.execute(STORED, (guild_id,)).fetchall()
    return {user_id: (mood, craving, note) for user_id, mood, craving, note in rows}


@pytest.mark.slow
async def test_sigkill_during_a_checkin_burst_keeps_every_acknowledged_checkin(
        fake_discord: FakeDiscord, community: Community, bot_process: Callable[..., Awaitable[BotProcess]],
        tmp_path: Path, database_url: str | None) -> None:
    fake, guild = fake_discord, community.guild
    members: list[User] = []
    for i in range(BURST):
        members.append(fake.add_user(f"member{i}"))
        fake.add_member(guild, members[-1])
    database = tmp_path / "kindred.sqlite3"
    code, output = await run_cli("sync", env=bot_env(fake, database))
    assert code == 0, output
    first = await bot_process()

    sent: dict[int, tuple[int, int, str]] = {}
    handles: dict[int, InteractionHandle] = {}

    async def check_in(i: int) -> None:
        user = members[i]
        sent[user.id] = (i % 5 + 1, i % 11, f"burst note {i}")
        mood, craving, note = sent[user.id]
        handles[user.id] = await fake.slash("/checkin", user=user, guild=guild, mood=mood, craving=craving, note=note)

    def acknowledged() -> dict[int, str]:
        return {user_id: h.replies[0].content for user_id, h in handles.items() if h.replies}

    half = BURST // 2
    for i in range(half):
        await check_in(i)
    await fake.wait_for(lambda: len(acknowledged()) >= half, what="the first half of the burst answered")
    for i in range(half, BURST):
        await check_in(i)
    # Killed the moment the last check-in is sent, while the bot works through the second half:
    # nothing runs between that send and the signal, so at least the last cannot have been answered.
    # (Waiting for half of one burst of 40 instead let PostgreSQL answer all 40 before the kill.)
    assert await first.kill() == -9

    acked = acknowledged()
    assert BURST // 2 <= len(acked) < BURST
    assert all(SUCCESS in text for text in acked.values()), acked
    stored = await stored_checkins(database, database_url, guild.id)
    for user_id in acked:
        assert stored.get(user_id) == sent[user_id], user_id
    assert set(stored) <= set(sent)  # nothing stored that nobody sent

    await bot_process()
    someone = next(iter(acked))
    user = next(m for m in members if m.id == someone)
    stats = await (await fake.slash("/mystats", user=user, guild=guild, days=7)).reply()
    assert stats.ephemeral and "**1** of 7 days" in stats.content
    again = await (await fake.slash("/checkin", user=user, guild=guild, mood=5)).reply()
    assert again.ephemeral and "Updated your check-in" in again.content
