"""Meetings: adding (and refusing), publishing the next occurrence, reminders exactly once, removal."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config
from bot.db.database import SQLITE, Database
from bot.domain.clock import FakeClock
from bot.domain.meetings import ChannelKind, EventOutcome, EventStatus
from bot.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
)
from bot.services.container import Services, build_services
from tests.support import RecordingEvents, RecordingNotifier, count_write_transactions

G, ALICE, BOB = 700, 7101, 7102
ROOM = 4400
NEW_YORK = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK).astimezone(UTC)


async def tables(services: Services) -> dict[str, int]:
    counts = {}
    for table in ("meetings", "meeting_reminders", "outbox"):
        counts[table] = await services.db.fetch_value(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
    return counts


async def add_tuesday(services: Services, **options: object) -> None:
    values: dict[str, object] = {"name": "Tuesday group", "weekday": "tuesday", "time_text": "19:00",
                                 "timezone": "America/New_York", "duration": 90, "channel_id": ROOM,
                                 "channel_type": "voice"}
    values.update(options)
    await services.meetings.add(G, **values)  # type: ignore[arg-type]


# -- adding ---------------------------------------------------------------------------------------

async def test_add_publishes_the_next_occurrence_and_stores_the_meeting(services: Services, clock: FakeClock,
                                                                      events: RecordingEvents) -> None:
    clock.set(ny(2027, 3, 2, 20, 0))  # Tuesday evening, after this week's meeting began
    outcome = await services.meetings.add(G, name="  Tuesday   group ", weekday="tuesday", time_text="19:00",
                                          timezone="America/New_York", duration=90, channel_id=ROOM,
                                          channel_type="voice", description="All welcome")
    [event] = events.open_events(G)
    assert event.spec.name == "Tuesday group" and event.spec.start == ny(2027, 3, 9, 19, 0)
    assert event.spec.end == ny(2027, 3, 9, 20, 30) and event.spec.channel_kind is ChannelKind.VOICE
    assert event.spec.description == "All welcome" and event.spec.location is None
    assert outcome.url == f"https://discord.com/events/{G}/{event.event_id}"
    assert outcome.meeting.event_id == event.event_id and outcome.meeting.occurrence_at == event.spec.start


@pytest.mark.parametrize(("description", "location"), [
    (None, "Online"), ("Zoom: https://example.org/j/1", "Zoom: https://example.org/j/1"),
    ("x" * 300, "See the event's description"),
])
async def test_without_a_channel_the_event_is_external_with_a_location(services: Services, events: RecordingEvents,
                                                                       description: str | None, location: str) -> None:
    await add_tuesday(services, channel_id=None, channel_type=None, description=description)
    [event] = events.open_events(G)
    assert event.spec.channel_id is None and event.spec.channel_kind is None and event.spec.location == location


@pytest.mark.parametrize(("options", "error", "words"), [
    ({"time_text": "02:30", "weekday": "sunday"}, InvalidInputError, "doesn't exist in America/New_York on Sunday 14 March 2027"),
    ({"timezone": "Mars/Olympus"}, InvalidInputError, "time zone"),
    ({"timezone": "+02:00"}, InvalidInputError, "time zone"),
    ({"time_text": "25:00"}, InvalidInputError, "24-hour"),
    ({"weekday": "someday"}, InvalidInputError, "weekday"),
    ({"duration": 10}, InvalidInputError, "15 to 240"),
    ({"channel_type": "text"}, InvalidInputError, "voice"),
    ({"name": "   "}, InvalidInputError, "1 to 60"),
    ({"description": "d" * 1001}, InvalidInputError, "1000"),
])
async def test_bad_input_is_refused_kindly_and_nothing_is_done(services: Services, clock: FakeClock,
                                                               events: RecordingEvents, options: dict[str, object],
                                                               error: type[Exception], words: str) -> None:
    clock.set(ny(2027, 1, 5, 12, 0))
    with pytest.raises(error) as refused:
        await add_tuesday(services, **options)
    assert words in str(refused.value)
    assert events.calls == [] and (await tables(services))["meetings"] == 0


async def test_missing_permissions_are_named_and_nothing_is_done(services: Services, events: RecordingEvents) -> None:
    events.missing = ["Manage Events", "Connect"]
    with pytest.raises(PermissionDeniedError) as refused:
        await add_tuesday(services)
    text = str(refused.value)
    assert "**Manage Events** (called **Create Events** on newer permission settings) and **Connect**" in text
    assert "Nothing was saved" in text and events.calls == [] and (await tables(services))["meetings"] == 0
    events.missing = ["Connect"]
    with pytest.raises(PermissionDeniedError) as channel_only:
        await add_tuesday(services)
    assert f"**Connect** in <#{ROOM}>" in str(channel_only.value)


@pytest.mark.parametrize(("outcome", "error"), [
    (EventOutcome.FORBIDDEN, PermissionDeniedError), (EventOutcome.TRANSIENT, ServiceUnavailableError),
    (EventOutcome.INVALID, InvalidInputError), (EventOutcome.NOT_FOUND, InvalidInputError),
])
async def test_discord_refusing_the_event_stores_nothing(services: Services, events: RecordingEvents,
                                                         outcome: EventOutcome, error: type[Exception]) -> None:
    events.refuse_next = [outcome]
    with pytest.raises(error):
        await add_tuesday(services)
    assert (await tables(services))["meetings"] == 0 and events.open_events() == []


async def test_a_second_meeting_of_the_same_name_is_refused_before_anything_is_published(
        services: Services, events: RecordingEvents) -> None:
    await add_tuesday(services)
    with pytest.raises(ConflictError, match="already a meeting"):
        await add_tuesday(services, name="TUESDAY group")
    assert len(events.open_events()) == 1 and events.calls == ["create"]


async def test_a_failure_to_store_deletes_the_event_again(services: Services, events: RecordingEvents,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk trouble")
    monkeypatch.setattr(services.meetings.repo, "create", broken)
    with pytest.raises(RuntimeError):
        await add_tuesday(services)
    assert events.open_events() == [] and events.calls == ["create", "delete"]


# -- the events sweep -----------------------------------------------------------------------------

async def test_after_an_occurrence_ends_the_next_is_published_at_the_same_local_time_across_dst(
        services: Services, clock: FakeClock, events: RecordingEvents) -> None:
    clock.set(ny(2027, 3, 8, 12, 0))
    await add_tuesday(services)  # Tuesday 9 March 19:00 EST = 00:00 UTC; clocks spring forward on the 14th
    [first] = events.open_events(G)
    assert first.spec.start == datetime(2027, 3, 10, 0, 0, tzinfo=UTC)
    clock.set(ny(2027, 3, 9, 20, 29))
    await services.scheduler.run_all_once()
    assert [e.event_id for e in events.open_events(G)] == [first.event_id], "nothing happens before the end"
    clock.set(ny(2027, 3, 9, 20, 30))
    await services.scheduler.run_all_once()
    [second] = events.open_events(G)
    assert first.deleted, "an occurrence nobody started is tidied away"
    assert second.spec.start == ny(2027, 3, 16, 19, 0) == datetime(2027, 3, 16, 23, 0, tzinfo=UTC)  # EDT now
    clock.set(ny(2027, 3, 16, 20, 30))
    await services.scheduler.run_all_once()
    [third] = events.open_events(G)
    assert third.spec.start.astimezone(NEW_YORK).hour == 19 and third.spec.start == ny(2027, 3, 23, 19, 0)


async def test_an_event_someone_started_is_left_to_discord_at_its_end(services: Services, clock: FakeClock,
                                                                      events: RecordingEvents) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    [first] = events.open_events(G)
    first.status = EventStatus.ACTIVE
    clock.set(ny(2027, 3, 2, 20, 31))
    await services.scheduler.run_all_once()
    assert not first.deleted and len(events.open_events(G)) == 2


async def test_after_downtime_the_next_occurrence_still_to_come_is_published(services: Services, clock: FakeClock,
                                                                             events: RecordingEvents) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    clock.set(ny(2027, 3, 16, 19, 30))  # two weeks down, back during an occurrence
    await services.scheduler.run_all_once()
    assert [e.spec.start for e in events.open_events(G)] == [ny(2027, 3, 23, 19, 0)]


async def test_a_deleted_event_is_recreated_once_per_occurrence(services: Services, clock: FakeClock,
                                                               events: RecordingEvents) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    [first] = events.open_events(G)
    first.deleted = True  # a moderator deleted it in Discord
    clock.advance(timedelta(hours=1))
    await services.scheduler.run_all_once()
    [again] = events.open_events(G)
    assert again.spec.start == first.spec.start and again.event_id != first.event_id
    again.deleted = True
    clock.advance(timedelta(hours=1))
    await services.scheduler.run_all_once()
    clock.advance(timedelta(hours=1))
    await services.scheduler.run_all_once()
    assert events.open_events(G) == [], "deleted twice: someone meant it"
    meeting = await services.meetings.repo.by_name(G, "tuesday group")
    assert meeting is not None and meeting.event_id is None
    clock.set(ny(2027, 3, 2, 20, 30))
    await services.scheduler.run_all_once()
    assert [e.spec.start for e in events.open_events(G)] == [ny(2027, 3, 9, 19, 0)], "the next week is published"


async def test_an_event_created_just_before_a_crash_is_adopted_not_duplicated(
        config: Config, db: Database, clock: FakeClock, events: RecordingEvents, services: Services) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    clock.set(ny(2027, 3, 2, 20, 30))
    real_store = services.meetings._store

    async def crash(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed between Discord's answer and the database")
    services.meetings._store = crash  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        await services.meetings.events_sweep(clock.now())
    services.meetings._store = real_store  # type: ignore[method-assign]
    assert len(events.open_events(G)) == 1
    restarted = build_services(config, db, clock, RecordingNotifier(), events=events)
    await restarted.scheduler.run_all_once()
    [only] = events.open_events(G)
    meeting = await restarted.meetings.repo.by_name(G, "tuesday group")
    assert meeting is not None and meeting.event_id == only.event_id


async def test_a_busy_discord_is_asked_again_soon(services: Services, clock: FakeClock, events: RecordingEvents) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    clock.set(ny(2027, 3, 2, 20, 30))
    # Discord cannot say whether an event for the next occurrence exists: none is created blindly.
    events.refuse_calls["find"] = [EventOutcome.TRANSIENT]
    await services.scheduler.run_all_once()
    assert events.open_events(G) == []
    clock.advance(timedelta(minutes=4))
    await services.scheduler.run_all_once()
    assert events.open_events(G) == [], "asked again after five minutes, not every minute"
    clock.advance(timedelta(minutes=1))
    await services.scheduler.run_all_once()
    assert [e.spec.start for e in events.open_events(G)] == [ny(2027, 3, 9, 19, 0)]


# -- removing ------------------------------------------------------------------------------------

async def test_remove_deletes_the_event_the_meeting_and_its_reminders(services: Services, clock: FakeClock,
                                                                      events: RecordingEvents) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    await services.meetings.remind(G, ALICE, "Tuesday group", 30)
    clock.set(ny(2027, 3, 2, 18, 30))
    await services.meetings.reminder_sweep(clock.now())  # queued, not sent yet
    assert await services.db.fetch_value("SELECT count(*) FROM outbox WHERE status = 'pending'") == 1
    assert await services.meetings.remove(G, "tuesday GROUP") == "Tuesday group"
    assert events.open_events() == []
    counts = await tables(services)
    assert counts["meetings"] == 0 and counts["meeting_reminders"] == 0
    assert await services.db.fetch_value("SELECT count(*) FROM outbox WHERE status = 'pending'") == 0


async def test_remove_after_the_event_was_deleted_on_discords_side(services: Services, events: RecordingEvents) -> None:
    await add_tuesday(services)
    events.open_events()[0].deleted = True
    await services.meetings.remove(G, "Tuesday group")
    assert (await tables(services))["meetings"] == 0


@pytest.mark.parametrize(("outcome", "error"), [(EventOutcome.FORBIDDEN, PermissionDeniedError),
                                                (EventOutcome.TRANSIENT, ServiceUnavailableError)])
async def test_remove_refused_by_discord_changes_nothing(services: Services, events: RecordingEvents,
                                                         outcome: EventOutcome, error: type[Exception]) -> None:
    await add_tuesday(services)
    events.refuse_next = [outcome]
    with pytest.raises(error):
        await services.meetings.remove(G, "Tuesday group")
    assert (await tables(services))["meetings"] == 1 and len(events.open_events()) == 1


async def test_removing_an_unknown_meeting_is_a_kind_not_found(services: Services) -> None:
    with pytest.raises(NotFoundError, match="no meeting called"):
        await services.meetings.remove(G, "Nothing")


# -- listing -------------------------------------------------------------------------------------

async def test_list_shows_each_member_the_time_in_their_own_zone_and_a_link(services: Services, clock: FakeClock,
                                                                            events: RecordingEvents) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    await services.settings.set_timezone(G, ALICE, "Europe/London")
    await services.settings.set_timezone(G, BOB, "Asia/Kolkata")
    [alice_view] = await services.meetings.upcoming(G, ALICE)
    [bob_view] = await services.meetings.upcoming(G, BOB)
    assert (alice_view.local_start.hour, alice_view.local_start.minute) == (0, 0)  # Wednesday 00:00 in London
    assert alice_view.local_start.weekday() == 2
    assert (bob_view.local_start.hour, bob_view.local_start.minute) == (5, 30)
    [event] = events.open_events(G)
    assert alice_view.url == f"https://discord.com/events/{G}/{event.event_id}" and alice_view.remind_minutes is None


# -- reminders -------------------------------------------------------------------------------------

async def test_a_reminder_goes_out_minutes_before_once_even_in_quiet_hours(services: Services, clock: FakeClock,
                                                                          notifier: RecordingNotifier) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services, time_text="23:30")
    await services.settings.set_quiet_hours(G, ALICE, "22:00", "07:00")
    await services.settings.set_timezone(G, ALICE, "America/New_York")
    outcome = await services.meetings.remind(G, ALICE, "Tuesday group", 45)
    assert outcome.next_reminder == ny(2027, 3, 2, 22, 45)
    clock.set(ny(2027, 3, 2, 22, 44))
    await services.scheduler.run_all_once()
    assert notifier.dms_to(ALICE) == []
    clock.set(ny(2027, 3, 2, 22, 45))
    await services.scheduler.run_all_once()
    [dm] = notifier.dms_to(ALICE)
    assert "Tuesday group" in dm.message.content and "23:30 your time (America/New_York)" in dm.message.content
    assert f"<#{ROOM}>" in dm.message.content and "remind-off" in dm.message.content
    for minutes in (1, 30, 60):
        clock.set(ny(2027, 3, 2, 22, 45) + timedelta(minutes=minutes))
        await services.scheduler.run_all_once()
    assert len(notifier.dms_to(ALICE)) == 1


async def test_reminders_follow_the_local_time_across_dst_and_are_not_sent_twice_after_a_restart(
        config: Config, db: Database, services: Services, clock: FakeClock, notifier: RecordingNotifier,
        events: RecordingEvents) -> None:
    clock.set(ny(2027, 3, 8, 12, 0))
    await add_tuesday(services)
    await services.meetings.remind(G, ALICE, "Tuesday group", 30)
    sent_at = []
    for day in (9, 16):  # the DST change is on 14 March
        for services_now in (services, build_services(config, db, clock, notifier, events=events)):
            clock.set(ny(2027, 3, day, 18, 30))
            await services_now.scheduler.run_all_once()
        sent_at.append(clock.now())
    assert len(notifier.dms_to(ALICE)) == 2
    assert [s.astimezone(NEW_YORK).hour for s in sent_at] == [18, 18]


async def test_after_downtime_a_reminder_is_late_only_while_the_meeting_lasts(services: Services, clock: FakeClock,
                                                                             notifier: RecordingNotifier) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    await services.meetings.remind(G, ALICE, "Tuesday group", 30)
    clock.set(ny(2027, 3, 2, 19, 40))  # down from before 18:30 to 19:40: the meeting runs until 20:30
    await services.scheduler.run_all_once()
    [late] = notifier.dms_to(ALICE)
    assert "started" in late.message.content and "still join" in late.message.content
    clock.set(ny(2027, 3, 16, 21, 0))  # down over two whole meetings (the 9th and the 16th)
    await services.scheduler.run_all_once()
    assert len(notifier.dms_to(ALICE)) == 1, "a reminder for a meeting that has ended helps nobody"
    clock.set(ny(2027, 3, 23, 18, 30))
    await services.scheduler.run_all_once()
    assert len(notifier.dms_to(ALICE)) == 2


async def test_a_reminder_turned_on_after_its_time_starts_with_the_next_occurrence(services: Services,
                                                                                  clock: FakeClock) -> None:
    clock.set(ny(2027, 3, 2, 18, 50))
    await add_tuesday(services)
    outcome = await services.meetings.remind(G, ALICE, "Tuesday group", 30)
    assert outcome.next_start == ny(2027, 3, 9, 19, 0)


async def test_changing_minutes_after_a_reminder_went_out_does_not_send_a_second(services: Services, clock: FakeClock,
                                                                                notifier: RecordingNotifier) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    await services.meetings.remind(G, ALICE, "Tuesday group", 60)
    clock.set(ny(2027, 3, 2, 18, 0))
    await services.scheduler.run_all_once()
    clock.set(ny(2027, 3, 2, 18, 40))
    await services.meetings.remind(G, ALICE, "Tuesday group", 15)
    clock.set(ny(2027, 3, 2, 18, 45))
    await services.scheduler.run_all_once()
    assert len(notifier.dms_to(ALICE)) == 1


async def test_remind_off_withdraws_and_stops(services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    await services.meetings.remind(G, ALICE, "Tuesday group", 30)
    assert await services.meetings.remind_off(G, ALICE, "tuesday group") == "Tuesday group"
    with pytest.raises(NotFoundError):
        await services.meetings.remind_off(G, ALICE, "Tuesday group")
    clock.set(ny(2027, 3, 2, 18, 30))
    await services.scheduler.run_all_once()
    assert notifier.dms_to(ALICE) == []


@pytest.mark.parametrize("minutes", [4, 121])
async def test_minutes_before_out_of_range_is_refused(services: Services, minutes: int) -> None:
    await add_tuesday(services)
    with pytest.raises(InvalidInputError, match="5 to 120"):
        await services.meetings.remind(G, ALICE, "Tuesday group", minutes)


async def test_reminder_counts_for_the_pulse_name_nobody(services: Services, clock: FakeClock,
                                                         notifier: RecordingNotifier) -> None:
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    for user in (ALICE, BOB):
        await services.meetings.remind(G, user, "Tuesday group", 30)
    assert await services.meetings.repo.reminders_on(G) == 2
    notifier.dm_closed.add(BOB)
    clock.set(ny(2027, 3, 2, 18, 30))
    await services.scheduler.run_all_once()
    week = (ny(2027, 3, 1, 0, 0), ny(2027, 3, 8, 0, 0))
    assert await services.meetings.repo.reminders_delivered_between(G, *week) == 1
    row = await services.db.fetch_one("SELECT * FROM meeting_reminder_counts")
    assert row is not None and not any(k.endswith(("user_id", "member_id")) for k in row.keys())  # noqa: SIM118


async def test_nothing_about_a_meeting_reaches_the_logs_but_ids(services: Services, clock: FakeClock,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services, name="Secret circle", description="for the night shift")
    await services.meetings.remind(G, ALICE, "Secret circle", 30)
    clock.set(ny(2027, 3, 2, 18, 30))
    await services.scheduler.run_all_once()
    assert "Secret circle" not in caplog.text and "night shift" not in caplog.text


async def test_a_minute_before_any_reminder_is_due_takes_no_write_lock(services: Services, clock: FakeClock,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # The reminder sweep runs every minute; the single writer is shared with every command.
    clock.set(ny(2027, 3, 1, 12, 0))
    await add_tuesday(services)
    await services.meetings.remind(G, ALICE, "Tuesday group", 30)
    clock.set(ny(2027, 3, 2, 18, 29))
    opened = count_write_transactions(services.db, monkeypatch)
    assert await services.meetings.reminder_sweep(clock.now()) == 0
    assert opened == [0]
    clock.set(ny(2027, 3, 2, 18, 30))
    assert await services.meetings.reminder_sweep(clock.now()) == 1


# -- review 17: a meeting given a removed meeting's id --------------------------------------------

async def run_minutes(services: Services, clock: FakeClock, start: datetime, end: datetime) -> None:
    """Run every sweep once a minute from `start` to `end`, as the scheduler would."""
    t = start
    while t <= end:
        clock.set(t)
        await services.scheduler.run_all_once()
        t += timedelta(minutes=1)


def reminders(notifier: RecordingNotifier, user: int) -> list[str]:
    return [s.message.content for s in notifier.dms_to(user)
            if s.result.status.value == "sent" and "⏰" in s.message.content]


async def test_a_meeting_that_reuses_a_removed_meetings_id_gets_its_reminder(services: Services, clock: FakeClock,
                                                                             notifier: RecordingNotifier) -> None:
    clock.set(ny(2027, 3, 2, 12, 0))
    await add_tuesday(services, name="AA Tuesday")
    await services.meetings.remind(G, ALICE, "AA Tuesday", 30)
    await run_minutes(services, clock, ny(2027, 3, 2, 18, 30), ny(2027, 3, 2, 18, 31))
    assert len(reminders(notifier, ALICE)) == 1
    first_id = await services.db.fetch_value("SELECT meeting_id FROM meetings")
    await services.meetings.remove(G, "AA Tuesday")
    await add_tuesday(services, name="NA Tuesday")  # same slot, another group
    if services.db.dialect == SQLITE:  # PostgreSQL's identities never give an id again
        assert await services.db.fetch_value("SELECT meeting_id FROM meetings") == first_id, "precondition: id reused"
    await services.meetings.remind(G, ALICE, "NA Tuesday", 20)
    await run_minutes(services, clock, ny(2027, 3, 2, 18, 39), ny(2027, 3, 2, 18, 41))
    got = reminders(notifier, ALICE)
    assert len(got) == 2 and "NA Tuesday" in got[1], got


async def test_re_adding_a_meeting_after_an_undelivered_reminder_reminds_once(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    """A moderator removes and re-adds a meeting after a member's reminder could not be delivered."""
    clock.set(ny(2027, 3, 2, 12, 0))
    await add_tuesday(services)
    await services.meetings.remind(G, ALICE, "Tuesday group", 30)
    notifier.dm_closed.add(ALICE)
    await run_minutes(services, clock, ny(2027, 3, 2, 18, 30), ny(2027, 3, 2, 18, 30))
    notifier.dm_closed.discard(ALICE)
    await services.meetings.remove(G, "Tuesday group")
    await add_tuesday(services, description="now with a description")
    clock.set(ny(2027, 3, 2, 18, 35))
    await services.meetings.remind(G, ALICE, "Tuesday group", 10)
    await run_minutes(services, clock, ny(2027, 3, 2, 18, 49), ny(2027, 3, 2, 18, 52))
    assert len(reminders(notifier, ALICE)) == 1
    assert await services.db.fetch_value(
        "SELECT count(*) FROM meeting_reminder_counts WHERE meeting_id IS NOT NULL AND delivered = 1") == 1


