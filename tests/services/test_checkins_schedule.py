"""The daily prompt and reminder sweeps: exactly once, late the same day, DST, quiet hours, 50007."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import aiosqlite
import pytest

from bot.config import Config
from bot.db.database import Database
from bot.domain.clock import FakeClock
from bot.domain.localtime import occurrence_on, zone
from bot.services import checkins as checkins_service
from bot.services.checkins import CHECKIN_BUTTON_ID, PLEDGE_BUTTON_ID, load_prompts
from bot.services.container import Services, build_services
from tests.support import RecordingNotifier

G, G2, U, U2 = 100000000000000001, 100000000000000002, 200000000000000001, 200000000000000002
CHANNEL = 300000000000000001


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def tick(services: Services) -> int:
    """One pass of this feature's sweeps, then deliver what they queued."""
    now = services.clock.now()
    claimed = await services.checkins.sweep_prompts(now) + await services.checkins.sweep_reminders(now)
    await services.outbox.dispatch()
    return claimed


async def walk(services: Services, clock: FakeClock, until: datetime, step: timedelta = timedelta(minutes=15)) -> None:
    """Move the clock in steps, sweeping at each, as the scheduler would."""
    while clock.now() < until:
        clock.advance(step)
        await tick(services)


async def configure(services: Services, at: str = "09:00", tz: str = "Europe/London", guild: int = G,
                    enabled: bool | None = None) -> None:
    await services.guild_config.set_checkins(guild, channel_id=CHANNEL, time=at, timezone=tz, enabled=enabled)


# -- the daily prompt -----------------------------------------------------------------------

