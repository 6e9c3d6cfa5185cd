"""Milestone celebrations from a bot process that stays up on a live clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.fakediscord import FakeDiscord
from tests.e2e.helpers import Community
from tests.live.conftest import LiveStarter
from tests.live.support import local


async def test_milestones_are_celebrated_on_each_members_local_day_in_the_channel_and_by_dm(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    alice, bob = community.alice, community.bob
    kindred = await live(datetime(2027, 1, 11, 0, 0, tzinfo=UTC))  # Monday 13:00 in Auckland, Sunday 16:00 in LA
    await kindred.run("/config celebrations", user=community.mod, options={"channel": community.celebrations})
    await kindred.run("/settings timezone", user=alice, tz="Pacific/Auckland")
    await kindred.run("/settings timezone", user=bob, tz="America/Los_Angeles")
    started = await kindred.run("/recovery start", user=alice, date="2027-01-05", name="alcohol", visibility="server")
    assert "6 days" in started.text, started.text
    await kindred.run("/recovery settings", user=alice, name="alcohol", celebrate="channel")
    started = await kindred.run("/recovery start", user=bob, date="2027-01-08", name="gambling")  # private, by DM
    assert "2 days" in started.text, started.text

    # Bob reaches 3 days on his Monday: a DM from 10:00 Los Angeles time (18:00 UTC), nothing public.
    monday, tuesday = date(2027, 1, 11), date(2027, 1, 12)
    await kindred.approach(local(monday, 10, 0, "America/Los_Angeles"))
    dm = await kindred.expect(lambda: kindred.dms(bob, "reached"), 1, local(monday, 10, 0, "America/Los_Angeles"),
                              "Bob's 3-day DM")
    assert "**3 days**" in dm.content and "gambling" in dm.content
    assert fake_discord.messages_in(community.celebrations) == []

    # Alice reaches 7 days on her Tuesday, which begins in Auckland while it is still Monday in UTC.
    await kindred.approach(local(tuesday, 10, 0, "Pacific/Auckland"))  # Monday 21:00 UTC
    post = await kindred.expect(lambda: fake_discord.messages_in(community.celebrations), 1,
                                local(tuesday, 10, 0, "Pacific/Auckland"), "Alice's 7-day celebration")
    assert f"<@{alice.id}>" in post.content and "**7 days**" in post.content and "alcohol" in post.content
    await kindred.wait_for(lambda: post.reactions == ["🎉"], what="the 🎉 reaction")

    await kindred.jump(local(tuesday, 10, 8, "Pacific/Auckland"))
    await kindred.ticks_past(local(tuesday, 10, 10, "Pacific/Auckland"))
    assert len(fake_discord.messages_in(community.celebrations)) == 1 and len(kindred.dms(bob)) == 1
    assert fake_discord.dms_to(alice) == [], "a channel celebration is not also a DM"
