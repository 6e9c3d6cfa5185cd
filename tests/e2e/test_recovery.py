"""Recovery counters end to end: the real bot and discord.py against the loopback Discord server."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.app import KindredBot
from bot.config import Config
from bot.domain.clock import FakeClock
from bot.fakediscord import FakeDiscord, FakeDiscordError, Message
from tests.e2e.helpers import Community, running_kindred

BANNED = re.compile(r"\b(failed|fail|lost|reset to zero|back to zero)\b", re.IGNORECASE)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def run(fake: FakeDiscord, command: str, user: object, community: Community, **options: object) -> Message:
    handle = await fake.slash(command, user=user, guild=community.guild, options=options)  # type: ignore[arg-type]
    reply = await handle.reply()
    assert reply.ephemeral, f"{command} answered publicly: {reply.text}"
    return reply


def public_messages(fake: FakeDiscord, community: Community) -> list[Message]:
    return [m for c in community.guild.channels for m in fake.messages_in(c)]


async def test_start_then_milestone_day_posts_one_celebration_with_a_reaction(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    await run(fake_discord, "/config celebrations", community.mod, community, channel=community.celebrations)
    started = await run(fake_discord, "/recovery start", community.alice, community, date="2026-11-21",
                        name="alcohol", visibility="server")
    assert "Day one" in started.text and "1 day" in started.text
    settings = await run(fake_discord, "/recovery settings", community.alice, community, name="alcohol",
                         celebrate="channel")
    assert "celebrations channel" in settings.text

    clock.set(at("2026-11-22T09:59:00"))
    await kindred.run_sweeps_once()
    assert fake_discord.messages_in(community.celebrations) == []

    clock.set(at("2026-11-22T10:00:00"))
    await kindred.run_sweeps_once()
    await kindred.run_sweeps_once()
    posts = fake_discord.messages_in(community.celebrations)
    assert len(posts) == 1
    post = posts[0]
    assert post.reactions == ["🎉"]
    assert f"<@{community.alice.id}>" in post.content and "**1 day**" in post.content and "alcohol" in post.content
    assert post.allowed_mentions is not None and not post.allowed_mentions.get("parse") \
        and not post.allowed_mentions.get("users")
    assert fake_discord.dms_to(community.alice) == []
    others = [m for m in public_messages(fake_discord, community) if m.channel is not community.celebrations]
    assert others == []


async def test_slip_keeps_longest_and_total_in_history(fake_discord: FakeDiscord, community: Community,
                                                       kindred: KindredBot) -> None:
    await run(fake_discord, "/recovery start", community.alice, community, date="2026-01-01")
    slip = await run(fake_discord, "/recovery slip", community.alice, community, date="2026-06-01")
    assert not BANNED.search(slip.text)
    assert "**173 days**" in slip.text and "**324 days**" in slip.text  # longest and total, kept
    history = await run(fake_discord, "/recovery history", community.alice, community)
    # 1 Jan → 1 Jun is 151 days, 1 Jun → 21 Nov is 173: longest 173, total 324
    assert "Longest streak: **173 days**" in history.text
    assert "Total days in recovery: **324 days**" in history.text
    assert "1 Jan 2026 → slip on 1 Jun 2026: 151 days" in history.text
    assert "1 slip recorded" in history.text and not BANNED.search(history.text)
    shown = await run(fake_discord, "/recovery show", community.alice, community)
    assert "173 days" in shown.text and "5 months, 20 days" in shown.text
    assert public_messages(fake_discord, community) == []


async def test_a_restart_around_the_celebration_hour_never_duplicates(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock) -> None:
    clock.set(at("2026-11-21T09:00:00"))
    async with running_kindred(fake_discord, kindred_config, clock=clock) as first:
        await run(fake_discord, "/recovery start", community.alice, community, date="2026-11-14")
        clock.set(at("2026-11-21T10:00:00"))
        # The sweep commits the claim and the queued DM; the process stops before sending it.
        assert await first.services.recovery.sweep(clock.now()) == 1
    assert fake_discord.dms_to(community.alice) == []

    async with running_kindred(fake_discord, kindred_config, clock=clock, sync=False) as second:
        await second.run_sweeps_once()
    async with running_kindred(fake_discord, kindred_config, clock=clock, sync=False) as third:
        clock.set(at("2026-11-21T10:30:00"))
        await third.run_sweeps_once()
    dms = fake_discord.dms_to(community.alice)
    assert len(dms) == 1 and "7 days" in dms[0].content


async def test_private_counters_never_appear_in_public_output(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    await run(fake_discord, "/config celebrations", community.mod, community, channel=community.celebrations)
    await run(fake_discord, "/recovery start", community.alice, community, date="2026-11-14", name="gambling")
    reply = await run(fake_discord, "/recovery settings", community.alice, community, name="gambling",
                      celebrate="channel")
    assert "DM" in reply.text  # asked for the channel, but the counter is private

    looked = await run(fake_discord, "/recovery show", community.bob, community, member=community.alice)
    by_name = await run(fake_discord, "/recovery show", community.bob, community, member=community.alice,
                        name="gambling")
    nobody = await run(fake_discord, "/recovery show", community.bob, community, member=community.mod)
    assert "gambling" not in looked.text and "gambling" not in by_name.text
    # the same words whether the member has a private counter or none at all
    assert looked.text.replace(f"<@{community.alice.id}>", "@") == by_name.text.replace(f"<@{community.alice.id}>", "@") \
        == nobody.text.replace(f"<@{community.mod.id}>", "@")
    assert await fake_discord.autocomplete("/recovery show", "name", "", user=community.bob,
                                           guild=community.guild) == []

    await kindred.run_sweeps_once()  # 7 days today
    assert public_messages(fake_discord, community) == []
    dms = fake_discord.dms_to(community.alice)
    assert len(dms) == 1 and "gambling" in dms[0].content and "7 days" in dms[0].content
    assert fake_discord.dms_to(community.bob) == []


async def test_server_counters_are_shared_and_named_counters_autocomplete(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    await run(fake_discord, "/recovery start", community.alice, community, date="2026-10-21", name="Smoking",
              visibility="server")
    await run(fake_discord, "/recovery start", community.alice, community, date="2026-11-01", name="sugar")
    choices = await fake_discord.autocomplete("/recovery slip", "name", "s", user=community.alice,
                                              guild=community.guild)
    assert [c["value"] for c in choices] == ["Smoking", "sugar"]
    seen = await run(fake_discord, "/recovery show", community.bob, community, member=community.alice)
    assert "Smoking" in seen.text and "31 days" in seen.text and "1 month" in seen.text
    assert "sugar" not in seen.text and "Longest" not in seen.text


async def test_bad_dates_get_kind_errors_and_change_nothing(fake_discord: FakeDiscord, community: Community,
                                                            kindred: KindredBot) -> None:
    for bad in ("2026-11-22", "2023-02-29", "1899-12-31", "next tuesday"):
        reply = await run(fake_discord, "/recovery start", community.alice, community, date=bad)
        assert "Sorry — something went wrong" not in reply.text and not BANNED.search(reply.text)
    shown = await run(fake_discord, "/recovery show", community.alice, community)
    assert "/recovery start" in shown.text  # still no counter


async def test_remove_and_settings_round_trip(fake_discord: FakeDiscord, community: Community,
                                              kindred: KindredBot) -> None:
    await run(fake_discord, "/recovery start", community.alice, community, date="2026-11-01", name="alcohol")
    changed = await run(fake_discord, "/recovery settings", community.alice, community, name="ALCOHOL",
                        visibility="buddies", celebrate="off")
    assert "you and your buddies" in changed.text and "off" in changed.text
    removed = await run(fake_discord, "/recovery remove", community.alice, community, name="alcohol")
    assert "alcohol" in removed.text
    assert "/recovery start" in (await run(fake_discord, "/recovery history", community.alice, community)).text


async def test_config_milestones_ladder(fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
                                        clock: FakeClock) -> None:
    added = await run(fake_discord, "/config milestones add", community.mod, community, days=2,
                      description="Two whole days!")
    assert "1, 2 (“Two whole days!”), 3" in added.text
    removed = await run(fake_discord, "/config milestones remove", community.mod, community, days=1)
    assert removed.text.count("1,") == 0 and "2 (“Two whole days!”)" in removed.text
    shown = await run(fake_discord, "/config show", community.mod, community)
    assert "Milestones: 2 (“Two whole days!”), 3, 7" in shown.text

    await run(fake_discord, "/recovery start", community.alice, community, date="2026-11-21")
    clock.set(at("2026-11-22T10:00:00"))
    await kindred.run_sweeps_once()
    assert fake_discord.dms_to(community.alice) == []  # no 1-day rung any more
    clock.set(at("2026-11-23T10:00:00"))
    await kindred.run_sweeps_once()
    dms = fake_discord.dms_to(community.alice)
    assert len(dms) == 1 and "2 days" in dms[0].content and "Two whole days!" in dms[0].content

    reset = await run(fake_discord, "/config milestones reset", community.mod, community)
    assert "1, 3, 7, 14, 30, 60, 90, 180, 270, 365 days" in reset.text and "default" in reset.text

    with pytest.raises(FakeDiscordError, match="hides /config"):
        await fake_discord.slash("/config milestones reset", user=community.alice, guild=community.guild)
    refused = await (await fake_discord.slash("/config milestones add", user=community.alice, guild=community.guild,
                                              bypass_permissions=True, days=5)).reply()
    assert refused.ephemeral and "Manage Server" in refused.text
    shown = await run(fake_discord, "/config show", community.mod, community)
    assert "Milestones: 1, 3, 7, 14, 30" in shown.text  # the member's add changed nothing
