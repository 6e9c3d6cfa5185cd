"""Meetings on a live clock: the next event published as one ends, reminders on time and once,
across a DST change, and after downtime (the one live test that restarts the bot); an event
deleted on Discord's side recreated once at the next hourly look."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.fakediscord import FakeDiscord, Message, ScheduledEvent
from tests.e2e.helpers import Community
from tests.live.conftest import LiveStarter
from tests.live.support import APPROACH_RATE, ON_TIME, LiveKindred, local

NEW_YORK = "America/New_York"
# Tuesdays 19:00 in New York; clocks spring forward on Sunday 14 March 2027.
TUESDAY_1, TUESDAY_2, TUESDAY_3 = date(2027, 3, 9), date(2027, 3, 16), date(2027, 3, 23)


async def add_meeting(kindred: LiveKindred, community: Community, **extra: object) -> ScheduledEvent:
    await kindred.run("/meeting add", user=community.mod,
                      options={"name": "Tuesday group", "weekday": "tuesday", "time": "19:00", "timezone": NEW_YORK,
                               "duration": 90, "channel": community.meeting_room, **extra})
    [event] = kindred.fake.scheduled_events(community.guild)
    return event


def reminders(kindred: LiveKindred) -> list[Message]:
    return kindred.dms(kindred.community.alice, "Tuesday group")


async def test_the_next_event_is_published_as_an_occurrence_ends_at_the_same_local_time_across_dst(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    kindred = await live(local(date(2027, 3, 8), 12, 0, NEW_YORK))
    first = await add_meeting(kindred, community)
    assert first.start == local(TUESDAY_1, 19, 0, NEW_YORK)
    end = local(TUESDAY_1, 20, 30, NEW_YORK)
    await kindred.approach(end)
    [second] = await kindred.wait_for(
        lambda: [e for e in fake_discord.scheduled_events(community.guild) if e.id != first.id],
        what="the next occurrence's event")
    [published] = await kindred.wait_for(lambda: kindred.logged("occurrence .* published as event"),
                                         what="the publication in the bot's log")
    assert end <= published < end + ON_TIME, f"published at {published:%H:%M:%S}, the meeting ended {end:%H:%M:%S}"
    assert second.start == local(TUESDAY_2, 19, 0, NEW_YORK)
    assert (second.start - first.start) == timedelta(days=7, hours=-1), "19:00 local both weeks, across the change"
    assert first.deleted, "the ended occurrence nobody started is tidied away"
    await kindred.jump(end + timedelta(minutes=3))
    await kindred.ticks_past(end + timedelta(minutes=5))
    assert len(fake_discord.scheduled_events(community.guild)) == 1
    assert len(fake_discord.requests("POST /guilds/{guild_id}/scheduled-events")) == 2


async def test_a_reminder_comes_minutes_before_on_time_and_once_each_week_across_dst(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    alice = community.alice
    kindred = await live(local(date(2027, 3, 8), 12, 0, NEW_YORK))
    await add_meeting(kindred, community)
    await kindred.run("/settings timezone", user=alice, tz="Europe/London")
    await kindred.run("/settings quiet-hours", user=alice, start="22:00", end="07:00")  # 22:45 London is quiet
    await kindred.run("/meeting remind", user=alice, name="Tuesday group", minutes_before=15)
    for week, day in enumerate((TUESDAY_1, TUESDAY_2), start=1):
        due = local(day, 18, 45, NEW_YORK)
        await kindred.approach(due)
        dm = await kindred.expect(lambda: reminders(kindred), week, due, "the meeting reminder")
        london = "00:00" if day == TUESDAY_1 else "23:00"  # London changes its clocks two weeks later
        assert f"{london} your time (Europe/London)" in dm.content
        for after in (5, 20):  # the minutes just after, then the last ones before the meeting
            await kindred.jump(due + timedelta(minutes=after - 2))
            await kindred.ticks_past(due + timedelta(minutes=after))
        assert len(reminders(kindred)) == week, "once per occurrence"


async def test_after_downtime_a_reminder_is_sent_late_only_while_the_meeting_lasts(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    alice = community.alice
    kindred = await live(local(date(2027, 3, 8), 12, 0, NEW_YORK))
    await add_meeting(kindred, community)
    await kindred.run("/meeting remind", user=alice, name="Tuesday group", minutes_before=30)
    await kindred.jump(local(TUESDAY_1, 18, 0, NEW_YORK))
    await kindred.idle()
    assert await kindred.proc.stop() == 0
    # Down from 18:00 (before the 18:30 reminder) until 19:20, while the meeting (19:00-20:30) is on.
    back = await live(local(TUESDAY_1, 19, 20, NEW_YORK))
    [late] = await back.wait_for(lambda: reminders(back), what="the late reminder")
    assert "started" in late.content and "still join" in late.content
    sent = await back.sent_at(late)
    assert local(TUESDAY_1, 19, 20, NEW_YORK) <= sent < local(TUESDAY_1, 19, 22, NEW_YORK), sent
    await back.ticks_past(local(TUESDAY_1, 19, 25, NEW_YORK))
    assert len(reminders(back)) == 1
    # Down again over a whole meeting: no reminder for one that has ended; the next comes on time.
    await back.jump(local(TUESDAY_2, 17, 0, NEW_YORK))
    await back.idle()
    assert await back.proc.stop() == 0
    again = await live(local(TUESDAY_2, 21, 0, NEW_YORK))
    await again.ticks_past(local(TUESDAY_2, 21, 2, NEW_YORK))
    assert len(reminders(again)) == 1, "the 16 March meeting ended while the bot was down: nothing late"
    due = local(TUESDAY_3, 18, 30, NEW_YORK)
    await again.approach(due)
    await again.expect(lambda: reminders(again), 2, due, "the next week's reminder")
    assert [e.start for e in fake_discord.scheduled_events(community.guild)] == [local(TUESDAY_3, 19, 0, NEW_YORK)]


async def test_an_event_deleted_on_discords_side_is_recreated_once_at_the_next_hourly_look(
        fake_discord: FakeDiscord, community: Community, live: LiveStarter) -> None:
    # Slow at first: at x60 the hour before the first look is one real minute, which a busy
    # machine can spend starting.
    kindred = await live(local(date(2027, 3, 8), 12, 0, NEW_YORK), rate=APPROACH_RATE)
    first = await add_meeting(kindred, community)

    def next_look() -> datetime:
        [(at,)] = kindred.query("SELECT next_check_at FROM meetings")
        return datetime.fromisoformat(at)

    def open_events() -> list[ScheduledEvent]:
        return fake_discord.scheduled_events(community.guild)

    await fake_discord.delete_event(first)  # a moderator deletes it in the Discord client
    look = next_look()
    assert look - first.start < timedelta(0), "looked at hourly before it starts"
    if look.second or look.microsecond:  # the events sweep runs on the minute
        look = look.replace(second=0, microsecond=0) + timedelta(minutes=1)
    # The minute before first: a jump over a minute's start runs the missed tick at once.
    await kindred.jump(look - timedelta(minutes=1, seconds=2), rate=APPROACH_RATE)
    await kindred.ticks_past(look - timedelta(minutes=1))
    await kindred.approach(look)
    [again] = await kindred.wait_for(open_events, what="the event published again")
    [recreated] = await kindred.wait_for(lambda: kindred.logged("deleted on Discord's side, recreated"),
                                         what="the recreation in the bot's log")
    assert look <= recreated < look + ON_TIME, f"recreated at {recreated:%H:%M:%S}, the look was due {look:%H:%M:%S}"
    assert again.id != first.id and (again.start, again.end) == (first.start, first.end)
    assert again.channel_id == community.meeting_room.id

    await fake_discord.delete_event(again)  # deleted again: someone meant it
    first_look = look
    await kindred.wait_for(lambda: next_look() > first_look, what="the next look stored")
    look = next_look()
    await kindred.jump(look - timedelta(minutes=2))
    await kindred.ticks_past(look + timedelta(minutes=2))
    await kindred.wait_for(lambda: kindred.logged("deleted on Discord's side, left unpublished"),
                           what="the second deletion noticed")
    await kindred.jump(look + timedelta(hours=1, minutes=3))
    await kindred.ticks_past(look + timedelta(hours=1, minutes=5))
    assert open_events() == [] and len(fake_discord.requests("POST /guilds/{guild_id}/scheduled-events")) == 2
    # That week stays unpublished; the next is published as usual when it ends (after the DST change).
    end = local(TUESDAY_1, 20, 30, NEW_YORK)
    await kindred.approach(end)
    [following] = await kindred.wait_for(open_events, what="the next week's event")
    assert following.start == local(TUESDAY_2, 19, 0, NEW_YORK)
