"""Buddy nudges, matching rounds and request expiry from a bot process that stays up on a live clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.fakediscord import FakeDiscord, Message
from tests.e2e.helpers import Community
from tests.live.conftest import LiveStarter
from tests.live.support import ON_TIME, LiveKindred, local

LONDON = "Europe/London"


async def become_buddies(kindred: LiveKindred) -> None:
    alice, bob = kindred.community.alice, kindred.community.bob
    await kindred.run("/buddy request", user=alice, member=bob)
    [request] = kindred.dms(bob, "accountability buddy")
    accept = next(c for c in request.custom_ids if c.startswith("kindred:buddy:accept:"))
    await (await kindred.fake.click(request, user=bob, custom_id=accept)).reply(timeout=20)
    await kindred.wait_for(lambda: kindred.dms(alice, "said yes"), what="Alice told that Bob said yes")


async def test_a_partner_is_nudged_once_after_nudge_after_days_outside_quiet_hours(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    alice, bob = community.alice, community.bob
    monday = date(2027, 1, 11)
    kindred = await live(local(monday, 9, 0, LONDON))
    for member in (alice, bob):
        await kindred.run("/settings timezone", user=member, tz=LONDON)
    await kindred.run("/settings share-checkins", user=bob, options={"with": "buddies"})
    await become_buddies(kindred)
    await kindred.run("/checkin", user=bob, mood=3)  # Monday; then nothing on Tuesday or Wednesday

    def nudges() -> list[Message]:
        return kindred.dms(alice, "hasn't checked in")

    # Two whole days without a check-in are over at midnight into Thursday, inside Alice's quiet
    # hours (22:00-08:00 by default): the hourly evaluation waits for 08:00.
    wednesday, thursday = monday + timedelta(days=2), monday + timedelta(days=3)
    await kindred.jump(local(wednesday, 20, 58, LONDON))
    await kindred.ticks_past(local(wednesday, 21, 2, LONDON))
    await kindred.jump(local(thursday, 0, 58, LONDON))
    await kindred.ticks_past(local(thursday, 1, 2, LONDON))
    assert nudges() == [], "no nudge on Wednesday (one day absent), nor at 01:00 on Thursday (quiet hours)"
    await kindred.approach(local(thursday, 8, 0, LONDON))
    dm = await kindred.expect(nudges, 1, local(thursday, 8, 0, LONDON), "the automatic nudge")
    assert f"<@{bob.id}>" in dm.content and "2 days" in dm.content
    for hour in (10, 11):  # two more hourly evaluations
        await kindred.jump(local(thursday, hour - 1, 58, LONDON))
        await kindred.ticks_past(local(thursday, hour, 2, LONDON))
    assert len(nudges()) == 1 and kindred.dms(bob, "hasn't checked in") == []


async def test_the_matching_round_pairs_the_pool_at_its_hour(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    alice, bob = community.alice, community.bob
    monday = date(2027, 1, 11)
    kindred = await live(local(monday, 10, 0, "Asia/Tokyo"))
    # The server's zone (from /config checkins) decides the round's hour: 18:00 in Tokyo, 09:00 UTC.
    await kindred.run("/config checkins", user=community.mod,
                      options={"channel": community.checkins, "time": "09:00", "timezone": "Asia/Tokyo", "enabled": False})
    for member in (alice, bob):
        await kindred.run("/settings timezone", user=member, tz=LONDON)
        reply = await kindred.run("/buddy find", user=member)
        assert "18:00" in reply.text or "pool" in reply.text.lower(), reply.text
    round_at = local(monday, 18, 0, "Asia/Tokyo")
    await kindred.approach(round_at)
    alice_dm = await kindred.expect(lambda: kindred.dms(alice, "matched"), 1, round_at, "Alice's match")
    bob_dm = await kindred.expect(lambda: kindred.dms(bob, "matched"), 1, round_at, "Bob's match")
    assert f"<@{bob.id}>" in alice_dm.content and f"<@{alice.id}>" in bob_dm.content
    await kindred.jump(local(monday, 18, 3, "Asia/Tokyo"))
    await kindred.ticks_past(local(monday, 18, 5, "Asia/Tokyo"))
    assert len(kindred.dms(alice, "matched")) == 1 and len(kindred.dms(bob, "matched")) == 1


async def test_an_unanswered_buddy_request_expires_after_fourteen_days(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    alice, bob = community.alice, community.bob
    kindred = await live(datetime(2027, 1, 11, 10, 0, tzinfo=UTC))
    await kindred.run("/buddy request", user=alice, member=bob)
    [request] = kindred.dms(bob, "accountability buddy")
    [(expires,)] = kindred.query("SELECT expires_at FROM buddy_requests WHERE status = 'pending'")
    expires_at = datetime.fromisoformat(expires)
    assert timedelta(days=13, hours=23) < expires_at - datetime(2027, 1, 11, 10, 0, tzinfo=UTC) <= timedelta(days=14, hours=1)

    # Requests are looked at each minute: the notice goes out with the first sweep after the expiry,
    # at the latest the one at the next minute's start. (The jump below lands after the expiry, and
    # the tick it skipped runs at once: that is the first sweep after it.)
    boundary = expires_at.replace(second=0, microsecond=0)
    if boundary < expires_at:
        boundary += timedelta(minutes=1)
    await kindred.approach(boundary)
    closed = await kindred.wait_for(lambda: kindred.dms(alice, "has closed after 14 days"), what="the expiry notice")
    sent = await kindred.sent_at(closed[0])
    assert expires_at <= sent < boundary + ON_TIME, f"expiry notice sent at {sent}, request expired {expires_at}"
    accept = next(c for c in request.custom_ids if c.startswith("kindred:buddy:accept:"))
    late = await (await fake_discord.click(request, user=bob, custom_id=accept)).reply(timeout=20)
    assert "expired" in late.content
    assert kindred.query("SELECT status FROM buddy_requests") == [("expired",)]
