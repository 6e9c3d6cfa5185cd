"""Meetings end to end: scheduled events through the loopback Discord server and unmodified discord.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.app import KindredBot
from bot.domain.clock import FakeClock
from bot.fakediscord import (
    BOT_INVITE_PERMISSIONS,
    CONNECT,
    CREATE_EVENTS,
    EXTERNAL,
    GUILD_VOICE,
    MANAGE_EVENTS,
    VOICE_EVENT,
    FakeDiscord,
    Guild,
    Message,
    User,
)
from tests.e2e.helpers import Community

NEW_YORK = ZoneInfo("America/New_York")
ADD = {"name": "Tuesday group", "weekday": "tuesday", "time": "19:00", "timezone": "America/New_York",
       "duration": 90}


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK).astimezone(UTC)


async def run(fake: FakeDiscord, guild: Guild, command: str, user: User, **options: object) -> Message:
    reply = await (await fake.slash(command, user=user, guild=guild, options=dict(options))).reply()
    assert reply.ephemeral, f"{command} replied publicly: {reply.content}"
    return reply


async def test_meeting_commands_have_the_spec_names(fake_discord: FakeDiscord, kindred: KindredBot) -> None:
    [meeting] = [c for c in fake_discord.commands() if c["name"] == "meeting"]
    options = {sub["name"]: [(o["name"], o.get("required", False)) for o in sub.get("options", [])]
               for sub in meeting["options"]}
    assert options == {
        "add": [("name", True), ("weekday", True), ("time", True), ("timezone", True), ("duration", False),
                ("channel", False), ("description", False)],
        "remove": [("name", True)], "list": [],
        "remind": [("name", True), ("minutes_before", False)], "remind-off": [("name", True)],
    }
    add = {o["name"]: o for o in next(s for s in meeting["options"] if s["name"] == "add")["options"]}
    assert [c["value"] for c in add["weekday"]["choices"]] == ["monday", "tuesday", "wednesday", "thursday",
                                                               "friday", "saturday", "sunday"]
    assert sorted(add["channel"]["channel_types"]) == [2, 13] and add["name"]["max_length"] == 60
    assert (add["duration"]["min_value"], add["duration"]["max_value"]) == (15, 240)
    remind = {o["name"]: o for o in next(s for s in meeting["options"] if s["name"] == "remind")["options"]}
    assert (remind["minutes_before"]["min_value"], remind["minutes_before"]["max_value"]) == (5, 120)
    assert remind["name"]["autocomplete"] is True


async def test_add_publishes_an_event_list_shows_local_time_and_a_reminder_comes_once(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    guild, alice, mod = community.guild, community.alice, community.mod
    clock.set(ny(2027, 3, 8, 12, 0))
    added = await run(fake_discord, guild, "/meeting add", mod, **ADD, channel=community.meeting_room,
                      description="All welcome")
    [event] = fake_discord.scheduled_events(guild)
    assert event.entity_type == VOICE_EVENT and event.channel_id == community.meeting_room.id
    assert event.start == ny(2027, 3, 9, 19, 0) and event.end == ny(2027, 3, 9, 20, 30)
    assert event.name == "Tuesday group" and event.description == "All welcome" and event.creator_id == fake_discord.bot.id
    assert event.url in added.content and "Tuesday group" in added.content

    await run(fake_discord, guild, "/settings timezone", alice, tz="Europe/London")
    listed = await run(fake_discord, guild, "/meeting list", alice)
    assert "Wednesday 00:00" in listed.content and "Europe/London" in listed.content and event.url in listed.content
    choices = await fake_discord.autocomplete("/meeting remind", "name", "tues", user=alice, guild=guild)
    assert [c["value"] for c in choices] == ["Tuesday group"]
    reminded = await run(fake_discord, guild, "/meeting remind", alice, name="Tuesday group", minutes_before=45)
    assert "45 minutes" in reminded.content and "quiet hours" in reminded.content

    for minute in (14, 15, 16, 45):  # 18:15 New York is 45 minutes before
        clock.set(ny(2027, 3, 9, 18, minute))
        await kindred.run_sweeps_once()
    [dm] = [m for m in fake_discord.dms_to(alice) if "Tuesday group" in m.content]
    assert "Wednesday 00:00 your time (Europe/London)" in dm.content and event.url in dm.content
    assert "⏰" in dm.content

    off = await run(fake_discord, guild, "/meeting remind-off", alice, name="Tuesday group")
    assert "No more reminders" in off.content
    clock.set(ny(2027, 3, 16, 18, 15))
    await kindred.run_sweeps_once()
    assert len([m for m in fake_discord.dms_to(alice) if "Tuesday group" in m.content]) == 1


async def test_the_next_event_is_published_after_one_ends_and_remove_deletes_it(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    guild, mod = community.guild, community.mod
    clock.set(ny(2027, 3, 8, 12, 0))
    await run(fake_discord, guild, "/meeting add", mod, **ADD, channel=community.meeting_room)
    [first] = fake_discord.scheduled_events(guild)
    await fake_discord.set_event_status(first, 2)  # the group met: a moderator started the event
    clock.set(ny(2027, 3, 9, 20, 30))
    await kindred.run_sweeps_once()
    events = fake_discord.scheduled_events(guild)
    assert [e.start for e in events] == [first.start, ny(2027, 3, 16, 19, 0)], "a started event is left alone"
    assert events[1].start.astimezone(NEW_YORK).hour == 19 and events[1].start.hour == 23  # EDT now
    removed = await run(fake_discord, guild, "/meeting remove", mod, name="tuesday group")
    assert "Removed **Tuesday group**" in removed.content
    assert events[1].deleted and fake_discord.scheduled_events(guild) == [first]
    assert "No meetings" in (await run(fake_discord, guild, "/meeting list", mod)).content


async def test_an_event_deleted_on_discords_side_is_recreated_once(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    guild, mod = community.guild, community.mod
    clock.set(ny(2027, 3, 8, 12, 0))
    await run(fake_discord, guild, "/meeting add", mod, **ADD, channel=community.meeting_room)
    [first] = fake_discord.scheduled_events(guild)
    await fake_discord.delete_event(first)
    clock.advance(timedelta(hours=1))
    await kindred.run_sweeps_once()
    [again] = fake_discord.scheduled_events(guild)
    assert again.id != first.id and again.start == first.start
    await fake_discord.delete_event(again)
    clock.advance(timedelta(hours=1))
    await kindred.run_sweeps_once()
    assert fake_discord.scheduled_events(guild) == [], "deleted twice: someone meant it"
    assert "Tuesday group" in (await run(fake_discord, guild, "/meeting list", mod)).content


async def test_a_meeting_without_a_channel_is_an_external_event(fake_discord: FakeDiscord, community: Community,
                                                                kindred: KindredBot) -> None:
    await run(fake_discord, community.guild, "/meeting add", community.mod, **ADD,
              description="Zoom: https://example.org/j/1")
    [event] = fake_discord.scheduled_events(community.guild)
    assert event.entity_type == EXTERNAL and event.location == "Zoom: https://example.org/j/1" and event.end


async def test_bad_input_gets_a_kind_answer_and_nothing_is_published(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    guild, alice, mod = community.guild, community.alice, community.mod
    clock.set(ny(2027, 1, 5, 12, 0))
    gap = await run(fake_discord, guild, "/meeting add", mod, **{**ADD, "weekday": "sunday", "time": "02:30"})
    assert "doesn't exist in America/New_York on Sunday 14 March 2027" in gap.content
    zone = await run(fake_discord, guild, "/meeting add", mod, **{**ADD, "timezone": "Mars/Base"})
    assert "time zone" in zone.content
    member = await run(fake_discord, guild, "/meeting add", alice, **ADD)
    assert "Manage Server" in member.content and "Manage Events" in member.content
    assert "no meeting called" in (await run(fake_discord, guild, "/meeting remind", alice, name="Nope")).content
    await run(fake_discord, guild, "/meeting add", mod, **ADD)
    twice = await run(fake_discord, guild, "/meeting add", mod, **ADD)
    assert "already a meeting" in twice.content
    assert len(fake_discord.scheduled_events(guild)) == 1
    assert await kindred.services.db.fetch_value("SELECT count(*) FROM meetings") == 1


async def joined(fake: FakeDiscord, kindred: KindredBot, guild: Guild) -> None:
    await fake.join_guild(guild)
    await fake.wait_for(lambda: kindred.get_guild(guild.id), what="the new server in the cache")


async def test_the_bot_without_manage_events_says_exactly_what_to_grant(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    mod = community.mod
    guild = fake_discord.add_guild("Quiet Room", channels=["general"],
                                   bot_permissions=BOT_INVITE_PERMISSIONS & ~(MANAGE_EVENTS | CREATE_EVENTS))
    fake_discord.add_member(guild, mod, manage_guild=True)
    room = fake_discord.add_channel(guild, "room", type=GUILD_VOICE)
    fake_discord.set_overwrite(room, guild.role("Kindred"), deny=CONNECT)
    await joined(fake_discord, kindred, guild)
    reply = await run(fake_discord, guild, "/meeting add", mod, **ADD, channel=room)
    assert "**Manage Events** (called **Create Events** on newer permission settings) and **Connect**" in reply.content
    assert "Nothing was saved" in reply.content
    assert not fake_discord.requests("POST /guilds/{guild_id}/scheduled-events")
    assert fake_discord.scheduled_events(guild) == []
    assert await kindred.services.db.fetch_value("SELECT count(*) FROM meetings") == 0


async def test_a_permission_taken_away_unseen_is_still_answered_kindly(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    guild, mod = community.guild, community.mod
    guild.role("Kindred").permissions &= ~(MANAGE_EVENTS | CREATE_EVENTS)  # no role event reaches the bot
    reply = await run(fake_discord, guild, "/meeting add", mod, **ADD, channel=community.meeting_room)
    assert "Manage Events" in reply.content and "Nothing was saved" in reply.content
    assert [r.status for r in fake_discord.requests("POST /guilds/{guild_id}/scheduled-events")] == [403]
    assert await kindred.services.db.fetch_value("SELECT count(*) FROM meetings") == 0
