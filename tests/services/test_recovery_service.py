"""RecoveryService on a real database: counters, slips, visibility, ladders and celebrations."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.config import Config
from bot.db.database import Database, bundled_migrations
from bot.db.recovery import Claim, ScheduleInput, milestone_key
from bot.domain.clock import FakeClock
from bot.domain.localtime import from_utc_text, to_utc_text
from bot.domain.messages import OutgoingMessage
from bot.domain.recovery import Celebrate, Visibility
from bot.errors import ConflictError, InvalidInputError, NotFoundError
from bot.services.container import Services, build_services
from bot.services.outbox import CLAIM_TTL, nonce_for
from bot.services.recovery import MAX_COUNTERS
from tests.support import RecordingNotifier

G, A, B, C = 1001, 2002, 3003, 4004
CHANNEL = 555_000_000_000_000_001
D = date.fromisoformat

# The clock starts Saturday 2026-11-21 10:00 UTC; the server zone defaults to UTC and
# celebrations to 10:00 local.


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Buddies:
    """A buddy directory with fixed pairs."""

    def __init__(self, *pairs: tuple[int, int]) -> None:
        self.pairs = {frozenset(p) for p in pairs}

    async def are_buddies(self, guild_id: int, user_a: int, user_b: int) -> bool:
        return guild_id == G and frozenset((user_a, user_b)) in self.pairs


async def counters_in_db(db: Database) -> int:
    return int(await db.fetch_value("SELECT count(*) FROM recovery_counters"))


# -- start and validation --------------------------------------------------------------

async def test_start_with_defaults_and_show(services: Services) -> None:
    result = await services.recovery.start(G, A, "2026-10-21")
    assert result.created
    view = result.counter
    assert (view.name, view.visibility, view.celebrate) == ("recovery", Visibility.PRIVATE, Celebrate.DM)
    assert view.current_days == 31 and str(view.duration) == "1 month"
    assert view.next is not None and (view.next.days, view.days_to_next) == (60, 29)
    shown = await services.recovery.show(G, A)
    assert shown.own and [c.name for c in shown.counters] == ["recovery"]


async def test_today_milestone_is_reported(services: Services) -> None:
    view = (await services.recovery.start(G, A, "2026-11-14")).counter
    assert view.today_milestone is not None and view.today_milestone.days == 7


@pytest.mark.parametrize(("text", "needle"), [
    ("2026-11-22", "still ahead"),
    ("1899-12-31", "1900"),
    ("2023-02-29", "isn't a date on the calendar"),
    ("2026-13-01", "isn't a date on the calendar"),
    ("21/11/2026", "year-month-day"),
    ("yesterday", "year-month-day"),
    ("２０２６-01-01", "year-month-day"),  # full-width digits are not a date
])
async def test_bad_dates_are_refused_kindly_and_change_nothing(services: Services, db: Database, text: str,
                                                                needle: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        await services.recovery.start(G, A, text)
    assert needle in info.value.message
    assert await counters_in_db(db) == 0


async def test_future_means_future_in_the_members_zone(services: Services, clock: FakeClock) -> None:
    clock.set(at("2026-11-21T20:00:00"))  # already the 22nd in Kiritimati (UTC+14), not in LA
    await services.settings.set_timezone(G, A, "Pacific/Kiritimati")
    assert (await services.recovery.start(G, A, "2026-11-22")).counter.current_days == 0
    await services.settings.set_timezone(G, B, "America/Los_Angeles")
    with pytest.raises(InvalidInputError, match="America/Los_Angeles"):
        await services.recovery.start(G, B, "2026-11-22")


@pytest.mark.parametrize("bad", ["", "   ", "a" * 41, "<@123>", "**bold**", "x`y", "@everyone", "line\nbreak", "!!!"])
async def test_bad_names_are_refused(services: Services, db: Database, bad: str) -> None:
    with pytest.raises(InvalidInputError):
        await services.recovery.start(G, A, "2026-11-01", name=bad)
    assert await counters_in_db(db) == 0


async def test_names_are_tidied_and_unique_per_member_whatever_the_capitals(services: Services, db: Database) -> None:
    first = await services.recovery.start(G, A, "2026-11-01", name="  Alcohol   free ")
    assert first.counter.name == "Alcohol free"
    again = await services.recovery.start(G, A, "2026-11-01", name="alcohol FREE")
    assert not again.created and again.counter.name == "Alcohol free"
    await services.recovery.start(G, B, "2026-11-01", name="Alcohol free")  # someone else's: fine
    assert (await services.recovery.slip(G, A, name=" ALCOHOL  free")).recorded  # found however it's typed
    assert await counters_in_db(db) == 2


async def test_several_counters_up_to_a_limit(services: Services) -> None:
    for i in range(MAX_COUNTERS):
        await services.recovery.start(G, A, "2026-11-01", name=f"habit {i}")
    with pytest.raises(ConflictError):
        await services.recovery.start(G, A, "2026-11-01", name="one more")
    assert len(await services.recovery.names(G, A)) == MAX_COUNTERS


async def test_back_dating_a_start_corrects_it_without_inventing_a_slip(services: Services) -> None:
    await services.recovery.start(G, A, "2026-11-20")
    result = await services.recovery.start(G, A, "2025-11-21")
    assert not result.created and result.previous_start == D("2026-11-20")
    view = result.counter
    assert view.slips == () and len(view.periods) == 1
    assert view.current_days == 365 and str(view.duration) == "1 year"
    assert view.total_days == view.longest_days == 365


# -- slips -----------------------------------------------------------------------------

async def test_slip_keeps_longest_total_and_history(services: Services, clock: FakeClock) -> None:
    await services.recovery.start(G, A, "2026-01-01")
    slip = await services.recovery.slip(G, A, date_text="2026-06-01")
    assert slip.recorded and slip.previous_days == 151
    view = slip.counter
    assert view.start == D("2026-06-01") and view.current_days == (D("2026-11-21") - D("2026-06-01")).days
    assert view.longest_days == 173 and view.total_days == 151 + 173
    assert view.slips == (D("2026-06-01"),)
    clock.advance(timedelta(days=10))
    slip2 = await services.recovery.slip(G, A)  # today by default
    assert slip2.counter.current_days == 0 and slip2.counter.longest_days == 183
    assert slip2.counter.total_days == 151 + 183
    history = await services.recovery.history(G, A)
    assert [(p.start, p.end) for p in history[0].periods] == [
        (D("2026-01-01"), D("2026-06-01")), (D("2026-06-01"), D("2026-12-01")), (D("2026-12-01"), None)]


async def test_a_second_slip_on_the_same_day_changes_nothing(services: Services) -> None:
    await services.recovery.start(G, A, "2026-11-01")
    assert (await services.recovery.slip(G, A)).recorded
    again = await services.recovery.slip(G, A)
    assert not again.recorded and again.counter.slips == (D("2026-11-21"),)


async def test_slip_before_the_current_start_is_refused(services: Services) -> None:
    await services.recovery.start(G, A, "2026-11-10")
    with pytest.raises(InvalidInputError, match="2026-11-10"):
        await services.recovery.slip(G, A, date_text="2026-11-09")
    assert (await services.recovery.show(G, A)).counters[0].slips == ()


async def test_start_cannot_move_before_the_last_slip(services: Services) -> None:
    await services.recovery.start(G, A, "2026-01-01")
    await services.recovery.slip(G, A, date_text="2026-06-01")
    with pytest.raises(InvalidInputError, match="2026-06-01"):
        await services.recovery.start(G, A, "2026-05-01")
    moved = await services.recovery.start(G, A, "2026-06-11")  # a fresh start after a gap
    assert moved.counter.total_days == 151 + (D("2026-11-21") - D("2026-06-11")).days


async def test_which_counter_when_there_are_several(services: Services) -> None:
    await services.recovery.start(G, A, "2026-11-01", name="alcohol")
    await services.recovery.start(G, A, "2026-11-01", name="gambling")
    with pytest.raises(InvalidInputError, match="alcohol"):
        await services.recovery.slip(G, A)
    assert (await services.recovery.slip(G, A, name="Gambling")).recorded
    with pytest.raises(NotFoundError, match="gambling"):
        await services.recovery.slip(G, A, name="smoking")


async def test_commands_without_a_counter_say_how_to_start(services: Services) -> None:
    for call in (services.recovery.slip(G, A), services.recovery.show(G, A), services.recovery.history(G, A),
                 services.recovery.remove(G, A, "recovery")):
        with pytest.raises(NotFoundError, match="/recovery start"):
            await call


# -- visibility ------------------------------------------------------------------------

async def _three_counters(services: Services) -> None:
    await services.recovery.start(G, A, "2026-11-01", name="secret", visibility="private")
    await services.recovery.start(G, A, "2026-11-02", name="close", visibility="buddies")
    await services.recovery.start(G, A, "2026-11-03", name="open", visibility="server")


@pytest.mark.parametrize(("viewer", "buddies", "expected"), [
    (A, (), ["secret", "close", "open"]),
    (B, (), ["open"]),
    (B, ((A, B),), ["close", "open"]),
    (C, ((A, B),), ["open"]),
])
async def test_visibility_matrix(services: Services, viewer: int, buddies: tuple[tuple[int, int], ...],
                                 expected: list[str]) -> None:
    await _three_counters(services)
    services.recovery.buddies = Buddies(*buddies)
    shared = await services.recovery.shared_counters(G, A, viewer)
    assert [c.name for c in shared] == expected
    shown = await services.recovery.show(G, viewer, A)
    assert [c.name for c in shown.counters] == expected


async def test_a_private_counter_looks_exactly_like_no_counter(services: Services) -> None:
    await _three_counters(services)
    by_private_name = await services.recovery.show(G, B, A, "secret")
    by_made_up_name = await services.recovery.show(G, B, A, "nothing-here")
    nobody = await services.recovery.show(G, B, C)
    assert by_private_name == by_made_up_name == nobody
    assert by_private_name.counters == () and not by_private_name.own


async def test_looking_at_someone_creates_no_record_of_them(services: Services, db: Database) -> None:
    await services.recovery.show(G, B, C)
    assert await services.members.get(G, C) is None
    assert await services.recovery.names(G, C) == []
    assert await services.members.get(G, C) is None


async def test_default_directory_treats_nobody_as_a_buddy(services: Services) -> None:
    await _three_counters(services)
    assert [c.name for c in await services.recovery.shared_counters(G, A, B)] == ["open"]


async def test_buddies_visibility_through_the_wired_buddy_service(services: Services) -> None:
    await _three_counters(services)
    assert [c.name for c in await services.recovery.shared_counters(G, A, B)] == ["open"]
    await services.buddies.request(G, B, A)
    await services.buddies.accept(G, A, B)
    assert [c.name for c in await services.recovery.shared_counters(G, A, B)] == ["close", "open"]
    assert [c.name for c in await services.recovery.shared_counters(G, A, C)] == ["open"]


# -- the ladder ------------------------------------------------------------------------

async def test_ladder_add_remove_reset(services: Services) -> None:
    default = (await services.recovery.ladder(G)).days
    assert default == (1, 3, 7, 14, 30, 60, 90, 180, 270, 365)
    ladder = await services.recovery.add_milestone(G, 45, "Six weeks and a bit!")
    assert 45 in ladder.days and ladder.custom
    assert [r.description for r in ladder.rungs if r.days == 45] == ["Six weeks and a bit!"]
    ladder = await services.recovery.add_milestone(G, 45, "Changed")
    assert [r.description for r in ladder.rungs if r.days == 45] == ["Changed"]
    ladder = await services.recovery.remove_milestone(G, 1)
    assert 1 not in ladder.days and 3 in ladder.days
    with pytest.raises(NotFoundError):
        await services.recovery.remove_milestone(G, 2)
    with pytest.raises(InvalidInputError):
        await services.recovery.add_milestone(G, 0)
    ladder = await services.recovery.reset_milestones(G)
    assert ladder.days == default and not ladder.custom
    assert (await services.recovery.ladder(G + 1)).days == default  # other servers untouched


@pytest.mark.parametrize("description", ["[Prize](https://evil.example)", "@everyone one week!", "<@&1> party",
                                         "See https://evil.example", "Join discord.gg/abc", "**bold**"])
async def test_a_milestone_description_that_could_pass_for_something_else_is_refused(
        services: Services, description: str) -> None:
    # Descriptions go out in public celebrations under the bot's name.
    with pytest.raises(InvalidInputError):
        await services.recovery.add_milestone(G, 45, description)
    assert 45 not in (await services.recovery.ladder(G)).days


async def test_the_last_rung_stays(services: Services) -> None:
    for days in (1, 3, 7, 14, 30, 60, 90, 180, 270):
        await services.recovery.remove_milestone(G, days)
    with pytest.raises(ConflictError, match="reset"):
        await services.recovery.remove_milestone(G, 365)
    assert (await services.recovery.ladder(G)).days == (365,)


async def test_changing_the_ladder_reschedules_counters(services: Services, db: Database) -> None:
    async def schedule() -> tuple[int, str]:
        row = await db.fetch_one("SELECT next_milestone_days, next_celebration_at FROM recovery_counters")
        assert row is not None
        return row[0], row[1]

    await services.recovery.start(G, A, "2026-11-21")
    assert await schedule() == (1, "2026-11-22T10:00:00+00:00")
    await services.recovery.remove_milestone(G, 1)
    assert await schedule() == (3, "2026-11-24T10:00:00+00:00")
    await services.recovery.add_milestone(G, 2)
    assert await schedule() == (2, "2026-11-23T10:00:00+00:00")


async def test_a_server_wide_reschedule_leaves_a_counter_that_changed_meanwhile(services: Services,
                                                                                db: Database) -> None:
    # A ladder change reads every counter, works out the new schedules, then stores them: a
    # counter a command moved in between (a slip, its member's new zone) keeps the fresher one.
    await services.recovery.start(G, A, "2026-11-21")
    [read] = await services.recovery.repo.schedule_inputs(guild_id=G)
    await db.execute("UPDATE recovery_counters SET next_celebration_at = '2026-11-22T11:00:00+00:00'")
    stale = [(read.counter_id, read.schedule, None)]
    basis = (await services.recovery._context(G)).basis
    assert await services.recovery.repo.set_schedules(stale, services.clock.now(), basis=basis) == 0
    assert await db.fetch_value("SELECT next_celebration_at FROM recovery_counters") == "2026-11-22T11:00:00+00:00"


# -- celebrations ----------------------------------------------------------------------

async def test_dm_celebration_on_the_day_from_the_hour_exactly_once(services: Services, clock: FakeClock,
                                                                    notifier: RecordingNotifier) -> None:
    clock.set(at("2026-11-21T09:00:00"))
    await services.recovery.start(G, A, "2026-11-14", name="alcohol")  # 7 days today
    assert await services.scheduler.run_all_once() == 0  # before 10:00
    clock.set(at("2026-11-21T10:00:00"))
    assert await services.scheduler.run_all_once() == 1
    assert await services.scheduler.run_all_once() == 0
    dms = notifier.dms_to(A)
    assert len(dms) == 1 and "7 days" in dms[0].message.content and "alcohol" in dms[0].message.content
    assert notifier.delivered("channel") == []
    clock.set(at("2026-11-28T10:00:00"))  # 14 days
    await services.scheduler.run_all_once()
    assert [("14 days" in d.message.content) for d in notifier.dms_to(A)] == [False, True]


async def test_public_celebration_only_with_server_visibility_and_channel(services: Services, clock: FakeClock,
                                                                         notifier: RecordingNotifier) -> None:
    await services.guild_config.set_celebrations(G, channel_id=CHANNEL)
    clock.set(at("2026-11-21T08:00:00"))
    await services.recovery.start(G, A, "2026-11-14", name="shared", visibility="server")
    await services.recovery.update_settings(G, A, "shared", celebrate="channel")
    await services.recovery.start(G, B, "2026-11-14", name="mine", visibility="buddies")
    await services.recovery.update_settings(G, B, "mine", celebrate="channel")
    await services.recovery.start(G, C, "2026-11-14", name="quiet", visibility="server")
    await services.recovery.update_settings(G, C, "quiet", celebrate="off")
    clock.set(at("2026-11-21T10:00:30"))
    assert await services.scheduler.run_all_once() == 3
    posts = notifier.posts_in(CHANNEL)
    assert len(posts) == 1
    post = posts[0].message
    assert post.react == "🎉" and f"<@{A}>" in post.content and "7 days" in post.content
    assert "mine" not in post.content and str(B) not in post.content
    assert len(notifier.dms_to(B)) == 1  # channel asked, but not shared with the server: a DM
    assert notifier.dms_to(C) == [] and notifier.dms_to(A) == []


async def test_off_is_recorded_so_turning_celebrations_on_later_does_not_flood(
        services: Services, clock: FakeClock, notifier: RecordingNotifier, db: Database) -> None:
    await services.recovery.start(G, A, "2026-11-14")
    await services.recovery.update_settings(G, A, "recovery", celebrate="off")
    await services.scheduler.run_all_once()
    assert notifier.sent == []
    assert await db.fetch_value("SELECT delivery FROM recovery_celebrations") == "none"
    await services.recovery.update_settings(G, A, "recovery", celebrate="dm")
    clock.advance(timedelta(days=1))
    await services.scheduler.run_all_once()
    assert notifier.sent == []
    clock.set(at("2026-11-28T10:00:00"))
    await services.scheduler.run_all_once()
    assert len(notifier.dms_to(A)) == 1 and "14 days" in notifier.dms_to(A)[0].message.content


async def test_back_dated_start_does_not_celebrate_the_past(services: Services, clock: FakeClock,
                                                           notifier: RecordingNotifier) -> None:
    await services.recovery.start(G, A, "2024-01-01")  # many milestones ago
    await services.scheduler.run_all_once()
    assert notifier.sent == []
    clock.set(at("2027-01-01T10:00:00"))
    await services.scheduler.run_all_once()
    assert "3 years" in notifier.dms_to(A)[0].message.content


async def test_downtime_celebrates_late_once_the_highest_reached(services: Services, clock: FakeClock,
                                                                notifier: RecordingNotifier) -> None:
    await services.recovery.start(G, A, "2026-11-20")  # milestones 1 (21st, done now) and 3 (23rd)
    await services.scheduler.run_all_once()
    assert len(notifier.dms_to(A)) == 1
    clock.set(at("2026-11-25T09:00:00"))  # bot was down through the 23rd; before today's hour
    assert await services.scheduler.run_all_once() == 0
    clock.set(at("2026-11-25T10:00:00"))
    assert await services.scheduler.run_all_once() == 1
    assert await services.scheduler.run_all_once() == 0
    late = notifier.dms_to(A)[-1].message.content
    assert "3 days" in late and "late" in late and "Monday 23 November 2026" in late


async def test_late_celebration_after_the_hour_goes_at_once_even_on_a_later_day(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    clock.set(at("2026-11-21T08:00:00"))
    await services.recovery.start(G, A, "2026-11-14")
    clock.set(at("2026-11-22T15:00:00"))  # the 21st passed entirely while down
    assert await services.scheduler.run_all_once() == 1
    assert "7 days" in notifier.dms_to(A)[0].message.content


async def test_a_slip_then_the_same_count_again_is_a_new_celebration(services: Services, clock: FakeClock,
                                                                     notifier: RecordingNotifier) -> None:
    await services.recovery.start(G, A, "2026-11-20")
    await services.scheduler.run_all_once()  # 1 day
    await services.recovery.slip(G, A)
    clock.set(at("2026-11-22T10:00:00"))
    await services.scheduler.run_all_once()  # 1 day again, new period
    assert ["1 day" in d.message.content for d in notifier.dms_to(A)] == [True, True]
    assert len({d.nonce for d in notifier.dms_to(A)}) == 2


async def test_restart_around_the_hour_never_duplicates(config: Config, db: Database, clock: FakeClock,
                                                        notifier: RecordingNotifier) -> None:
    first = build_services(config, db, clock, notifier)
    clock.set(at("2026-11-21T09:59:00"))
    await first.recovery.start(G, A, "2026-11-14")
    clock.set(at("2026-11-21T10:00:00"))
    # The sweep commits its claim and queued message, then the process "dies" before sending.
    assert await first.recovery.sweep(clock.now()) == 1
    assert notifier.sent == []
    second = build_services(config, db, clock, notifier)
    assert await second.scheduler.run_all_once() == 0
    third = build_services(config, db, clock, notifier)
    assert await third.scheduler.run_all_once() == 0
    assert len(notifier.dms_to(A)) == 1
    assert await db.fetch_value("SELECT count(*) FROM outbox WHERE kind = 'milestone'") == 1


async def test_crash_after_discord_accepted_but_before_marked_sent_is_deduplicated(
        services: Services, clock: FakeClock, notifier: RecordingNotifier, db: Database, config: Config) -> None:
    await services.recovery.start(G, A, "2026-11-14")
    assert await services.recovery.sweep(clock.now()) == 1
    # The process claims the celebration, Discord accepts it, and the process dies before
    # the mark commits.
    [(outbox_id, _, _)] = await services.outbox_repo.due(clock.now(), 10)
    item = await services.outbox_repo.claim(outbox_id, services.outbox.token, clock.now(),
                                            until=clock.now() + CLAIM_TTL)
    assert item is not None
    await notifier.send_dm(item.target_id, item.message, nonce=nonce_for(item.dedupe_key))
    restarted = build_services(config, db, clock, notifier)
    await restarted.outbox.dispatch()
    assert len(notifier.dms_to(A)) == 1  # the nonce returned the original message
    assert await restarted.outbox_repo.status_of(item.dedupe_key) == "sent"


async def test_quiet_hours_hold_a_celebration_dm(services: Services, clock: FakeClock,
                                                 notifier: RecordingNotifier) -> None:
    await services.settings.set_quiet_hours(G, A, "09:00", "12:00")
    await services.recovery.start(G, A, "2026-11-14")
    await services.scheduler.run_all_once()
    assert notifier.sent == []
    clock.set(at("2026-11-21T12:00:00"))
    await services.scheduler.run_all_once()
    assert len(notifier.dms_to(A)) == 1


async def test_celebration_hour_is_local_to_the_member(services: Services, clock: FakeClock, db: Database) -> None:
    await services.settings.set_timezone(G, A, "Asia/Kolkata")
    await services.recovery.start(G, A, "2026-11-21")
    assert await db.fetch_value("SELECT next_celebration_at FROM recovery_counters") == "2026-11-22T04:30:00+00:00"
    await services.settings.set_timezone(G, A, "America/St_Johns")  # UTC-3:30
    assert await db.fetch_value("SELECT next_celebration_at FROM recovery_counters") == "2026-11-22T13:30:00+00:00"
    await services.guild_config.set_celebrations(G, channel_id=CHANNEL, hour=18)
    assert await db.fetch_value("SELECT next_celebration_at FROM recovery_counters") == "2026-11-22T21:30:00+00:00"


async def test_celebration_on_a_dst_change_day(services: Services, clock: FakeClock, db: Database,
                                               notifier: RecordingNotifier) -> None:
    # New York falls back on 2026-11-01: 10:00 local is 15:00 UTC that day (EST).
    clock.set(at("2026-10-30T12:00:00"))
    await services.settings.set_timezone(G, A, "America/New_York")
    await services.recovery.start(G, A, "2026-10-29")  # 3 days on 1 November
    clock.set(at("2026-10-31T14:00:00"))  # 10:00 EDT: yesterday's 1-day milestone, late
    await services.scheduler.run_all_once()
    assert len(notifier.dms_to(A)) == 1
    assert await db.fetch_value("SELECT next_celebration_at FROM recovery_counters") == "2026-11-01T15:00:00+00:00"
    clock.set(at("2026-11-01T14:30:00"))  # 09:30 EST
    await services.scheduler.run_all_once()
    assert len(notifier.dms_to(A)) == 1
    clock.set(at("2026-11-01T15:00:00"))
    await services.scheduler.run_all_once()
    assert len(notifier.dms_to(A)) == 2 and "3 days" in notifier.dms_to(A)[1].message.content


async def test_celebration_hour_inside_a_spring_forward_gap_happens_once(
        services: Services, clock: FakeClock, db: Database, notifier: RecordingNotifier) -> None:
    # 2027-03-14 in New York: 02:00 does not exist; the celebration is at 03:00 EDT (07:00 UTC), once.
    await services.guild_config.set_celebrations(G, channel_id=CHANNEL, hour=2)
    clock.set(at("2027-03-13T12:00:00"))
    await services.settings.set_timezone(G, A, "America/New_York")
    await services.recovery.start(G, A, "2027-03-13")
    assert await db.fetch_value("SELECT next_celebration_at FROM recovery_counters") == "2027-03-14T07:00:00+00:00"
    clock.set(at("2027-03-14T06:59:00"))
    assert await services.scheduler.run_all_once() == 0
    for minute in ("07:00", "07:30", "09:00"):
        clock.set(at(f"2027-03-14T{minute}:00"))
        await services.scheduler.run_all_once()
    assert len(notifier.dms_to(A)) == 1


async def test_ladder_descriptions_appear_in_celebrations(services: Services, clock: FakeClock,
                                                          notifier: RecordingNotifier) -> None:
    await services.recovery.add_milestone(G, 7, "A whole week!")
    await services.recovery.start(G, A, "2026-11-14")
    await services.scheduler.run_all_once()
    assert "A whole week!" in notifier.dms_to(A)[0].message.content


async def test_narrowing_visibility_withdraws_a_public_post_still_waiting(
        services: Services, clock: FakeClock, notifier: RecordingNotifier, db: Database) -> None:
    await services.guild_config.set_celebrations(G, channel_id=CHANNEL)
    await services.recovery.start(G, A, "2026-11-14", visibility="server")
    await services.recovery.update_settings(G, A, "recovery", celebrate="channel")
    notifier.transient_failures = 1  # Discord has a bad moment: the post waits for a retry
    await services.scheduler.run_all_once()
    assert notifier.posts_in(CHANNEL) == []
    await services.recovery.update_settings(G, A, "recovery", visibility="private")
    clock.advance(timedelta(hours=2))
    await services.scheduler.run_all_once()
    assert notifier.posts_in(CHANNEL) == []
    assert await db.fetch_value("SELECT status FROM outbox WHERE dedupe_key LIKE 'milestone:%'") == "cancelled"


async def test_remove_deletes_history_and_withdraws_a_waiting_celebration(
        services: Services, clock: FakeClock, notifier: RecordingNotifier, db: Database) -> None:
    await services.settings.set_quiet_hours(G, A, "09:00", "12:00")
    await services.recovery.start(G, A, "2026-11-14", name="alcohol")
    await services.recovery.slip(G, A, date_text="2026-11-14")
    await services.scheduler.run_all_once()  # 7 days: held for quiet hours
    assert await services.recovery.remove(G, A, "ALCOHOL") == "alcohol"
    for table in ("recovery_counters", "recovery_periods", "recovery_celebrations"):
        assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 0
    clock.set(at("2026-11-21T12:00:00"))
    await services.scheduler.run_all_once()
    assert notifier.sent == []


async def test_sweep_with_a_claim_raced_by_a_command_does_nothing(services: Services, clock: FakeClock,
                                                                  db: Database) -> None:
    await services.recovery.start(G, A, "2026-11-14")
    due = await services.recovery.repo.due(clock.now(), 10)
    ctx = await services.recovery._context(G)
    claim = services.recovery._plan(due[0], ctx, clock.now())
    await services.recovery.slip(G, A)  # reschedules the counter in between
    assert await services.recovery.repo.apply_claims([claim], clock.now()) == 0
    assert await db.fetch_value("SELECT count(*) FROM outbox WHERE dedupe_key = ?",
                                (milestone_key(due[0].period_ref, 7),)) == 0


def act_before_the_sweep_writes(services: Services, act) -> None:  # noqa: ANN001 - a coroutine function
    """Run `act` once, after the milestone sweep decided (on what it read) and before it writes."""
    repo = services.recovery.repo
    apply_claims = repo.apply_claims

    async def act_then_apply(claims: list[Claim], now: datetime) -> int:
        if claims:
            repo.apply_claims = apply_claims  # type: ignore[method-assign]
            await act()  # e.g. a member's command, committed between the sweep's read and its write
        return await apply_claims(claims, now)

    repo.apply_claims = act_then_apply  # type: ignore[method-assign]


async def test_a_counter_made_private_while_the_sweep_decides_is_never_posted(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await services.guild_config.set_celebrations(G, channel_id=CHANNEL)
    clock.set(at("2026-11-21T08:00:00"))
    await services.recovery.start(G, A, "2026-11-14", name="shared", visibility="server")
    await services.recovery.update_settings(G, A, "shared", celebrate="channel")
    clock.set(at("2026-11-21T10:00:00"))
    act_before_the_sweep_writes(
        services, lambda: services.recovery.update_settings(G, A, "shared", visibility="private"))
    await services.scheduler.run_all_once()
    assert notifier.posts_in(CHANNEL) == []
    # Decided again on what the member chose: "channel" on a private counter is a DM, once.
    await services.scheduler.run_all_once()
    await services.scheduler.run_all_once()
    assert notifier.posts_in(CHANNEL) == []
    [dm] = notifier.dms_to(A)
    assert "7 days" in dm.message.content


async def test_celebrations_moved_while_the_sweep_decides_go_to_the_new_channel(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    moved = CHANNEL + 1
    await services.guild_config.set_celebrations(G, channel_id=CHANNEL)
    await services.recovery.start(G, A, "2026-11-14", visibility="server")
    await services.recovery.update_settings(G, A, "recovery", celebrate="channel")
    act_before_the_sweep_writes(services, lambda: services.guild_config.set_celebrations(G, channel_id=moved))
    await services.scheduler.run_all_once()
    await services.scheduler.run_all_once()
    assert notifier.posts_in(CHANNEL) == []
    assert len(notifier.posts_in(moved)) == 1


async def test_of_two_zone_changes_at_once_the_later_sets_the_celebration_times(
        services: Services, clock: FakeClock, db: Database) -> None:
    for user in (A, B, C):
        await services.recovery.start(G, user, "2026-11-16")  # 7 days on the 23rd
    repo = services.recovery.repo
    schedule_inputs, set_schedules = repo.schedule_inputs, repo.set_schedules
    reads: list[asyncio.Event] = [asyncio.Event(), asyncio.Event()]
    tokyo_written = asyncio.Event()

    async def read(**kwargs: int) -> list[ScheduleInput]:
        inputs = await schedule_inputs(**kwargs)
        reads[sum(e.is_set() for e in reads)].set()
        return inputs

    writes = 0

    async def write(changes: list, now: datetime, **kwargs: object) -> int | None:  # type: ignore[type-arg]
        nonlocal writes
        writes += 1
        if writes == 1:  # the first change, computed for Tokyo, ...
            await reads[1].wait()  # ... stores its times only after the second one read the counters
            try:
                return await set_schedules(changes, now, **kwargs)  # type: ignore[arg-type]
            finally:
                tokyo_written.set()
        await tokyo_written.wait()
        return await set_schedules(changes, now, **kwargs)  # type: ignore[arg-type]

    repo.schedule_inputs = read  # type: ignore[method-assign]
    repo.set_schedules = write  # type: ignore[method-assign]
    first = asyncio.create_task(services.guild_config.set_checkins(
        G, channel_id=CHANNEL, time="09:00", timezone="Asia/Tokyo"))
    await reads[0].wait()
    await asyncio.gather(first, services.guild_config.set_checkins(
        G, channel_id=CHANNEL, time="09:00", timezone="America/New_York"))
    assert [from_utc_text(r["next_celebration_at"]) for r in await db.fetch_all(
        "SELECT next_celebration_at FROM recovery_counters")] == [at("2026-11-23T15:00:00")] * 3  # 10:00 in New York


async def test_no_celebrations_in_a_server_the_bot_left(services: Services, notifier: RecordingNotifier,
                                                         clock: FakeClock) -> None:
    await services.guild_config.set_celebrations(G, channel_id=CHANNEL)
    await services.recovery.start(G, A, "2026-11-14", visibility="server")
    await services.recovery.update_settings(G, A, "recovery", celebrate="channel")
    await services.guilds.mark_left(G, clock.now())
    assert await services.scheduler.run_all_once() == 1  # handled, quietly
    assert notifier.sent == []
    guild = await services.guilds.get(G)
    assert guild is not None and guild.left_at is not None  # still left: the purge can find it


async def test_deleting_the_member_removes_everything(services: Services, db: Database) -> None:
    await services.recovery.start(G, A, "2026-11-14")
    await services.recovery.slip(G, A)
    await db.execute("DELETE FROM members WHERE user_id = ?", (A,))
    for table in ("recovery_counters", "recovery_periods"):
        assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 0


async def test_a_counter_started_after_the_newest_was_removed_is_celebrated(
        services: Services, notifier: RecordingNotifier) -> None:
    # SQLite gives the new counter's period the removed one's id; the outbox still holds the
    # key of the milestone already sent for it.
    await services.recovery.start(G, A, "2026-11-20", name="alcohol")
    await services.scheduler.run_all_once()
    await services.recovery.remove(G, A, "alcohol")
    await services.recovery.start(G, A, "2026-11-20", name="gambling")
    await services.scheduler.run_all_once()
    assert ["gambling" in d.message.content for d in notifier.dms_to(A)] == [False, True]


async def test_a_public_post_queued_before_the_upgrade_is_still_withdrawn_by_narrowing(
        config: Config, clock: FakeClock, notifier: RecordingNotifier) -> None:
    # A database at schema 12, before dedupe keys named a row's incarnation: a 7-day post is
    # waiting to be retried under the key the earlier code gave it.
    t = to_utc_text(clock.now())
    async with Database(config.database_path) as old:
        await old.migrate([m for m in bundled_migrations() if m.version <= 12])
        async with old.transaction() as conn:
            await conn.execute("INSERT INTO guilds (guild_id, celebrations_channel_id, joined_at, updated_at) "
                               "VALUES (?, ?, ?, ?)", (G, CHANNEL, t, t))
            await conn.execute("INSERT INTO members (member_id, guild_id, user_id, created_at, last_active_at) "
                               "VALUES (1, ?, ?, ?, ?)", (G, A, t, t))
            await conn.execute(
                "INSERT INTO recovery_counters (counter_id, member_id, guild_id, name, name_key, visibility, "
                "celebrate, next_milestone_days, next_celebration_at, created_at, updated_at) "
                "VALUES (1, 1, ?, 'recovery', 'recovery', 'server', 'channel', 14, ?, ?, ?)",
                (G, "2026-11-28T10:00:00+00:00", t, t))
            await conn.execute("INSERT INTO recovery_periods (period_id, counter_id, member_id, start_date, "
                               "created_at) VALUES (1, 1, 1, '2026-11-14', ?)", (t,))
            await conn.execute("INSERT INTO recovery_celebrations (period_id, member_id, milestone_days, "
                               "local_date, delivery, created_at) VALUES (1, 1, 7, '2026-11-21', 'channel', ?)",
                               (t,))
            await conn.execute(
                "INSERT INTO outbox (dedupe_key, kind, guild_id, member_id, target, target_id, payload, attempts, "
                "not_before, created_at) VALUES ('milestone:1:7', 'milestone', ?, 1, 'channel', ?, ?, 1, ?, ?)",
                (G, CHANNEL, OutgoingMessage(f"🎉 <@{A}> has reached **7 days**").to_json(),
                 to_utc_text(clock.now() + timedelta(minutes=5)), t))
    async with Database(config.database_path) as db:
        await db.migrate()
        services = build_services(config, db, clock, notifier)
        await services.recovery.update_settings(G, A, "recovery", visibility="private")
        clock.advance(timedelta(minutes=10))
        await services.scheduler.run_all_once()
        assert notifier.sent == []
        assert await db.fetch_value("SELECT status FROM outbox WHERE dedupe_key = 'milestone:1:7'") == "cancelled"