@pytest.mark.parametrize("name", ["[Free chips](https://evil.example)", "@everyone group", "<@&123> meeting",
                                  "join discord.gg/abc"])
async def test_a_meeting_name_with_a_link_or_mention_is_refused_kindly(services: Services, clock: FakeClock,
                                                                       events: RecordingEvents, name: str) -> None:
    clock.set(ny(2027, 3, 2, 12, 0))
    with pytest.raises(InvalidInputError, match="plain words"):
        await add_tuesday(services, name=name)
    assert (await tables(services))["meetings"] == 0 and events.events == {}


async def test_a_reminder_shows_a_stored_name_and_location_as_typed(services: Services, clock: FakeClock,
                                                                    notifier: RecordingNotifier) -> None:
    clock.set(ny(2027, 3, 2, 12, 0))
    await add_tuesday(services, channel_id=None, channel_type=None, description="**Room** [2](https://x.example)")
    await services.db.execute("UPDATE meetings SET name = '**Tuesday** group'")  # stored before names were checked
    await services.meetings.remind(G, ALICE, "Tuesday group", 30)  # found by its stored key
    await run_minutes(services, clock, ny(2027, 3, 2, 18, 30), ny(2027, 3, 2, 18, 30))
    [text] = reminders(notifier, ALICE)
    assert "⏰ **\\*\\*Tuesday\\*\\* group**" in text and "\\*\\*Room\\*\\* \\[2\\]" in text
