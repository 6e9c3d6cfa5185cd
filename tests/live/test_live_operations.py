"""Retention and Discord trouble, from a bot process that stays up on a live clock."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta

from bot.fakediscord import FakeDiscord
from tests.e2e.helpers import Community
from tests.live.conftest import LiveStarter
from tests.live.support import ON_TIME, local

PROMPTS = "POST /channels/{channel_id}/messages"


async def test_the_retention_purge_runs_on_its_own_each_day(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    carol = fake_discord.add_user("carol")
    fake_discord.add_member(community.guild, carol)
    kindred = await live(datetime(2027, 1, 11, 10, 0, tzinfo=UTC), config="[privacy]\nretention_days = 30\n")
    for member in (carol, community.alice):
        await kindred.run("/settings timezone", user=member, tz="Europe/Paris")

    def stored(user_id: int) -> bool:
        return bool(kindred.query("SELECT 1 FROM members WHERE user_id = ?", (user_id,)))

    # 30 days on, Carol has not used Kindred since 11 January and Alice comes back.
    await kindred.jump(datetime(2027, 2, 10, 0, 5, tzinfo=UTC))
    await kindred.run("/settings show", user=community.alice)
    await kindred.ticks_past(datetime(2027, 2, 10, 0, 8, tzinfo=UTC))
    assert stored(carol.id) and stored(community.alice.id), "nobody has been away for more than 30 days yet"

    # (The jump skipped the daily run due at 00:00 on 10 February: it ran once, late, just now.)
    # At midnight UTC on 11 February the daily purge runs by itself: Carol's 30 days are over,
    # Alice's are not.
    await kindred.jump(datetime(2027, 2, 10, 23, 57, tzinfo=UTC))
    await kindred.ticks_past(datetime(2027, 2, 10, 23, 59, tzinfo=UTC))
    assert stored(carol.id), "the purge waits for its daily run"
    await kindred.wait_for(lambda: not stored(carol.id), what="Carol's data to be purged")

    def purge_started() -> datetime:
        [(started,)] = kindred.query("SELECT last_started_at FROM sweep_health WHERE name = 'retention-purge'")
        return datetime.fromisoformat(started)

    midnight = datetime(2027, 2, 11, 0, 0, tzinfo=UTC)
    await kindred.wait_for(lambda: purge_started() >= midnight, what="the purge to record its run")
    assert purge_started() < midnight + ON_TIME
    assert stored(community.alice.id)


async def test_a_5xx_burst_during_a_fan_out_is_retried_without_loss_or_duplicates(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    guilds = [community.guild] + [fake_discord.add_guild(f"Circle {i}", channels=["check-ins"]) for i in range(11)]
    for guild in guilds[1:]:
        fake_discord.add_member(guild, community.mod, manage_guild=True)
    channels = [g.channel("check-ins") for g in guilds]
    monday = date(2027, 1, 11)
    kindred = await live(local(monday, 8, 0, "Europe/London"))
    for guild, channel in zip(guilds, channels, strict=True):
        await kindred.run("/config checkins", user=community.mod, guild=guild,
                          options={"channel": channel, "time": "09:00", "timezone": "Europe/London"})

    # Five sends are refused outright (503), and three more are carried out by Discord but their
    # answer is lost (504 after the message was created): only the nonce can tell.
    fake_discord.faults.server_error(PROMPTS, times=5, status=503)
    fake_discord.faults.server_error(PROMPTS, times=3, status=504, after_handling=True)
    await kindred.approach(local(monday, 9, 0, "Europe/London"))
    await kindred.wait_for(lambda: all(fake_discord.messages_in(c) for c in channels), timeout=40,
                           what="a prompt in every server")
    await kindred.jump(local(monday, 9, 4, "Europe/London"))
    await kindred.ticks_past(local(monday, 9, 6, "Europe/London"))
    assert [len(fake_discord.messages_in(c)) for c in channels] == [1] * len(channels)
    assert sorted(status for _, status in fake_discord.faults.injected) == [503] * 5 + [504] * 3
    sent = sorted([await kindred.sent_at(fake_discord.messages_in(c)[0]) for c in channels])
    due = local(monday, 9, 0, "Europe/London")
    assert due <= sent[0] < due + timedelta(seconds=10) and sent[-1] < due + timedelta(minutes=3)
    assert kindred.query("SELECT count(*) FROM outbox WHERE status != 'sent'") == [(0,)]


async def test_status_sees_a_killed_process_once_three_of_its_minutes_have_passed(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    kindred = await live(datetime(2027, 1, 11, 9, 0, tzinfo=UTC))
    await kindred.ticks_past(datetime(2027, 1, 11, 9, 2, tzinfo=UTC))
    code, output = await kindred.cli("status")
    assert code == 0 and ": healthy" in output, output

    await kindred.proc.kill()  # no clean shutdown: nothing says it stopped
    # From here the clock runs at normal speed, so how long `status` itself takes does not count.
    killed = kindred.clock.now()
    kindred.clock.jump(killed + timedelta(minutes=1, seconds=30), rate=1)
    code, output = await kindred.cli("status")
    assert code == 0, f"a minute or two of silence is within three intervals:\n{output}"
    kindred.clock.jump(killed + timedelta(minutes=5), rate=1)
    code, output = await kindred.cli("status")
    assert code == 1 and "FAIL  bot: nothing is running (last seen " in output, output
    assert "FAIL  sweep checkin-prompts: silent for " in output and "FAIL  gateway: not heard from for " in output


async def test_the_ops_channel_hears_once_when_the_database_is_unreachable_and_once_when_it_recovers(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    ops = fake_discord.add_channel(community.guild, "ops")
    kindred = await live(datetime(2027, 1, 11, 9, 0, tzinfo=UTC), config=f"[bot]\nops_channel_id = {ops.id}\n")
    await kindred.wait_for(lambda: fake_discord.messages_in(ops), what="the start-up notice")
    [started] = fake_discord.messages_in(ops)
    assert started.content.startswith("Kindred is up")

    def notices() -> list[str]:
        return [m.content for m in fake_discord.messages_in(ops)[1:]]

    # Another process holds the database's write lock for a few of the bot's minutes.
    blocker = sqlite3.connect(kindred.database, timeout=5, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        await kindred.wait_for(notices, what="the database notice")
        held_until = kindred.clock.now() + timedelta(minutes=3)  # (its records cannot be written meanwhile)
        await kindred.wait_for(lambda: kindred.clock.now() > held_until, what="three minutes of the bot's clock")
        assert len(notices()) == 1, notices()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await kindred.wait_for(lambda: len(notices()) == 2, what="the recovery notice")
    unreachable, recovered = notices()
    assert unreachable.startswith("⚠️ Kindred: database — unreachable") and "python -m bot status" in unreachable
    assert recovered == "✅ Kindred: database has recovered."
    await kindred.ticks_past(kindred.clock.now() + timedelta(minutes=2))
    assert len(notices()) == 2
