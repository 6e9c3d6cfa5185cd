"""Mentors end to end: the real bot and discord.py against the loopback Discord server."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.app import KindredBot
from bot.config import Config
from bot.domain.clock import FakeClock
from bot.fakediscord import FakeDiscord, Message, User
from tests.e2e.helpers import Community, running_kindred

SHAME_WORDS = ("failed", "lost", "reset", "fault", "blame you")
REQUEST_TEXT = "would like you to be their mentor"
NUDGE_TEXT = "hasn't checked in"


@pytest.fixture
def community(community: Community, fake_discord: FakeDiscord) -> Community:
    """The default community with a "Mentors" role (made before the bot connects: the fake sends no role events)."""
    fake_discord.add_role(community.guild, "Mentors")
    return community


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def run(fake: FakeDiscord, community: Community, command: str, user: User, **options: object) -> Message:
    """Run a slash command in the community's server and return its (ephemeral) reply."""
    reply = await (await fake.slash(command, user=user, guild=community.guild, options=dict(options))).reply()
    assert reply.ephemeral, f"{command} replied publicly: {reply.content}"
    for word in SHAME_WORDS:
        assert not re.search(rf"\b{word}\b", reply.content.lower()), reply.content
    return reply


def dms(fake: FakeDiscord, user: User, needle: str) -> list[Message]:
    return [m for m in fake.dms_to(user) if needle in m.content]


async def test_mentor_commands_have_the_spec_names(fake_discord: FakeDiscord, kindred: KindredBot) -> None:
    [mentor] = [c for c in fake_discord.commands() if c["name"] == "mentor"]
    options = {sub["name"]: [(o["name"], o.get("required", False)) for o in sub.get("options", [])]
               for sub in mentor["options"]}
    assert {k: v for k, v in options.items() if k != "share"} == {
        "offer": [("focus", False), ("capacity", False)], "stop": [], "find": [("focus", False)],
        "request": [("member", True), ("message", False)], "status": [], "end": [("member", True)],
        "accept": [("member", False)], "decline": [("member", False)],
    }
    assert options["share"] == [("checkins", False), ("counters", False)]  # the mentee's choice (README: Mentors)
    by_name = {o["name"]: o for sub in mentor["options"] for o in sub.get("options", [])
               if sub["name"] in ("offer", "request")}
    assert (by_name["capacity"]["min_value"], by_name["capacity"]["max_value"]) == (1, 5)
    assert by_name["focus"]["max_length"] == 60 and by_name["message"]["max_length"] == 200
    [config] = [c for c in fake_discord.commands() if c["name"] == "config"]
    [mentors] = [o for o in config["options"] if o["name"] == "mentors"]
    assert [(o["name"], o.get("required", False)) for o in mentors["options"]] == [
        ("enabled", False), ("role", False), ("min_days", False)]


