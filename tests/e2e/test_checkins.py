"""Check-ins end to end: the real bot and discord.py against the loopback Discord server."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image

from bot.app import KindredBot
from bot.config import Config
from bot.domain.clock import FakeClock
from bot.fakediscord import FakeDiscord, FakeDiscordError, Message
from tests.e2e.helpers import Community, running_kindred

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SHAME_WORDS = ("failed", "lost", "reset")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def assert_kind(text: str) -> None:
    for word in SHAME_WORDS:
        assert word not in text.lower(), text


async def configure_prompt(fake: FakeDiscord, community: Community, at: str = "09:00", tz: str = "Europe/London") -> None:
    h = await fake.slash("/config checkins", user=community.mod, guild=community.guild,
                         options={"channel": community.checkins, "time": at, "timezone": tz})
    assert (await h.reply()).ephemeral


async def post_prompt(fake: FakeDiscord, community: Community, bot: KindredBot, clock: FakeClock) -> Message:
    clock.set(utc(2026, 11, 21, 8, 0))
    await configure_prompt(fake, community)
    clock.set(utc(2026, 11, 21, 9, 0))
    await bot.run_sweeps_once()
    prompts = fake.messages_in(community.checkins)
    assert len(prompts) == 1
    return prompts[0]


async def stored_checkin(bot: KindredBot, community: Community, day: date) -> tuple[int, int | None, str | None] | None:
    member = await bot.services.members.get(community.guild.id, community.alice.id)
    if member is None:
        return None
    row = await bot.services.checkins_repo.get_checkin(member.member_id, day)
    return None if row is None else (row.mood, row.craving, row.note)


async def test_commands_are_synced_with_the_spec_names(fake_discord: FakeDiscord, kindred: KindredBot) -> None:
    commands = {c["name"]: c for c in fake_discord.commands()}
    assert {"checkin", "pledge", "mystats", "reminder"} <= set(commands)
    assert [o["name"] for o in commands["checkin"]["options"]] == ["mood", "craving", "note", "day"]
    mood = commands["checkin"]["options"][0]
    assert (mood["min_value"], mood["max_value"], mood["required"]) == (1, 5, True)
    assert [o["name"] for o in commands["mystats"]["options"]] == ["days"]
    assert {o["name"] for o in commands["reminder"]["options"]} == {"set", "off"}


async def test_prompt_is_posted_once_with_buttons_and_the_modal_stores_a_checkin(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    prompt = await post_prompt(fake_discord, community, kindred, clock)
    assert prompt.custom_ids == ["kindred:checkin", "kindred:pledge"]
    assert "Daily check-in" in prompt.content
    await kindred.run_sweeps_once()
    assert len(fake_discord.messages_in(community.checkins)) == 1

    opened = await fake_discord.click(prompt, user=community.alice, custom_id="kindred:checkin")
    modal = await opened.modal()
    assert modal["custom_id"] == "kindred:checkin:modal"
    submitted = await fake_discord.submit_modal("kindred:checkin:modal", {"mood": "4", "craving": "2", "note": "walked the dog"},
                                                user=community.alice)
    reply = await submitted.reply()
    assert reply.ephemeral
    assert "mood **4/5**" in reply.content and "day 1" in reply.content
    assert_kind(reply.content)
    assert await stored_checkin(kindred, community, date(2026, 11, 21)) == (4, 2, "walked the dog")


@pytest.mark.parametrize("mood", ["6", "great"])
async def test_modal_with_a_bad_mood_gets_a_kind_error_and_stores_nothing(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock, mood: str) -> None:
    prompt = await post_prompt(fake_discord, community, kindred, clock)
    await (await fake_discord.click(prompt, user=community.alice, custom_id="kindred:checkin")).modal()
    submitted = await fake_discord.submit_modal("kindred:checkin:modal", {"mood": mood}, user=community.alice)
    reply = await submitted.reply()
    assert reply.ephemeral
    assert "1 to 5" in reply.content and "haven't saved anything" in reply.content
    assert await stored_checkin(kindred, community, date(2026, 11, 21)) is None


async def test_pledge_button_once_a_day(fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
                                        clock: FakeClock) -> None:
    prompt = await post_prompt(fake_discord, community, kindred, clock)
    first = await (await fake_discord.click(prompt, user=community.bob, custom_id="kindred:pledge")).reply()
    assert first.ephemeral and "pledge is made" in first.content and "**1 day**" in first.content
    again = await (await fake_discord.click(prompt, user=community.bob, custom_id="kindred:pledge")).reply()
    assert again.ephemeral and "already made today's pledge" in again.content


async def test_slash_checkin_updates_the_same_day_and_refuses_old_days(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    guild, alice = community.guild, community.alice
    first = await (await fake_discord.slash("/checkin", user=alice, guild=guild, mood=2, note="long night")).reply()
    assert first.ephemeral and "Checked in" in first.content and "/crisis" in first.content
    second = await (await fake_discord.slash("/checkin", user=alice, guild=guild, mood=4, craving=1)).reply()
    assert second.ephemeral and "Updated" in second.content
    assert await stored_checkin(kindred, community, date(2026, 11, 21)) == (4, 1, "long night")
    too_old = await (await fake_discord.slash("/checkin", user=alice, guild=guild, mood=3, day="2026-11-01")).reply()
    assert too_old.ephemeral and "7 days back" in too_old.content
    assert await stored_checkin(kindred, community, date(2026, 11, 1)) is None
    yesterday = await (await fake_discord.slash("/checkin", user=alice, guild=guild, mood=3, day="2026-11-20")).reply()
    assert "**2 days in a row**" in yesterday.content


async def test_slash_pledge_reply_shows_the_streak(fake_discord: FakeDiscord, community: Community,
                                                   kindred: KindredBot, clock: FakeClock) -> None:
    await (await fake_discord.slash("/pledge", user=community.alice, guild=community.guild)).reply()
    clock.advance(timedelta(days=1))
    reply = await (await fake_discord.slash("/pledge", user=community.alice, guild=community.guild)).reply()
    assert reply.ephemeral and "**2 days**" in reply.content


async def test_mystats_defers_and_attaches_a_png_chart(fake_discord: FakeDiscord, community: Community,
                                                       kindred: KindredBot, clock: FakeClock) -> None:
    start = clock.now()
    for offset, mood in [(0, 2), (1, 3), (3, 5)]:
        clock.set(start + timedelta(days=offset))
        await (await fake_discord.slash("/checkin", user=community.alice, guild=community.guild, mood=mood)).reply()
    h = await fake_discord.slash("/mystats", user=community.alice, guild=community.guild, days=7)
    reply = await h.reply()
    assert h.deferred
    assert reply.ephemeral
    assert "**3** of 7 days" in reply.content and "Average mood **3.3/5**" in reply.content
    assert len(reply.attachments) == 1
    chart = reply.attachments[0]
    assert chart.filename.endswith(".png") and chart.data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(chart.data)) as image:
        image.verify()  # a complete, decodable PNG, not just the right first bytes
        assert image.format == "PNG" and image.size == (800, 450)
    assert not fake_discord.messages_in(community.general) and not fake_discord.messages_in(community.checkins)


async def test_restart_keeps_one_prompt_and_the_buttons_and_open_modal_still_work(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock) -> None:
    async with running_kindred(fake_discord, kindred_config, clock=clock) as first:
        prompt = await post_prompt(fake_discord, community, first, clock)
        # Alice opens the form, then the bot restarts before she submits it.
        await (await fake_discord.click(prompt, user=community.alice, custom_id="kindred:checkin")).modal()
    async with running_kindred(fake_discord, kindred_config, clock=clock, sync=False) as second:
        await second.run_sweeps_once()
        clock.advance(timedelta(minutes=30))
        await second.run_sweeps_once()
        assert len(fake_discord.messages_in(community.checkins)) == 1
        submitted = await fake_discord.submit_modal("kindred:checkin:modal", {"mood": "3"}, user=community.alice)
        assert (await submitted.reply()).ephemeral
        assert await stored_checkin(second, community, date(2026, 11, 21)) == (3, None, None)
        pledged = await (await fake_discord.click(prompt, user=community.bob, custom_id="kindred:pledge")).reply()
        assert pledged.ephemeral and "pledge is made" in pledged.content


async def test_reminder_dm_and_the_closed_dm_path(fake_discord: FakeDiscord, community: Community,
                                                  kindred: KindredBot, clock: FakeClock) -> None:
    guild, alice, bob = community.guild, community.alice, community.bob
    fake_discord.faults.close_dms(bob)
    for user in (alice, bob):
        await (await fake_discord.slash("/settings timezone", user=user, guild=guild, tz="Europe/London")).reply()
        set_reply = await (await fake_discord.slash("/reminder set", user=user, guild=guild, time="20:00")).reply()
        assert set_reply.ephemeral and "20:00" in set_reply.content
    clock.set(utc(2026, 11, 21, 20, 1))
    await kindred.run_sweeps_once()
    dms = fake_discord.dms_to(alice)
    assert len(dms) == 1 and "/checkin" in dms[0].content
    assert_kind(dms[0].content)
    assert fake_discord.dms_to(bob) == []
    dm_attempts = len(fake_discord.requests("POST /channels/{channel_id}/messages"))

    # Not retried that day, by any later sweep.
    for _ in range(3):
        clock.advance(timedelta(minutes=30))
        await kindred.run_sweeps_once()
    assert len(fake_discord.dms_to(alice)) == 1
    assert len(fake_discord.requests("POST /channels/{channel_id}/messages")) == dm_attempts

    shown = await (await fake_discord.slash("/settings show", user=bob, guild=guild)).reply()
    assert shown.ephemeral
    assert "Check-in reminder: **20:00**" in shown.content and "DMs are closed" in shown.content

    off = await (await fake_discord.slash("/reminder off", user=alice, guild=guild)).reply()
    assert off.ephemeral and "Reminders are off" in off.content
    clock.set(utc(2026, 11, 22, 20, 1))
    await kindred.run_sweeps_once()
    assert len(fake_discord.dms_to(alice)) == 1


async def test_checkin_commands_are_guild_only(fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    commands = {c["name"]: c for c in fake_discord.commands()}
    assert all(commands[name]["dm_permission"] is False for name in ("checkin", "pledge", "mystats", "reminder"))
    with pytest.raises(FakeDiscordError, match="not available in DMs"):
        await fake_discord.slash("/checkin", user=community.alice, mood=3)


async def test_a_discord_outage_delays_the_prompt_but_never_doubles_it(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    await configure_prompt(fake_discord, community)
    fake_discord.faults.server_error("POST /channels/{channel_id}/messages", times=1, status=503)
    clock.set(utc(2026, 11, 21, 9, 0))
    await kindred.run_sweeps_once()
    assert fake_discord.messages_in(community.checkins) == []
    for _ in range(3):
        clock.advance(timedelta(minutes=2))  # past the outbox's first back-off
        await kindred.run_sweeps_once()
    assert len(fake_discord.messages_in(community.checkins)) == 1
