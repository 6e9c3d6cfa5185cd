"""Accountability buddies end to end: the real bot and discord.py against the loopback Discord server."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.app import KindredBot
from bot.config import Config
from bot.domain.clock import FakeClock
from bot.fakediscord import FakeDiscord, Message
from tests.e2e.helpers import Community, running_kindred

SHAME_WORDS = ("failed", "lost", "reset", "fault", "blame you")
REQUEST_TEXT = "would like to be your accountability buddy"
NUDGE_TEXT = "hasn't checked in"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def assert_kind(text: str) -> None:
    for word in SHAME_WORDS:
        assert word not in text.lower(), text


async def run(fake: FakeDiscord, community: Community, command: str, user: object, **options: object) -> Message:
    """Run a slash command in the community's server and return its (ephemeral) reply."""
    handle = await fake.slash(command, user=user, guild=community.guild, options=dict(options))  # type: ignore[arg-type]
    reply = await handle.reply()
    assert reply.ephemeral, f"{command} replied publicly: {reply.content}"
    assert_kind(reply.content)
    return reply


def dms(fake: FakeDiscord, user: object, needle: str) -> list[Message]:
    return [m for m in fake.dms_to(user) if needle in m.content]  # type: ignore[arg-type]


async def test_buddy_commands_have_the_spec_names(fake_discord: FakeDiscord, kindred: KindredBot) -> None:
    [buddy] = [c for c in fake_discord.commands() if c["name"] == "buddy"]
    options = {sub["name"]: [(o["name"], o.get("required", False)) for o in sub.get("options", [])]
               for sub in buddy["options"]}
    assert options == {
        "request": [("member", True)], "accept": [("member", False)], "decline": [("member", False)],
        "find": [], "status": [], "nudge": [("member", True)], "pause": [("days", True)], "end": [("member", True)],
    }
    [days] = [o for sub in buddy["options"] if sub["name"] == "pause" for o in sub["options"]]
    assert (days["min_value"], days["max_value"]) == (1, 30)