async def test_offer_find_request_accept_by_button_share_and_status(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    alice, bob = community.alice, community.bob
    offered = await run(fake_discord, community, "/mentor offer", bob, focus="alcohol, early recovery", capacity=2)
    assert "alcohol, early recovery" in offered.content and "**2**" in offered.content
    found = await run(fake_discord, community, "/mentor find", alice, focus="alcohol")
    assert f"<@{bob.id}>" in found.content and "alcohol, early recovery" in found.content
    assert "daytime in common" in found.content

    reply = await run(fake_discord, community, "/mentor request", alice, member=bob, message="60 days in, wobbly")
    assert f"<@{bob.id}>" in reply.content and "DM" in reply.content
    [request] = dms(fake_discord, bob, REQUEST_TEXT)
    assert "Recovery Circle" in request.content and "> 60 days in, wobbly" in request.content
    request_id = request.custom_ids[0].rsplit(":", 1)[1]
    assert request.custom_ids == [f"kindred:mentor:accept:{request_id}", f"kindred:mentor:decline:{request_id}"]
    clicked = await fake_discord.click(request, user=bob, custom_id=f"kindred:mentor:accept:{request_id}")
    assert (await clicked.reply()) is request and request.custom_ids == [] and "You said yes" in request.content
    [told] = await fake_discord.wait_for(lambda: dms(fake_discord, alice, "said yes"), what="alice told")
    assert f"<@{bob.id}>" in told.content and "/mentor share" in told.content

    await run(fake_discord, community, "/checkin", alice, mood=4, note="a private note")
    seen = await run(fake_discord, community, "/mentor status", bob)
    assert f"<@{alice.id}>" in seen.content and "shares nothing with you" in seen.content
    shared = await run(fake_discord, community, "/mentor share", alice, checkins="on")
    assert "last check-in day and streak" in shared.content and "never moods" in shared.content
    seen = await run(fake_discord, community, "/mentor status", bob)
    assert "last check-in **Sat 21 Nov 2026**" in seen.content and "a private note" not in seen.content
    mine = await run(fake_discord, community, "/mentor status", alice)
    assert f"<@{bob.id}>" in mine.content and "you share last check-in" in mine.content


async def test_closed_dms_fall_back_to_mentor_accept_in_the_server(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    alice, bob = community.alice, community.bob
    await run(fake_discord, community, "/mentor offer", bob)
    fake_discord.faults.close_dms(bob)
    reply = await run(fake_discord, community, "/mentor request", alice, member=bob, message="hi")
    assert "DMs are closed" in reply.content and "/mentor accept" in reply.content
    waiting = await run(fake_discord, community, "/mentor status", bob)
    assert f"<@{alice.id}> asked you to be their mentor: “hi”" in waiting.content
    accepted = await run(fake_discord, community, "/mentor accept", bob)
    assert f"<@{alice.id}>" in accepted.content and "mentor now" in accepted.content
    await fake_discord.wait_for(lambda: dms(fake_discord, alice, "said yes"), what="alice told")


async def test_decline_stop_and_end_are_kind(fake_discord: FakeDiscord, community: Community,
                                             kindred: KindredBot) -> None:
    alice, bob, mod = community.alice, community.bob, community.mod
    await run(fake_discord, community, "/mentor offer", bob, capacity=1)
    await run(fake_discord, community, "/mentor request", alice, member=bob)
    declined = await run(fake_discord, community, "/mentor decline", bob)
    assert "kindly" in declined.content
    [told] = await fake_discord.wait_for(lambda: dms(fake_discord, alice, "isn't able to take on"), what="alice told")
    assert "not about you" in told.content
    await run(fake_discord, community, "/mentor request", mod, member=bob)
    await run(fake_discord, community, "/mentor accept", bob, member=mod)
    again = await run(fake_discord, community, "/mentor request", alice, member=bob)
    assert "not right now a little while ago" in again.content
    carol = fake_discord.add_user("carol")
    fake_discord.add_member(community.guild, carol)
    full = await run(fake_discord, community, "/mentor request", carol, member=bob)
    assert "no room for another mentee" in full.content
    stopped = await run(fake_discord, community, "/mentor stop", bob)
    assert "keep you as their mentor" in stopped.content
    assert "No mentors with room" in (await run(fake_discord, community, "/mentor find", alice)).content
    ended = await run(fake_discord, community, "/mentor end", mod, member=bob)
    assert f"<@{bob.id}>" in ended.content and "kindly" in ended.content
    await fake_discord.wait_for(lambda: dms(fake_discord, bob, "ended your mentorship"), what="bob told")


async def test_bad_requests_get_kind_errors_and_change_nothing(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    alice, bob = community.alice, community.bob
    robot = fake_discord.add_user("helperbot", bot=True)
    fake_discord.add_member(community.guild, robot)
    outsider = fake_discord.add_user("outsider")
    assert "your own mentor" in (await run(fake_discord, community, "/mentor request", alice, member=alice)).content
    assert "Bots" in (await run(fake_discord, community, "/mentor request", alice, member=robot)).content
    assert "members of this server" in (
        await run(fake_discord, community, "/mentor request", alice, member=outsider)).content
    assert "isn't offering" in (await run(fake_discord, community, "/mentor request", alice, member=bob)).content
    assert "no mentee requests" in (await run(fake_discord, community, "/mentor accept", bob)).content
    assert "don't have a mentor" in (await run(fake_discord, community, "/mentor share", alice, checkins="on")).content
    assert await kindred.services.db.fetch_value("SELECT count(*) FROM mentor_requests") == 0
    assert fake_discord.dms_to(bob) == []


async def test_accepting_by_button_at_capacity_is_refused_kindly_and_the_request_waits(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    alice, bob, mod = community.alice, community.bob, community.mod
    await run(fake_discord, community, "/mentor offer", bob, capacity=1)
    await run(fake_discord, community, "/mentor request", alice, member=bob)  # room while nobody is accepted
    await run(fake_discord, community, "/mentor request", mod, member=bob)
    await run(fake_discord, community, "/mentor accept", bob, member=mod)
    [request] = [m for m in dms(fake_discord, bob, REQUEST_TEXT) if f"<@{alice.id}>" in m.content]
    refused = await (await fake_discord.click(request, user=bob, custom_id=request.custom_ids[0])).reply()
    assert refused.ephemeral and "capacity of 1 mentee" in refused.content and "/mentor end" in refused.content
    assert len(request.custom_ids) == 2 and "You said yes" not in request.content, "the request still waits"
    assert dms(fake_discord, alice, "said yes") == []
    assert (await kindred.services.mentors.status(community.guild.id, alice.id)).mentor is None
    await (await fake_discord.click(request, user=bob, custom_id=request.custom_ids[1])).reply()
    await fake_discord.wait_for(lambda: dms(fake_discord, alice, "isn't able to take on"), what="alice told")


async def test_config_mentors_requirements_are_applied(fake_discord: FakeDiscord, community: Community,
                                                       kindred: KindredBot) -> None:
    guild, alice, bob, mod = community.guild, community.alice, community.bob, community.mod
    mentors_role = guild.role("Mentors")
    fake_discord.add_member(guild, bob, roles=[mentors_role])  # bob is given the role
    reply = await run(fake_discord, community, "/config mentors", mod, role=mentors_role, min_days=30)
    assert f"<@&{mentors_role.id}>" in reply.content and "**30**" in reply.content
    assert "Mentors:" in (await run(fake_discord, community, "/config show", mod)).content
    refused = await run(fake_discord, community, "/mentor offer", alice)
    assert f"<@&{mentors_role.id}>" in refused.content
    days = await run(fake_discord, community, "/mentor offer", bob)
    assert "at least **30** days" in days.content
    await run(fake_discord, community, "/recovery start", bob, date="2026-09-01", visibility="server")
    assert "offering to mentor" in (await run(fake_discord, community, "/mentor offer", bob)).content
    off = await run(fake_discord, community, "/config mentors", mod, enabled="off")
    assert "**off**" in off.content
    assert "turned off" in (await run(fake_discord, community, "/mentor find", alice)).content


async def test_request_buttons_work_after_a_restart_and_only_for_the_mentor(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock) -> None:
    alice, bob = community.alice, community.bob
    fake_discord.clock = clock.now
    async with running_kindred(fake_discord, kindred_config, clock=clock):
        await run(fake_discord, community, "/mentor offer", bob)
        await run(fake_discord, community, "/mentor request", alice, member=bob)
    [request] = dms(fake_discord, bob, REQUEST_TEXT)
    async with running_kindred(fake_discord, kindred_config, clock=clock, sync=False) as bot:
        # The same custom id on a message Alice can see (as a forwarded copy would be): her click counts for nothing.
        copy = await fake_discord.post_message(fake_discord.dm_channel(alice), fake_discord.bot,
                                               {"content": "copy", "components": request.components}, [])
        refused = await (await fake_discord.click(copy, user=alice, custom_id=request.custom_ids[0])).reply()
        assert "addressed to someone else" in refused.content
        await (await fake_discord.click(request, user=bob, custom_id=request.custom_ids[1])).reply()
        assert request.custom_ids == [] and "not right now" in request.content
        await fake_discord.wait_for(lambda: dms(fake_discord, alice, "isn't able to take on"), what="alice told")
        assert (await bot.services.mentors.status(community.guild.id, alice.id)).mentor is None


async def test_a_request_dm_button_from_before_incarnations_changes_nothing(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    """`kindred:mentor:accept:<id>` (sent before buttons named incarnations) may be a deleted request's: refused."""
    alice, bob = community.alice, community.bob
    await run(fake_discord, community, "/mentor offer", bob)
    await run(fake_discord, community, "/mentor request", alice, member=bob)
    [request] = dms(fake_discord, bob, REQUEST_TEXT)
    ref = request.custom_ids[0].rsplit(":", 1)[1]
    assert re.fullmatch(r"[0-9]+\.[0-9a-f]{16}", ref), request.custom_ids
    legacy = f"kindred:mentor:accept:{ref.split('.')[0]}"
    components = [{"type": 1, "components": [{"type": 2, "style": 3, "label": "Accept", "custom_id": legacy}]}]
    old = await fake_discord.post_message(fake_discord.dm_channel(bob), fake_discord.bot,
                                          {"content": "old request DM", "components": components}, [])
    refused = await (await fake_discord.click(old, user=bob, custom_id=legacy)).reply()
    assert "no longer open" in refused.content and "/mentor accept" in refused.content
    assert (await kindred.services.mentors.status(community.guild.id, alice.id)).mentor is None
    assert request.custom_ids != [], "the real request DM still waits for an answer"


async def test_a_quiet_mentee_who_shares_brings_one_gentle_dm(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    alice, bob = community.alice, community.bob
    await run(fake_discord, community, "/mentor offer", bob)
    await run(fake_discord, community, "/mentor request", alice, member=bob)
    await run(fake_discord, community, "/mentor accept", bob)
    await run(fake_discord, community, "/mentor share", alice, checkins="on")
    await run(fake_discord, community, "/checkin", alice, mood=3)  # Saturday 21 November
    for instant in (utc(2026, 11, 23, 12), utc(2026, 11, 24, 3), utc(2026, 11, 24, 9), utc(2026, 11, 24, 10),
                    utc(2026, 11, 25, 9)):
        clock.set(instant)
        await kindred.run_sweeps_once()
        assert len(dms(fake_discord, bob, NUDGE_TEXT)) == (1 if instant >= utc(2026, 11, 24, 9) else 0), instant
    [nudge] = dms(fake_discord, bob, NUDGE_TEXT)
    assert f"<@{alice.id}>" in nudge.content and "2 days" in nudge.content and "mood" not in nudge.content.lower()
