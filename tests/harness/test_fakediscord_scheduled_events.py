"""Guild scheduled events: the REST routes, Discord's validation and permissions, and the gateway events,
through unmodified discord.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import discord
import pytest

from bot.fakediscord import (
    BOT_INVITE_PERMISSIONS,
    CONNECT,
    CREATE_EVENTS,
    GUILD_STAGE_VOICE,
    GUILD_VOICE,
    MANAGE_EVENTS,
    FakeDiscord,
    Guild,
    User,
)
from bot.fakediscord.state import COMPLETED, SCHEDULED, VOICE_EVENT, ScheduledEvent
from tests.harness.minibot import MiniBot, running


def soon(hours: float = 24) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)


def cached(mini: MiniBot, guild: Guild) -> discord.Guild:
    found = mini.get_guild(guild.id)
    assert found is not None
    return found


def voice(mini: MiniBot, guild: Guild, name: str = "meeting-room") -> discord.VoiceChannel:
    channel = mini.get_channel(guild.channel(name).id)
    assert isinstance(channel, discord.VoiceChannel)
    return channel


@pytest.fixture
def guild(fake: FakeDiscord) -> Guild:
    guild = fake.add_guild("Circle", channels=["general"])
    fake.add_channel(guild, "meeting-room", type=GUILD_VOICE)
    fake.add_channel(guild, "stage", type=GUILD_STAGE_VOICE)
    return guild


async def test_a_voice_event_is_created_read_listed_edited_and_deleted(fake: FakeDiscord, guild: Guild,
                                                                       mini: MiniBot) -> None:
    g = cached(mini, guild)
    start = soon()
    event = await g.create_scheduled_event(name="Tuesday group", start_time=start, channel=voice(mini, guild),
                                           entity_type=discord.EntityType.voice,
                                           privacy_level=discord.PrivacyLevel.guild_only, description="All welcome")
    assert event.name == "Tuesday group" and event.start_time == start and event.status is discord.EventStatus.scheduled
    assert event.channel_id == guild.channel("meeting-room").id and event.creator_id == fake.bot.id
    [stored] = fake.scheduled_events(guild)
    assert stored.id == event.id and stored.description == "All welcome" and stored.url.endswith(f"/{guild.id}/{event.id}")

    fetched = await g.fetch_scheduled_event(event.id)
    assert fetched.name == "Tuesday group" and fetched.start_time == start
    assert [e.id for e in await g.fetch_scheduled_events()] == [event.id]

    later = start + timedelta(days=7)
    edited = await event.edit(name="Tuesday group (week 2)", start_time=later)
    assert edited is not None and edited.start_time == later
    assert stored.name == "Tuesday group (week 2)" and stored.history[0]["name"] == "Tuesday group"

    await event.delete()
    assert fake.scheduled_events(guild) == []
    with pytest.raises(discord.NotFound) as gone:
        await g.fetch_scheduled_event(event.id)
    assert gone.value.code == 10070


async def test_an_external_event_needs_a_location_and_an_end(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    start = soon()
    with pytest.raises(discord.HTTPException) as missing:
        await mini.http.create_guild_scheduled_event(guild.id, name="Walk", entity_type=3, privacy_level=2,
                                                     scheduled_start_time=start.isoformat(),
                                                     entity_metadata={"location": "The park"})
    assert missing.value.status == 400 and missing.value.code == 50035 and "scheduled_end_time" in str(missing.value)
    with pytest.raises(discord.HTTPException) as no_place:
        await mini.http.create_guild_scheduled_event(guild.id, name="Walk", entity_type=3, privacy_level=2,
                                                     scheduled_start_time=start.isoformat(),
                                                     scheduled_end_time=(start + timedelta(hours=1)).isoformat())
    assert no_place.value.code == 50035 and "location" in str(no_place.value)
    event = await cached(mini, guild).create_scheduled_event(
        name="Walk", start_time=start, end_time=start + timedelta(hours=1), location="The park",
        entity_type=discord.EntityType.external, privacy_level=discord.PrivacyLevel.guild_only)
    assert event.location == "The park" and event.channel_id is None
    assert fake.scheduled_events(guild)[0].location == "The park"


@pytest.mark.parametrize(("change", "field"), [
    ({"scheduled_start_time": "yesterday"}, "scheduled_start_time"),
    ({"name": ""}, "name"),
    ({"name": "n" * 101}, "name"),
    ({"privacy_level": 1}, "privacy_level"),
    ({"description": "d" * 1001}, "description"),
])
async def test_discord_validates_the_fields(fake: FakeDiscord, guild: Guild, mini: MiniBot,
                                            change: dict[str, object], field: str) -> None:
    body: dict[str, object] = {"name": "Group", "entity_type": 2, "privacy_level": 2,
                               "channel_id": guild.channel("meeting-room").id, "scheduled_start_time": soon().isoformat()}
    with pytest.raises(discord.HTTPException) as refused:
        await mini.http.create_guild_scheduled_event(guild.id, **{**body, **change})
    assert refused.value.status == 400 and field in str(refused.value)
    assert fake.scheduled_events(guild) == []


async def test_a_start_in_the_past_is_refused_by_the_fakes_clock(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    start = soon(1)
    fake.clock = lambda: start + timedelta(minutes=1)  # a test on a fake clock: "now" is after the start
    with pytest.raises(discord.HTTPException) as past:
        await cached(mini, guild).create_scheduled_event(name="Group", start_time=start, channel=voice(mini, guild),
                                                         entity_type=discord.EntityType.voice,
                                                         privacy_level=discord.PrivacyLevel.guild_only)
    assert "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST" in str(past.value.text) or "past" in str(past.value)


async def test_the_channel_must_match_the_entity_type(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    for channel, entity_type in ((guild.channel("general"), 2), (guild.channel("stage"), 2),
                                 (guild.channel("meeting-room"), 1)):
        with pytest.raises(discord.HTTPException) as wrong:
            await mini.http.create_guild_scheduled_event(guild.id, name="Group", entity_type=entity_type, privacy_level=2,
                                                         channel_id=channel.id, scheduled_start_time=soon().isoformat())
        assert wrong.value.code == 50035 and "channel_id" in str(wrong.value), channel.name


async def test_without_manage_or_create_events_the_bot_is_refused(fake: FakeDiscord, mini: MiniBot) -> None:
    bare = fake.add_guild("No events", channels=["general"], bot_permissions=BOT_INVITE_PERMISSIONS & ~(MANAGE_EVENTS | CREATE_EVENTS))
    room = fake.add_channel(bare, "room", type=GUILD_VOICE)
    await fake.join_guild(bare)
    await fake.wait_for(lambda: mini.get_guild(bare.id), what="the new guild in the cache")
    for entity in ({"entity_type": 2, "channel_id": room.id},
                   {"entity_type": 3, "entity_metadata": {"location": "Park"},
                    "scheduled_end_time": soon(25).isoformat()}):
        with pytest.raises(discord.Forbidden) as refused:
            await mini.http.create_guild_scheduled_event(bare.id, name="Group", privacy_level=2,
                                                         scheduled_start_time=soon().isoformat(), **entity)
        assert refused.value.code == 50013
    assert fake.scheduled_events(bare) == []


async def test_create_events_alone_may_create_and_change_its_own_events_but_not_others(
        fake: FakeDiscord, mini: MiniBot, mod: User) -> None:
    guild = fake.add_guild("Create only", channels=["general"], bot_permissions=BOT_INVITE_PERMISSIONS & ~MANAGE_EVENTS)
    room = fake.add_channel(guild, "room", type=GUILD_VOICE)
    await fake.join_guild(guild)
    await fake.wait_for(lambda: mini.get_guild(guild.id), what="the new guild in the cache")
    ours = await mini.http.create_guild_scheduled_event(guild.id, name="Ours", entity_type=2, privacy_level=2,
                                                        channel_id=room.id, scheduled_start_time=soon().isoformat())
    await mini.http.edit_scheduled_event(guild.id, ours["id"], name="Ours, renamed")
    theirs = ScheduledEvent(fake.world.snowflake(), guild.id, "Theirs", VOICE_EVENT, soon(), channel_id=room.id,
                            creator_id=mod.id)
    fake.world.scheduled_events[theirs.id] = theirs
    with pytest.raises(discord.Forbidden):
        await mini.http.edit_scheduled_event(guild.id, theirs.id, name="Not ours")
    with pytest.raises(discord.Forbidden):
        await mini.http.delete_scheduled_event(guild.id, theirs.id)
    await mini.http.delete_scheduled_event(guild.id, ours["id"])
    assert [e.name for e in fake.scheduled_events(guild)] == ["Theirs"]


async def test_a_voice_event_needs_connect_and_a_stage_event_stage_moderation(fake: FakeDiscord, guild: Guild,
                                                                              mini: MiniBot) -> None:
    fake.set_overwrite(guild.channel("meeting-room"), fake.bot, deny=CONNECT)
    with pytest.raises(discord.Forbidden):
        await mini.http.create_guild_scheduled_event(guild.id, name="Group", entity_type=2, privacy_level=2,
                                                     channel_id=guild.channel("meeting-room").id,
                                                     scheduled_start_time=soon().isoformat())
    with pytest.raises(discord.Forbidden):  # the bot is no stage moderator (Manage Channels, Mute and Move Members)
        await mini.http.create_guild_scheduled_event(guild.id, name="Talk", entity_type=1, privacy_level=2,
                                                     channel_id=guild.channel("stage").id,
                                                     scheduled_start_time=soon().isoformat())
    assert fake.scheduled_events(guild) == []


async def test_status_moves_only_the_way_discord_allows(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    created = await mini.http.create_guild_scheduled_event(guild.id, name="Group", entity_type=2, privacy_level=2,
                                                           channel_id=guild.channel("meeting-room").id,
                                                           scheduled_start_time=soon().isoformat())
    with pytest.raises(discord.HTTPException) as skipped:
        await mini.http.edit_scheduled_event(guild.id, created["id"], status=3)  # scheduled -> completed
    assert skipped.value.code == 50035
    await mini.http.edit_scheduled_event(guild.id, created["id"], status=2)
    with pytest.raises(discord.HTTPException) as moved:
        await mini.http.edit_scheduled_event(guild.id, created["id"], scheduled_start_time=soon(48).isoformat())
    assert moved.value.code == 50035
    await mini.http.edit_scheduled_event(guild.id, created["id"], status=3)
    with pytest.raises(discord.HTTPException) as finished:
        await mini.http.edit_scheduled_event(guild.id, created["id"], name="again")
    assert finished.value.code == 180000
    assert fake.scheduled_events(guild) == [], "finished events are not listed"
    assert [e.status for e in fake.scheduled_events(guild, include_closed=True)] == [COMPLETED]
    assert (await mini.http.get_scheduled_event(guild.id, created["id"], False))["status"] == COMPLETED


async def test_a_server_holds_at_most_a_hundred_open_events(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    for n in range(100):
        fake.world.scheduled_events[n + 1] = ScheduledEvent(n + 1, guild.id, f"e{n}", VOICE_EVENT, soon(),
                                                            channel_id=guild.channel("meeting-room").id, status=SCHEDULED)
    with pytest.raises(discord.HTTPException) as full:
        await mini.http.create_guild_scheduled_event(guild.id, name="One more", entity_type=2, privacy_level=2,
                                                     channel_id=guild.channel("meeting-room").id,
                                                     scheduled_start_time=soon().isoformat())
    assert full.value.code == 30038


async def test_gateway_events_reach_a_client_with_the_scheduled_events_intent(fake: FakeDiscord, guild: Guild,
                                                                              mini: MiniBot) -> None:
    assert mini.intents.guild_scheduled_events
    created = asyncio.ensure_future(mini.wait_for("scheduled_event_create", timeout=5))
    event = await cached(mini, guild).create_scheduled_event(
        name="Group", start_time=soon(), channel=voice(mini, guild), entity_type=discord.EntityType.voice,
        privacy_level=discord.PrivacyLevel.guild_only)
    assert (await created).id == event.id
    assert cached(mini, guild).get_scheduled_event(event.id) is not None
    updated = asyncio.ensure_future(mini.wait_for("scheduled_event_update", timeout=5))
    [stored] = fake.scheduled_events(guild)
    await fake.set_event_status(stored, 2)  # a moderator starts it in the client
    before, after = await updated
    assert before.status is discord.EventStatus.scheduled and after.status is discord.EventStatus.active
    deleted = asyncio.ensure_future(mini.wait_for("scheduled_event_delete", timeout=5))
    await fake.delete_event(stored)
    assert (await deleted).id == event.id
    assert cached(mini, guild).get_scheduled_event(event.id) is None


async def test_a_client_without_the_intent_hears_no_scheduled_event(fake: FakeDiscord, guild: Guild, alice: User,
                                                                    mod: User) -> None:
    async with running(fake, intents=discord.Intents(guilds=True)) as client:
        created = await client.http.create_guild_scheduled_event(
            guild.id, name="Group", entity_type=2, privacy_level=2, channel_id=guild.channel("meeting-room").id,
            scheduled_start_time=soon().isoformat())
        [stored] = fake.scheduled_events(guild)
        await fake.set_event_status(stored, 2)
        await fake.delete_event(stored)
        await (await fake.slash("/ping", user=alice, guild=guild)).reply()  # a later event did arrive
        assert not [r for r in fake.gateway.log if (r.event or "").startswith("GUILD_SCHEDULED_EVENT")]
        assert created["status"] == SCHEDULED and list(cached_in(client, guild).scheduled_events) == []


def cached_in(client: discord.Client, guild: Guild) -> discord.Guild:
    found = client.get_guild(guild.id)
    assert found is not None
    return found