async def test_request_dm_buttons_accept_and_both_are_told(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    alice, bob = community.alice, community.bob
    reply = await run(fake_discord, community, "/buddy request", alice, member=bob)
    assert f"<@{bob.id}>" in reply.content and "DM" in reply.content
    [request] = dms(fake_discord, bob, REQUEST_TEXT)
    assert "Recovery Circle" in request.content and f"<@{alice.id}>" in request.content
    request_id = request.custom_ids[0].rsplit(":", 1)[1]
    assert request.custom_ids == [f"kindred:buddy:accept:{request_id}", f"kindred:buddy:decline:{request_id}"]

    clicked = await fake_discord.click(request, user=bob, custom_id=f"kindred:buddy:accept:{request_id}")
    updated = await clicked.reply()
    assert updated is request and request.custom_ids == []  # buttons gone, answer recorded in place
    assert "You said yes" in request.content
    [told] = await fake_discord.wait_for(lambda: dms(fake_discord, alice, "said yes"), what="alice told")
    assert f"<@{bob.id}>" in told.content
    assert await kindred.services.buddies.are_buddies(community.guild.id, alice.id, bob.id)

    status = await run(fake_discord, community, "/buddy status", alice)
    assert f"<@{bob.id}>" in status.content and "keeps check-ins private" in status.content
    again = await run(fake_discord, community, "/buddy request", alice, member=bob)
    assert "already buddies" in again.content


async def test_closed_dms_fall_back_to_slash_accept(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    alice, bob = community.alice, community.bob
    fake_discord.faults.close_dms(bob)
    reply = await run(fake_discord, community, "/buddy request", alice, member=bob)
    assert "DMs are closed" in reply.content and "/buddy accept" in reply.content
    assert fake_discord.dms_to(bob) == []
    accepted = await run(fake_discord, community, "/buddy accept", bob)
    assert f"<@{alice.id}>" in accepted.content and "buddies now" in accepted.content
    await fake_discord.wait_for(lambda: dms(fake_discord, alice, "said yes"), what="alice told")
    # A second request while one is open is refused kindly and sends nothing.
    fake_discord.faults.open_dms(bob)
    carol = fake_discord.add_user("carol")
    fake_discord.add_member(community.guild, carol)
    await run(fake_discord, community, "/buddy request", carol, member=bob)
    dup = await run(fake_discord, community, "/buddy request", carol, member=bob)
    assert "already asked" in dup.content
    assert len(dms(fake_discord, bob, REQUEST_TEXT)) == 1


async def test_bad_requests_get_kind_errors_and_change_nothing(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    robot = fake_discord.add_user("helperbot", bot=True)
    fake_discord.add_member(community.guild, robot)
    outsider = fake_discord.add_user("outsider")
    own = await run(fake_discord, community, "/buddy request", community.alice, member=community.alice)
    assert "your own buddy" in own.content
    assert "Bots" in (await run(fake_discord, community, "/buddy request", community.alice, member=robot)).content
    assert "members of this server" in (
        await run(fake_discord, community, "/buddy request", community.alice, member=outsider)).content
    assert "no open buddy requests" in (await run(fake_discord, community, "/buddy accept", community.bob)).content
    assert "isn't one of your buddies" in (
        await run(fake_discord, community, "/buddy nudge", community.alice, member=community.bob)).content
    assert await kindred.services.db.fetch_value("SELECT count(*) FROM buddy_requests") == 0
    assert fake_discord.dms_to(community.bob) == []


async def test_request_buttons_work_after_a_restart(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock) -> None:
    alice, bob = community.alice, community.bob
    async with running_kindred(fake_discord, kindred_config, clock=clock):
        await run(fake_discord, community, "/buddy request", alice, member=bob)
    [request] = dms(fake_discord, bob, REQUEST_TEXT)
    async with running_kindred(fake_discord, kindred_config, clock=clock, sync=False) as bot:
        decline_id = request.custom_ids[1]
        await (await fake_discord.click(request, user=bob, custom_id=decline_id)).reply()
        assert request.custom_ids == [] and "not right now" in request.content
        [told] = await fake_discord.wait_for(lambda: dms(fake_discord, alice, "isn't able to be buddies"),
                                             what="alice told kindly")
        assert "not about you" in told.content
        assert not await bot.services.buddies.are_buddies(community.guild.id, alice.id, bob.id)


async def test_a_request_dm_button_from_before_incarnations_changes_nothing(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    """`kindred:buddy:accept:<id>` (sent before buttons named incarnations) may be a deleted request's: refused."""
    alice, bob = community.alice, community.bob
    await run(fake_discord, community, "/buddy request", alice, member=bob)
    [request] = dms(fake_discord, bob, REQUEST_TEXT)
    ref = request.custom_ids[0].rsplit(":", 1)[1]
    assert re.fullmatch(r"[0-9]+\.[0-9a-f]{16}", ref), request.custom_ids
    legacy = f"kindred:buddy:accept:{ref.split('.')[0]}"
    components = [{"type": 1, "components": [{"type": 2, "style": 3, "label": "Accept", "custom_id": legacy}]}]
    old = await fake_discord.post_message(fake_discord.dm_channel(bob), fake_discord.bot,
                                          {"content": "old request DM", "components": components}, [])
    refused = await (await fake_discord.click(old, user=bob, custom_id=legacy)).reply()
    assert "no longer open" in refused.content and "/buddy accept" in refused.content
    assert not await kindred.services.buddies.are_buddies(community.guild.id, alice.id, bob.id)
    assert request.custom_ids != [], "the real request DM still waits for an answer"


async def test_automatic_nudge_after_n_days_exactly_once(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    alice, bob = community.alice, community.bob
    await run(fake_discord, community, "/buddy request", alice, member=bob)
    await run(fake_discord, community, "/buddy accept", bob, member=alice)
    await run(fake_discord, community, "/settings share-checkins", alice, **{"with": "buddies"})
    await run(fake_discord, community, "/checkin", alice, mood=4)  # Saturday 21 November
    status = await run(fake_discord, community, "/buddy status", bob)
    assert "last check-in **Sat 21 Nov 2026**" in status.content and "**1 day**" in status.content
    for instant in (utc(2026, 11, 22, 12), utc(2026, 11, 23, 12), utc(2026, 11, 24, 3),  # night: quiet
                    utc(2026, 11, 24, 9), utc(2026, 11, 24, 10), utc(2026, 11, 25, 9), utc(2026, 11, 26, 9)):
        clock.set(instant)
        await kindred.run_sweeps_once()
        expected = 1 if instant >= utc(2026, 11, 24, 9) else 0
        assert len(dms(fake_discord, bob, NUDGE_TEXT)) == expected, instant
    [nudge] = dms(fake_discord, bob, NUDGE_TEXT)
    assert f"<@{alice.id}>" in nudge.content and "2 days" in nudge.content
    assert "mood" not in nudge.content.lower()
    assert_kind(nudge.content)
    assert dms(fake_discord, alice, NUDGE_TEXT) == []  # bob shares nothing, so nothing about bob


async def test_closed_dms_stop_automatic_nudges(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    alice, bob = community.alice, community.bob
    await run(fake_discord, community, "/buddy request", alice, member=bob)
    await run(fake_discord, community, "/buddy accept", bob)
    await run(fake_discord, community, "/settings share-checkins", alice, **{"with": "buddies"})
    fake_discord.faults.close_dms(bob)
    dm_route = "POST /channels/{channel_id}/messages"
    for day in (24, 25, 26):
        clock.set(utc(2026, 11, day, 9))
        await kindred.run_sweeps_once()
    # One refused attempt, then Kindred stops trying (no repeated 4xx to Discord).
    refused = [r for r in fake_discord.requests(dm_route) if r.status == 403]
    assert len(refused) == 1
    assert dms(fake_discord, bob, NUDGE_TEXT) == []


async def test_nudge_pause_and_end(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    alice, bob = community.alice, community.bob
    await run(fake_discord, community, "/buddy request", alice, member=bob)
    await run(fake_discord, community, "/buddy accept", bob)
    sent = await run(fake_discord, community, "/buddy nudge", alice, member=bob)
    assert "Sent" in sent.content
    assert len(dms(fake_discord, bob, "is thinking of you")) == 1
    again = await run(fake_discord, community, "/buddy nudge", bob, member=alice)
    assert "already shared a nudge today" in again.content

    paused = await run(fake_discord, community, "/buddy pause", bob, days=3)
    assert "paused until" in paused.content
    clock.set(utc(2026, 11, 22, 12))
    blocked = await run(fake_discord, community, "/buddy nudge", alice, member=bob)
    assert "taking a break" in blocked.content
    assert len(dms(fake_discord, bob, "is thinking of you")) == 1
    assert "paused until" in (await run(fake_discord, community, "/buddy status", bob)).content

    ended = await run(fake_discord, community, "/buddy end", alice, member=bob)
    assert f"<@{bob.id}>" in ended.content
    [told] = await fake_discord.wait_for(lambda: dms(fake_discord, bob, "ended your buddy pairing"), what="bob told")
    assert "No blame" in told.content
    assert_kind(told.content)
    assert "don't have a buddy yet" in (await run(fake_discord, community, "/buddy status", bob)).content
    assert "isn't one of your buddies" in (await run(fake_discord, community, "/buddy end", alice, member=bob)).content


async def test_a_buddy_who_left_the_server_is_noticed_and_the_pairing_ends_kindly(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    alice, bob = community.alice, community.bob
    await run(fake_discord, community, "/buddy request", alice, member=bob)
    await run(fake_discord, community, "/buddy accept", bob)
    fake_discord.remove_member(community.guild, bob)  # no members intent: no event tells the bot
    reply = await run(fake_discord, community, "/buddy nudge", alice, member=bob)
    assert "no longer a member" in reply.content
    assert fake_discord.requests("GET /guilds/{guild_id}/members/{user_id}")
    [told] = await fake_discord.wait_for(lambda: dms(fake_discord, alice, "no longer a member"), what="alice told")
    assert "Recovery Circle" in told.content
    assert "don't have a buddy yet" in (await run(fake_discord, community, "/buddy status", alice)).content


async def test_privacy_delete_ends_pairs_kindly_and_cancels_requests(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    alice, bob, mod = community.alice, community.bob, community.mod
    await run(fake_discord, community, "/buddy request", alice, member=bob)
    await run(fake_discord, community, "/buddy accept", bob)
    await run(fake_discord, community, "/buddy request", alice, member=mod)
    ask = await run(fake_discord, community, "/privacy delete", alice)
    confirmed = await fake_discord.click(ask, user=alice, custom_id="kindred:privacy:confirm-delete")
    assert (await confirmed.reply()).ephemeral
    await kindred.run_sweeps_once()
    [told] = await fake_discord.wait_for(lambda: dms(fake_discord, bob, "stepped away"), what="bob told")
    assert str(alice.id) not in told.content  # Alice's data is gone: the notice does not name her either
    assert "<t:" in told.content  # it names the pairing by the day it began
    assert_kind(told.content)
    assert "don't have a buddy yet" in (await run(fake_discord, community, "/buddy status", bob)).content
    assert "no open buddy requests" in (await run(fake_discord, community, "/buddy accept", mod)).content


async def test_find_pairs_two_members_in_the_daily_round(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    alice, bob = community.alice, community.bob
    await run(fake_discord, community, "/settings timezone", alice, tz="Europe/London")
    await run(fake_discord, community, "/settings timezone", bob, tz="Europe/Madrid")
    joined = await run(fake_discord, community, "/buddy find", alice)
    assert "matching pool" in joined.content and "<t:" in joined.content
    left = await run(fake_discord, community, "/buddy find", alice)
    assert "left the matching pool" in left.content
    await run(fake_discord, community, "/buddy find", alice)
    await run(fake_discord, community, "/buddy find", bob)
    await kindred.run_sweeps_once()
    assert fake_discord.dms_to(alice) == []  # the round is at 18:00 server time
    clock.set(utc(2026, 11, 21, 18, 0))
    await kindred.run_sweeps_once()
    await kindred.run_sweeps_once()
    assert len(dms(fake_discord, alice, "matched")) == 1 and len(dms(fake_discord, bob, "matched")) == 1
    assert f"<@{bob.id}>" in dms(fake_discord, alice, "matched")[0].content
    assert await kindred.services.buddies.are_buddies(community.guild.id, alice.id, bob.id)