async def test_prompt_posts_once_at_local_time_with_both_buttons(services: Services, clock: FakeClock,
                                                                 notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    await configure(services)
    await walk(services, clock, utc(2026, 11, 21, 8, 45))
    assert notifier.posts_in(CHANNEL) == []
    await walk(services, clock, utc(2026, 11, 21, 12, 0))
    posts = notifier.posts_in(CHANNEL)
    assert len(posts) == 1
    message = posts[0].message
    assert [b.custom_id for b in message.buttons] == [CHECKIN_BUTTON_ID, PLEDGE_BUTTON_ID]
    assert "Saturday 21 November" in message.content
    assert any(prompt in message.content for prompt in load_prompts())
    assert message.mention_role_id is None


async def test_prompt_rotates_by_local_date(services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    await configure(services)
    await walk(services, clock, utc(2026, 11, 23, 12, 0), step=timedelta(hours=1))
    contents = [p.message.content for p in notifier.posts_in(CHANNEL)]
    assert len(contents) == 3 and len(set(contents)) == 3
    # The same date always gives the same prompt (a restart cannot pick another).
    assert services.checkins.prompt_message(date(2026, 11, 22)).content == contents[1]


async def test_restart_does_not_duplicate_the_prompt(config: Config, db: Database, clock: FakeClock,
                                                     notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    first = build_services(config, db, clock, notifier)
    await configure(first)
    clock.set(utc(2026, 11, 21, 9, 0))
    await tick(first)
    restarted = build_services(config, db, clock, notifier)
    await tick(restarted)
    clock.advance(timedelta(minutes=30))
    await tick(restarted)
    assert len(notifier.posts_in(CHANNEL)) == 1


async def test_crash_between_claim_and_send_posts_once_after_restart(config: Config, db: Database, clock: FakeClock,
                                                                     notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    first = build_services(config, db, clock, notifier)
    await configure(first)
    clock.set(utc(2026, 11, 21, 9, 0))
    assert await first.checkins.sweep_prompts(clock.now()) == 1  # committed, then the process dies
    restarted = build_services(config, db, clock, notifier)
    await tick(restarted)
    await tick(restarted)
    assert len(notifier.posts_in(CHANNEL)) == 1


async def test_prompt_missed_while_down_is_posted_late_the_same_day(services: Services, clock: FakeClock,
                                                                    notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    await configure(services)
    clock.set(utc(2026, 11, 21, 15, 0))  # the bot was down from 08:00 to 15:00
    await tick(services)
    assert len(notifier.posts_in(CHANNEL)) == 1


async def test_prompt_of_a_day_that_ended_while_down_is_not_posted(services: Services, clock: FakeClock,
                                                                   notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    await configure(services)
    clock.set(utc(2026, 11, 22, 8, 0))  # down for a whole day: Saturday's prompt is history
    await tick(services)
    assert notifier.posts_in(CHANNEL) == []
    await walk(services, clock, utc(2026, 11, 22, 9, 30))
    posts = notifier.posts_in(CHANNEL)
    assert len(posts) == 1 and "Sunday 22 November" in posts[0].message.content


@pytest.mark.parametrize(("tz", "at", "night_start", "night_end", "expected_post_utc"), [
    # Fall back: 01:30 happens twice on 1 November in New York; one prompt, at the first.
    ("America/New_York", "01:30", utc(2026, 11, 1, 3), utc(2026, 11, 1, 9), utc(2026, 11, 1, 5, 30)),
    # Spring forward: 02:30 does not exist on 8 March; the prompt comes once, at 03:30 EDT.
    ("America/New_York", "02:30", utc(2026, 3, 8, 5), utc(2026, 3, 8, 10), utc(2026, 3, 8, 7, 30)),
    # Lord Howe moves by half an hour: 01:45 happens twice on 5 April.
    ("Australia/Lord_Howe", "01:45", utc(2026, 4, 4, 13), utc(2026, 4, 4, 17), utc(2026, 4, 4, 14, 45)),
    ("Pacific/Chatham", "02:50", utc(2026, 9, 26, 12), utc(2026, 9, 26, 16), utc(2026, 9, 26, 14, 5)),
])
async def test_dst_night_gives_exactly_one_prompt(services: Services, clock: FakeClock, notifier: RecordingNotifier,
                                                  tz: str, at: str, night_start: datetime, night_end: datetime,
                                                  expected_post_utc: datetime) -> None:
    clock.set(night_start - timedelta(days=1))
    await configure(services, at=at, tz=tz)
    clock.set(night_start)
    await tick(services)
    notifier.sent.clear()
    await walk(services, clock, night_end, step=timedelta(minutes=5))
    posts = notifier.posts_in(CHANNEL)
    assert len(posts) == 1
    assert expected_post_utc.astimezone(zone(tz)).date() in await services.checkins_repo.prompt_dates(G)
    dedupe_rows = await services.db.fetch_all(
        "SELECT created_at FROM checkin_prompts WHERE guild_id = ? ORDER BY local_date DESC LIMIT 1", (G,))
    posted_at = datetime.fromisoformat(dedupe_rows[0]["created_at"])
    assert expected_post_utc <= posted_at < expected_post_utc + timedelta(minutes=5)


async def test_disabling_stops_prompts_and_enabling_resumes(services: Services, clock: FakeClock,
                                                            notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    await configure(services, enabled=False)
    assert await services.checkins_repo.prompt_due_at(G) is None
    await walk(services, clock, utc(2026, 11, 21, 10, 0))
    assert notifier.posts_in(CHANNEL) == []
    await configure(services, at="11:00")
    assert await services.checkins_repo.prompt_due_at(G) == utc(2026, 11, 21, 11, 0)
    await walk(services, clock, utc(2026, 11, 21, 11, 30))
    assert len(notifier.posts_in(CHANNEL)) == 1


async def test_changing_the_time_after_todays_prompt_does_not_post_twice(services: Services, clock: FakeClock,
                                                                         notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    await configure(services)
    await walk(services, clock, utc(2026, 11, 21, 9, 30))
    await configure(services, at="18:00")
    await walk(services, clock, utc(2026, 11, 21, 19, 0))
    assert len(notifier.posts_in(CHANNEL)) == 1
    await walk(services, clock, utc(2026, 11, 22, 18, 30), step=timedelta(hours=1))
    assert len(notifier.posts_in(CHANNEL)) == 2


async def test_an_unrelated_config_change_while_the_prompt_is_due_does_not_skip_it(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    await configure(services)
    clock.set(utc(2026, 11, 21, 9, 0, 10))  # due, and the next sweep is a few seconds away
    await services.guild_config.set_alerts(G, channel_id=CHANNEL + 1, role_id=None)
    await tick(services)
    assert len(notifier.posts_in(CHANNEL)) == 1
    assert await services.checkins_repo.prompt_due_at(G) == utc(2026, 11, 22, 9, 0)


async def test_changing_the_server_zone_moves_the_prompt(services: Services, clock: FakeClock) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    await configure(services, tz="Europe/London")
    assert await services.checkins_repo.prompt_due_at(G) == utc(2026, 11, 21, 9, 0)
    await configure(services, tz="Asia/Kolkata")  # 09:00 IST has passed: tomorrow's
    assert await services.checkins_repo.prompt_due_at(G) == utc(2026, 11, 22, 3, 30)


async def test_a_server_the_bot_left_gets_no_prompt(services: Services, clock: FakeClock,
                                                    notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    await configure(services)
    await services.guilds.mark_left(G, clock.now())
    await walk(services, clock, utc(2026, 11, 21, 10, 0))
    assert notifier.posts_in(CHANNEL) == []
    assert await services.checkins_repo.prompt_due_at(G) is None


async def test_start_up_repairs_a_missing_schedule(services: Services, clock: FakeClock,
                                                   notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 11, 21, 8, 0))
    # As if the process died between the /config commit and the schedule write.
    await services.guilds.ensure(G, clock.now())
    await services.guilds.update(G, clock.now(), checkin_channel_id=CHANNEL, checkin_time="09:00",
                                 timezone="Europe/London", checkin_enabled=True)
    await walk(services, clock, utc(2026, 11, 21, 9, 15))
    assert len(notifier.posts_in(CHANNEL)) == 1


async def test_sweep_claims_in_batches(services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    services.checkins.batch = 2
    clock.set(utc(2026, 11, 21, 8, 0))
    for guild in range(5):
        await configure(services, guild=G + guild)
    clock.set(utc(2026, 11, 21, 9, 0))
    assert await services.checkins.sweep_prompts(clock.now()) == 5
    assert await services.checkins.sweep_prompts(clock.now()) == 0


# -- reminders ------------------------------------------------------------------------------

async def reminder_at(services: Services, at: str = "20:00", tz: str = "Europe/London", user: int = U) -> None:
    await services.settings.set_timezone(G, user, tz)
    await services.checkins.set_reminder(G, user, at)


async def test_reminder_dm_at_local_time_once(services: Services, clock: FakeClock,
                                              notifier: RecordingNotifier) -> None:
    await reminder_at(services, tz="Asia/Kolkata")          # 20:00 IST = 14:30 UTC
    await walk(services, clock, utc(2026, 11, 21, 14, 15))
    assert notifier.dms_to(U) == []
    await walk(services, clock, utc(2026, 11, 21, 23, 0))
    dms = notifier.dms_to(U)
    assert len(dms) == 1
    assert "/checkin" in dms[0].message.content and "/reminder off" in dms[0].message.content
    for word in ("failed", "lost", "reset", "streak"):
        assert word not in dms[0].message.content.lower()


async def test_no_reminder_on_a_day_with_a_checkin(services: Services, clock: FakeClock,
                                                   notifier: RecordingNotifier) -> None:
    await reminder_at(services)
    await services.checkins.check_in(G, U, mood=3)
    await walk(services, clock, utc(2026, 11, 21, 21, 0))
    assert notifier.dms_to(U) == []
    await walk(services, clock, utc(2026, 11, 22, 21, 0), step=timedelta(hours=1))
    assert len(notifier.dms_to(U)) == 1


async def test_reminder_links_the_checkin_channel(services: Services, clock: FakeClock,
                                                  notifier: RecordingNotifier) -> None:
    await configure(services)
    await reminder_at(services)
    await walk(services, clock, utc(2026, 11, 21, 20, 30))
    dm = [d for d in notifier.sent if d.target == "dm"][0]
    assert f"https://discord.com/channels/{G}/{CHANNEL}" in dm.message.content


async def test_reminder_inside_quiet_hours_waits_for_their_end_the_same_day(services: Services, clock: FakeClock,
                                                                            notifier: RecordingNotifier) -> None:
    await reminder_at(services, at="06:00", tz="UTC")
    await services.settings.set_quiet_hours(G, U, "22:00", "07:00")
    await walk(services, clock, utc(2026, 11, 22, 6, 55), step=timedelta(minutes=5))
    assert notifier.dms_to(U) == []
    await walk(services, clock, utc(2026, 11, 22, 7, 10), step=timedelta(minutes=5))
    assert len(notifier.dms_to(U)) == 1


async def test_reminder_whose_quiet_hours_last_past_midnight_is_skipped(services: Services, clock: FakeClock,
                                                                        notifier: RecordingNotifier) -> None:
    await reminder_at(services, at="23:00", tz="UTC")
    await services.settings.set_quiet_hours(G, U, "22:00", "07:00")
    await walk(services, clock, utc(2026, 11, 23, 12, 0), step=timedelta(minutes=30))
    assert notifier.dms_to(U) == []
    status = await services.checkins.reminder_status(G, U)
    assert status is not None and status.sends_at is None


async def test_reminder_made_late_by_downtime_still_respects_quiet_hours(services: Services, clock: FakeClock,
                                                                         notifier: RecordingNotifier) -> None:
    await reminder_at(services, at="21:00", tz="UTC")
    await services.settings.set_quiet_hours(G, U, "22:00", "07:00")
    clock.set(utc(2026, 11, 21, 23, 0))  # down from 10:00 to 23:00: now inside quiet hours
    await tick(services)
    await walk(services, clock, utc(2026, 11, 22, 8, 0))
    assert notifier.dms_to(U) == []


async def test_reminder_missed_while_down_is_sent_late_the_same_day_only(services: Services, clock: FakeClock,
                                                                         notifier: RecordingNotifier) -> None:
    await reminder_at(services, at="12:00", tz="UTC")
    clock.set(utc(2026, 11, 21, 15, 0))
    await tick(services)
    await tick(services)
    assert len(notifier.dms_to(U)) == 1
    clock.set(utc(2026, 11, 23, 9, 0))   # down over all of Sunday's reminder
    await tick(services)
    assert len(notifier.dms_to(U)) == 1
    await walk(services, clock, utc(2026, 11, 23, 12, 30))
    assert len(notifier.dms_to(U)) == 2


async def test_closed_dms_are_not_retried_that_day_and_show_why(services: Services, clock: FakeClock,
                                                                notifier: RecordingNotifier) -> None:
    notifier.dm_closed.add(U)
    await reminder_at(services, at="12:00", tz="UTC")
    await walk(services, clock, utc(2026, 11, 21, 12, 30))
    assert len([s for s in notifier.sent if s.target == "dm"]) == 1   # one attempt, refused
    assert await services.members.dm_closed(U, services.clock.now())
    status = await services.checkins.reminder_status(G, U)
    assert status is not None and status.dm_closed_date == date(2026, 11, 21)
    # Using the bot again lifts the closed mark, but today's reminder is done: no retry.
    await services.checkins.check_in(G, U, mood=3, day="2026-11-20")
    await walk(services, clock, utc(2026, 11, 21, 23, 30))
    assert len([s for s in notifier.sent if s.target == "dm"]) == 1
    # The member opened their DMs; the next day's reminder arrives and the note clears.
    notifier.dm_closed.discard(U)
    await walk(services, clock, utc(2026, 11, 22, 12, 30))
    assert len(notifier.dms_to(U)) == 1
    status = await services.checkins.reminder_status(G, U)
    assert status is not None and status.dm_closed_date is None


async def test_known_closed_dms_are_not_even_queued(services: Services, clock: FakeClock,
                                                    notifier: RecordingNotifier) -> None:
    await reminder_at(services, at="12:00", tz="UTC")
    await services.members.mark_dm_closed(U, clock.now())
    await walk(services, clock, utc(2026, 11, 22, 13, 0), step=timedelta(hours=1))
    assert notifier.sent == []
    assert await services.db.fetch_value("SELECT count(*) FROM outbox WHERE kind = 'checkin.reminder'") == 0


async def test_reminders_resume_a_week_after_a_refusal(services: Services, clock: FakeClock,
                                                        notifier: RecordingNotifier) -> None:
    await reminder_at(services, at="12:00", tz="UTC")
    await services.members.mark_dm_closed(U, clock.now())  # 21 Nov 10:00; the member opens DMs, says nothing
    await walk(services, clock, utc(2026, 11, 27, 13, 0), step=timedelta(hours=1))
    assert notifier.sent == []
    await walk(services, clock, utc(2026, 11, 28, 13, 0), step=timedelta(hours=1))
    assert len(notifier.dms_to(U)) == 1, "a week after the refusal, reminders are tried again"


async def test_changing_zone_moves_the_reminder(services: Services, clock: FakeClock,
                                                notifier: RecordingNotifier) -> None:
    await reminder_at(services, at="20:00", tz="Europe/London")
    member = await services.members.get(G, U)
    assert member is not None
    assert (await services.checkins_repo.get_reminder(member.member_id)).next_due_at == utc(2026, 11, 21, 20)  # type: ignore[union-attr]
    await services.settings.set_timezone(G, U, "Asia/Kolkata")
    reminder = await services.checkins_repo.get_reminder(member.member_id)
    assert reminder is not None and reminder.next_due_at == utc(2026, 11, 21, 14, 30)
    assert reminder.timezone == "Asia/Kolkata"
    await walk(services, clock, utc(2026, 11, 21, 21, 0))
    assert len(notifier.dms_to(U)) == 1


async def test_server_zone_change_moves_reminders_of_members_without_their_own(services: Services,
                                                                               clock: FakeClock) -> None:
    await configure(services, tz="Europe/London")
    await services.checkins.set_reminder(G, U, "20:00")           # follows the server
    await reminder_at(services, at="20:00", tz="Europe/London", user=U2)  # has their own zone
    await configure(services, tz="Asia/Kolkata")
    follows = await services.members.get(G, U)
    own = await services.members.get(G, U2)
    assert follows is not None and own is not None
    moved = await services.checkins_repo.get_reminder(follows.member_id)
    kept = await services.checkins_repo.get_reminder(own.member_id)
    assert moved is not None and moved.next_due_at == utc(2026, 11, 21, 14, 30)
    assert kept is not None and kept.next_due_at == utc(2026, 11, 21, 20, 0)


async def test_two_zone_changes_at_once_both_finish_and_the_last_wins(
        services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    # A moderator corrects a typo in a big server: the second change starts while the
    # first is still moving reminders, batch by batch.
    monkeypatch.setattr(checkins_service, "RESCHEDULE_BATCH", 3)
    await configure(services, tz="Europe/London")
    users = [U + i for i in range(10)]
    for user in users:
        await services.checkins.set_reminder(G, user, "20:00")  # all follow the server's zone
    repo = services.checkins_repo
    move_reminders = repo.move_reminders
    batches = 0

    async def counted(conn: aiosqlite.Connection, timezone: str, moves: list[tuple[int, datetime]]) -> None:
        nonlocal batches
        batches += 1
        # 10 reminders in batches of 3 are 4 batches a change: far more means they undo each other.
        assert batches <= 20, "the two zone changes keep undoing each other's batches"
        await move_reminders(conn, timezone, moves)

    monkeypatch.setattr(repo, "move_reminders", counted)
    await asyncio.gather(configure(services, tz="Asia/Kolkata"), configure(services, tz="America/New_York"))
    guild = await services.guilds.get(G)
    assert guild is not None and guild.timezone == "America/New_York"  # the later command
    for user in users:
        member = await services.members.get(G, user)
        assert member is not None
        reminder = await repo.get_reminder(member.member_id)
        assert reminder is not None and reminder.timezone == "America/New_York"
        assert reminder.next_due_at == utc(2026, 11, 22, 1, 0)  # 20:00 in New York
    assert await repo.prompt_due_at(G) == utc(2026, 11, 21, 14, 0)  # 09:00 in New York


async def test_a_stale_zone_never_sends_at_the_wrong_local_time(services: Services, clock: FakeClock,
                                                                notifier: RecordingNotifier) -> None:
    await reminder_at(services, at="20:00", tz="Asia/Kolkata")
    member = await services.members.get(G, U)
    assert member is not None
    # The zone changes behind the service's back (no notification): the row is stale.
    await services.members.update(G, U, timezone="America/Los_Angeles")
    await walk(services, clock, utc(2026, 11, 21, 15, 0))  # the stale instant, 07:00 in LA
    assert notifier.dms_to(U) == []
    reminder = await services.checkins_repo.get_reminder(member.member_id)
    assert reminder is not None
    assert reminder.next_due_at == occurrence_on(date(2026, 11, 21), time(20), zone("America/Los_Angeles"))


async def test_reminder_off_and_status(services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    assert await services.checkins.reminder_status(G, U) is None
    await reminder_at(services, at="7:05", tz="UTC")
    status = await services.checkins.reminder_status(G, U)
    assert status is not None and status.remind_time == time(7, 5) and status.sends_at == time(7, 5)
    assert await services.checkins.reminder_off(G, U)
    assert not await services.checkins.reminder_off(G, U)
    await walk(services, clock, utc(2026, 11, 22, 8, 0), step=timedelta(hours=1))
    assert notifier.dms_to(U) == []


async def test_resetting_the_time_the_same_day_does_not_send_twice(services: Services, clock: FakeClock,
                                                                    notifier: RecordingNotifier) -> None:
    await reminder_at(services, at="12:00", tz="UTC")
    await walk(services, clock, utc(2026, 11, 21, 12, 30))
    await services.checkins.set_reminder(G, U, "18:00")
    await walk(services, clock, utc(2026, 11, 21, 19, 0))
    assert len(notifier.dms_to(U)) == 1


@pytest.mark.parametrize("bad", ["25:00", "8pm", "", "12:60"])
async def test_reminder_time_must_be_hhmm(services: Services, bad: str) -> None:
    from bot.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="24-hour"):
        await services.checkins.set_reminder(G, U, bad)
    assert await services.db.fetch_value("SELECT count(*) FROM checkin_reminders") == 0


async def test_reminder_on_a_fall_back_night_is_sent_once(services: Services, clock: FakeClock,
                                                          notifier: RecordingNotifier) -> None:
    clock.set(utc(2026, 10, 31, 12, 0))
    await reminder_at(services, at="01:30", tz="America/New_York")
    await walk(services, clock, utc(2026, 11, 1, 9, 0), step=timedelta(minutes=10))
    dms = notifier.dms_to(U)
    assert len(dms) == 1


async def test_a_reminder_minutes_after_the_newest_member_deleted_their_data_is_sent(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    # The newcomer's member row takes the deleted member's id; Discord remembers a nonce (made
    # from the key) for about five minutes and would answer with the earlier reminder.
    await reminder_at(services, at="12:00", tz="UTC")
    await walk(services, clock, utc(2026, 11, 21, 12, 0), step=timedelta(minutes=1))
    assert len(notifier.dms_to(U)) == 1
    assert await services.privacy.forget(G, U)
    await reminder_at(services, at="12:02", tz="UTC", user=U2)
    await walk(services, clock, utc(2026, 11, 21, 12, 3), step=timedelta(minutes=1))
    assert len(notifier.dms_to(U2)) == 1
