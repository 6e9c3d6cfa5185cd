"""Mentoring's scheduled parts from a bot process that stays up on a live clock: the nudge about a
quiet mentee (across a DST change), and a request nobody answered closing and later forgotten."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.fakediscord import FakeDiscord, Message
from tests.e2e.helpers import Community
from tests.live.conftest import LiveStarter
from tests.live.support import LiveKindred, local

LONDON = "Europe/London"
REQUEST_TEXT = "would like you to be their mentor"
# London's clocks spring forward at 01:00 UTC on Sunday 28 March 2027 (01:00 GMT becomes 02:00 BST).
THURSDAY = date(2027, 3, 25)
SUNDAY = date(2027, 3, 28)


def utc(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)


async def mentoring(kindred: LiveKindred, fake_discord: FakeDiscord, community: Community) -> None:
    """Bob offers, Alice asks, Bob accepts with the DM's button, Alice shares her check-ins."""
    mentor, mentee = community.bob, community.alice
    await kindred.run("/mentor offer", user=mentor, focus="alcohol")
    await kindred.run("/mentor request", user=mentee, member=mentor, message="hello")
    [request] = kindred.dms(mentor, REQUEST_TEXT)
    accept = next(c for c in request.custom_ids if c.startswith("kindred:mentor:accept:"))
    await (await fake_discord.click(request, user=mentor, custom_id=accept)).reply(timeout=20)
    await kindred.wait_for(lambda: kindred.dms(mentee, "said yes"), what="the mentee told")
    await kindred.run("/mentor share", user=mentee, checkins="on")


async def test_a_mentor_hears_once_of_a_quiet_mentee_outside_quiet_hours_across_dst(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    mentor, mentee = community.bob, community.alice
    kindred = await live(local(THURSDAY, 9, 0, LONDON))
    for member in (mentor, mentee):
        await kindred.run("/settings timezone", user=member, tz=LONDON)
    await mentoring(kindred, fake_discord, community)
    await kindred.run("/checkin", user=mentee, mood=3)  # Thursday; nothing on Friday or Saturday

    def nudges() -> list[Message]:
        return kindred.dms(mentor, "hasn't checked in")

    # Two whole quiet days are over at midnight into Sunday, inside the mentor's quiet hours
    # (22:00-08:00 by default); the clocks change at 01:00 UTC. The hourly evaluations before
    # and after the change hold the nudge; it comes at 08:00 BST (07:00 UTC), not 08:00 GMT.
    saturday = SUNDAY - timedelta(days=1)
    await kindred.jump(local(saturday, 20, 58, LONDON))
    await kindred.ticks_past(local(saturday, 21, 2, LONDON))
    for hour in (1, 6):  # 02:00 BST, just after the change; 07:00 BST, still quiet
        await kindred.jump(utc(SUNDAY, hour - 1, 58))
        await kindred.ticks_past(utc(SUNDAY, hour, 2))
    assert nudges() == [], "no nudge on Saturday (one quiet day), nor in the mentor's quiet hours on Sunday"
    due = local(SUNDAY, 8, 0, LONDON)
    assert due == utc(SUNDAY, 7, 0)
    await kindred.approach(due)
    dm = await kindred.expect(nudges, 1, due, "the mentor nudge")
    assert f"<@{mentee.id}>" in dm.content and "2 days" in dm.content and "mood" not in dm.content.lower()
    for hour in (10, 11):  # two more hourly evaluations, and the next day's
        await kindred.jump(local(SUNDAY, hour - 1, 58, LONDON))
        await kindred.ticks_past(local(SUNDAY, hour, 2, LONDON))
    await kindred.jump(local(SUNDAY + timedelta(days=1), 8, 58, LONDON))
    await kindred.ticks_past(local(SUNDAY + timedelta(days=1), 9, 2, LONDON))
    assert len(nudges()) == 1, "one gentle DM for one stretch of quiet"
    assert kindred.dms(mentee, "hasn't checked in") == []


async def test_a_request_nobody_answers_closes_kindly_after_14_days_and_is_forgotten_30_days_later(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    mentor, mentee = community.bob, community.alice
    kindred = await live(local(date(2027, 3, 20), 12, 0, LONDON))  # a Saturday in GMT; it closes in BST
    await kindred.run("/settings timezone", user=mentee, tz=LONDON)
    await kindred.run("/mentor offer", user=mentor)
    await kindred.run("/mentor request", user=mentee, member=mentor, message="hello")
    await kindred.wait_for(lambda: kindred.dms(mentor, REQUEST_TEXT), what="the request DM")
    [(expires,)] = kindred.query("SELECT expires_at FROM mentor_requests")
    expiry = datetime.fromisoformat(expires)
    due = (expiry + timedelta(minutes=1)).replace(second=0, microsecond=0)  # the first minute's sweep after it

    def closed() -> list[Message]:
        return kindred.dms(mentee, "has closed after 14 days")

    await kindred.jump(due - timedelta(minutes=3))
    await kindred.ticks_past(due - timedelta(minutes=1))
    assert closed() == [] and kindred.query("SELECT status, message FROM mentor_requests") == [("pending", "hello")]
    await kindred.approach(due)
    dm = await kindred.expect(closed, 1, due, "the request's closing DM")
    assert f"<@{mentor.id}>" in dm.content and "isn't a judgement on you" in dm.content
    assert kindred.query("SELECT status, message FROM mentor_requests") == [("expired", None)], "the words go at once"
    [(resolved,)] = kindred.query("SELECT resolved_at FROM mentor_requests")
    # Kept 30 days, then deleted by the hourly sweep.
    forget = datetime.fromisoformat(resolved) + timedelta(days=30)
    hour = (forget + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    await kindred.jump(hour - timedelta(hours=1, minutes=2))
    await kindred.ticks_past(hour - timedelta(minutes=58))
    assert kindred.query("SELECT count(*) FROM mentor_requests") == [(1,)], "not before its 30 days"
    await kindred.jump(hour - timedelta(minutes=2))
    await kindred.ticks_past(hour + timedelta(minutes=2))
    assert kindred.query("SELECT count(*) FROM mentor_requests") == [(0,)]
    assert len(closed()) == 1
