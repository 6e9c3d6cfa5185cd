"""The mentor nudge from a bot process that stays up on a live clock."""

from __future__ import annotations

from datetime import date, timedelta

from tests.e2e.helpers import Community
from tests.fakediscord import FakeDiscord, Message
from tests.live.conftest import LiveStarter
from tests.live.support import local

LONDON = "Europe/London"


async def test_a_mentor_hears_once_of_a_quiet_mentee_who_shares_outside_quiet_hours(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    mentor, mentee = community.bob, community.alice
    monday = date(2027, 1, 11)
    kindred = await live(local(monday, 9, 0, LONDON))
    for member in (mentor, mentee):
        await kindred.run("/settings timezone", user=member, tz=LONDON)
    await kindred.run("/mentor offer", user=mentor, focus="alcohol")
    await kindred.run("/mentor request", user=mentee, member=mentor, message="hello")
    [request] = kindred.dms(mentor, "would like you to be their mentor")
    accept = next(c for c in request.custom_ids if c.startswith("kindred:mentor:accept:"))
    await (await fake_discord.click(request, user=mentor, custom_id=accept)).reply(timeout=20)
    await kindred.wait_for(lambda: kindred.dms(mentee, "said yes"), what="the mentee told")
    await kindred.run("/mentor share", user=mentee, checkins="on")
    await kindred.run("/checkin", user=mentee, mood=3)  # Monday; nothing on Tuesday or Wednesday

    def nudges() -> list[Message]:
        return kindred.dms(mentor, "hasn't checked in")

    # Two whole quiet days are over at midnight into Thursday, inside the mentor's quiet hours
    # (22:00-08:00 by default): the hourly evaluation waits for 08:00.
    wednesday, thursday = monday + timedelta(days=2), monday + timedelta(days=3)
    await kindred.jump(local(wednesday, 20, 58, LONDON))
    await kindred.ticks_past(local(wednesday, 21, 2, LONDON))
    await kindred.jump(local(thursday, 0, 58, LONDON))
    await kindred.ticks_past(local(thursday, 1, 2, LONDON))
    assert nudges() == [], "no nudge on Wednesday (one quiet day), nor at 01:00 on Thursday (quiet hours)"
    due = local(thursday, 8, 0, LONDON)
    await kindred.approach(due)
    dm = await kindred.expect(nudges, 1, due, "the mentor nudge")
    assert f"<@{mentee.id}>" in dm.content and "2 days" in dm.content and "mood" not in dm.content.lower()
    for hour in (10, 11):  # two more hourly evaluations, and the next day's
        await kindred.jump(local(thursday, hour - 1, 58, LONDON))
        await kindred.ticks_past(local(thursday, hour, 2, LONDON))
    await kindred.jump(local(thursday + timedelta(days=1), 8, 58, LONDON))
    await kindred.ticks_past(local(thursday + timedelta(days=1), 9, 2, LONDON))
    assert len(nudges()) == 1, "one gentle DM for one stretch of quiet"
    assert kindred.dms(mentee, "hasn't checked in") == []
