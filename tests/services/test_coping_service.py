"""CopingService on a real database with a fake clock: plans, urges, the check-back sweep, stats, /crisis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.clock import FakeClock
from bot.domain.coping import CheckBack, checkback_due, summarise_urges
from bot.errors import InvalidInputError, NotFoundError
from bot.services.container import Services
from bot.services.coping import CHECKBACK_KIND
from tests.support import RecordingNotifier

G, ALICE, BOB = 100000000000000001, 200000000000000001, 200000000000000002


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def rows(services: Services, table: str) -> int:
    return int(await services.db.fetch_value(f"SELECT count(*) FROM {table}"))  # noqa: S608 - test constant


def checkbacks(notifier: RecordingNotifier, user_id: int = ALICE) -> list[int]:
    """Urge ids of the check-back DMs delivered to a user."""
    return [int(m.message.buttons[0].custom_id.split(":")[3]) for m in notifier.dms_to(user_id)
            if m.message.buttons and m.message.buttons[0].custom_id.startswith("kindred:urge:after:")]


# -- the plan --------------------------------------------------------------------------------------

async def test_a_plan_is_saved_part_by_part_cleaned_and_removed_when_emptied(services: Services) -> None:
    coping = services.coping
    plan = await coping.save_plan(G, ALICE, {"coping": "  Call Sam\r\nWalk\tthe dog \u200b", "reasons": "My kids",
                                             "people": "   "})
    assert plan is not None
    assert (plan.coping, plan.reasons, plan.people, plan.triggers) == ("Call Sam\nWalk the dog", "My kids", None, None)
    assert await coping.plan(G, BOB) is None and await coping.plan(G, ALICE) == plan
    assert await coping.plan(None, ALICE) == plan  # in DMs: the plan saved last, in any server
    assert await coping.save_plan(G, ALICE, {"coping": "", "reasons": None}) is None
    assert await rows(services, "relapse_plans") == 0


async def test_a_part_longer_than_500_characters_is_refused_and_nothing_changes(services: Services) -> None:
    await services.coping.save_plan(G, ALICE, {"coping": "Call Sam"})
    with pytest.raises(InvalidInputError, match="“People I can reach” is 501 characters"):
        await services.coping.save_plan(G, ALICE, {"coping": "Something else", "people": "x" * 501})
    plan = await services.coping.plan(G, ALICE)
    assert plan is not None and plan.coping == "Call Sam"


async def test_a_hard_check_in_says_whether_there_is_a_plan_to_offer(services: Services) -> None:
    checkins = services.checkins
    assert (await checkins.check_in(G, ALICE, mood=3, craving=7)).has_plan is None  # not a hard moment
    assert (await checkins.check_in(G, ALICE, mood=1)).has_plan is False
    await services.coping.save_plan(G, ALICE, {"warning_signs": "Not sleeping"})
    assert (await checkins.check_in(G, ALICE, mood=1)).has_plan is True
    assert (await checkins.check_in(G, ALICE, mood=4, craving=8)).has_plan is True
    assert (await checkins.check_in(G, ALICE, mood=2, craving=7)).has_plan is None


async def test_crisis_brings_the_members_own_plan_and_nobody_elses(services: Services) -> None:
    await services.coping.save_plan(G, ALICE, {"people": "Sam, my sponsor"})
    own = await services.crisis.crisis_help(user_id=ALICE, guild_id=G, country="GB")
    assert own.plan is not None and own.plan.people == "Sam, my sponsor" and "116 123" in own.message.content
    assert (await services.crisis.crisis_help(user_id=BOB, guild_id=G, country="GB")).plan is None
    assert (await services.crisis.crisis_help(user_id=ALICE, guild_id=None, country="GB")).plan is not None


# -- urges and their check-back ---------------------------------------------------------------------

@pytest.mark.parametrize(("strength", "minutes"), [(11, 15), (-1, 15), (5, 4), (5, 61), (True, 15), (5, True)])
async def test_out_of_range_urges_are_refused_and_nothing_is_stored(services: Services, strength: int,
                                                                    minutes: int) -> None:
    with pytest.raises(InvalidInputError):
        await services.coping.start_urge(G, ALICE, strength=strength, minutes=minutes)
    assert await rows(services, "urges") == 0


def test_the_check_back_is_due_at_the_next_whole_minute_after_minutes() -> None:
    assert checkback_due(utc(2026, 11, 21, 10, 0), 15) == utc(2026, 11, 21, 10, 15)
    assert checkback_due(utc(2026, 11, 21, 10, 0, 1), 15) == utc(2026, 11, 21, 10, 16)
    assert checkback_due(utc(2026, 11, 21, 23, 59, 30), 5) == utc(2026, 11, 22, 0, 5)


async def test_the_check_back_is_queued_once_at_its_minute_whatever_the_quiet_hours(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await services.settings.set_quiet_hours(G, ALICE, "00:00", "23:59")
    clock.set(utc(2026, 11, 21, 22, 10, 20))
    start = await services.coping.start_urge(G, ALICE, strength=8, minutes=20)
    assert start.urge is not None and start.due == utc(2026, 11, 21, 22, 31)
    assert await services.coping.check_dms_reach(start, G, ALICE)
    clock.set(utc(2026, 11, 21, 22, 30, 59))
    await services.scheduler.run_all_once()
    assert checkbacks(notifier) == []
    clock.set(utc(2026, 11, 21, 22, 31))
    await services.scheduler.run_all_once()
    await services.scheduler.run_all_once()
    clock.advance(timedelta(hours=2))
    await services.scheduler.run_all_once()
    assert checkbacks(notifier) == [start.urge.urge_id]
    [dm] = [m for m in notifier.dms_to(ALICE) if m.message.buttons]
    assert "8/10" in dm.message.content and "later than I said" not in dm.message.content
    assert [b.label for b in dm.message.buttons] == [str(n) for n in range(11)]
    assert await services.outbox_repo.status_of(f"urge:{start.urge.urge_id}:checkback") == "sent"


async def test_a_minute_with_no_check_back_due_does_not_wait_for_the_writer(
        services: Services, clock: FakeClock) -> None:
    # Urges are rare and the sweep runs every minute: when nothing is due it only reads, so it never
    # queues behind (or holds up) members' writes. Here another write holds the lock throughout.
    clock.set(utc(2026, 11, 21, 22, 10))
    start = await services.coping.start_urge(G, ALICE, minutes=20)
    assert start.due == utc(2026, 11, 21, 22, 30)
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with services.db.transaction():
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    try:
        assert await asyncio.wait_for(services.coping.sweep_checkbacks(utc(2026, 11, 21, 22, 29)), 0.5) == 0
    finally:
        release.set()
        await holder
    assert await services.coping.sweep_checkbacks(utc(2026, 11, 21, 22, 30)) == 1


async def test_a_check_back_made_late_by_downtime_says_so_and_one_long_overdue_is_skipped(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    late = await services.coping.start_urge(G, ALICE, minutes=5)
    clock.advance(timedelta(minutes=50))  # the bot was down past it: still worth asking, saying it is late
    await services.coping.sweep_checkbacks(clock.now())
    await services.outbox.dispatch()
    assert late.urge is not None and checkbacks(notifier) == [late.urge.urge_id]
    assert "later than I said" in notifier.dms_to(ALICE)[-1].message.content

    gone = await services.coping.start_urge(G, ALICE, minutes=5)
    clock.advance(timedelta(minutes=5, hours=1, seconds=1))  # more than an hour past: no longer about "now"
    assert await services.coping.sweep_checkbacks(clock.now()) == 0
    assert gone.urge is not None
    assert await services.db.fetch_value("SELECT checkback FROM urges WHERE urge_id = ?",
                                         (gone.urge.urge_id,)) == CheckBack.SKIPPED
    assert await services.coping.repo.earliest_checkback_due() is None


async def test_closed_dms_withdraw_the_check_back(services: Services, clock: FakeClock,
                                                  notifier: RecordingNotifier) -> None:
    notifier.dm_closed.add(ALICE)
    start = await services.coping.start_urge(G, ALICE, minutes=5)
    assert await services.coping.check_dms_reach(start, G, ALICE) is False
    clock.advance(timedelta(minutes=10))
    await services.scheduler.run_all_once()
    assert start.urge is not None and checkbacks(notifier) == []
    assert await services.db.fetch_value("SELECT checkback FROM urges WHERE urge_id = ?",
                                         (start.urge.urge_id,)) == CheckBack.DM_CLOSED
    assert not [m for m in notifier.sent if m.message.buttons], "nothing was tried at the check-back's time"


async def test_a_server_the_bot_left_gets_no_check_back(services: Services, clock: FakeClock,
                                                        notifier: RecordingNotifier) -> None:
    start = await services.coping.start_urge(G, ALICE, minutes=5)
    await services.guilds.mark_left(G, clock.now())
    clock.advance(timedelta(minutes=5))
    await services.scheduler.run_all_once()
    assert checkbacks(notifier) == [] and start.urge is not None


async def test_only_the_member_can_answer_their_check_back_and_the_last_answer_counts(services: Services) -> None:
    start = await services.coping.start_urge(G, ALICE, strength=9, minutes=5)
    assert start.urge is not None
    urge_id = start.urge.urge_id
    with pytest.raises(NotFoundError, match="someone else's"):
        await services.coping.record_after(urge_id, BOB, 0)
    with pytest.raises(NotFoundError):
        await services.coping.record_after(urge_id + 1, ALICE, 0)
    with pytest.raises(InvalidInputError):
        await services.coping.record_after(urge_id, ALICE, 11)
    first = await services.coping.record_after(urge_id, ALICE, 9)
    assert first.urge.strength_after == 9 and first.plan is None  # no plan to bring
    await services.coping.save_plan(G, ALICE, {"coping": "Call Sam"})
    second = await services.coping.record_after(urge_id, ALICE, 8)
    assert second.plan is not None and second.plan.coping == "Call Sam"
    third = await services.coping.record_after(urge_id, ALICE, 3)
    assert third.urge.strength_after == 3 and third.plan is None


async def test_mystats_counts_urges_surfed_in_the_members_own_days(services: Services, clock: FakeClock) -> None:
    await services.settings.set_timezone(G, ALICE, "Asia/Kolkata")
    clock.set(utc(2026, 11, 1, 18, 40))   # 00:10 on 2 November in Kolkata: day 20 of the last 20
    old = await services.coping.start_urge(G, ALICE, strength=9, minutes=5)
    clock.set(utc(2026, 11, 1, 18, 20))   # 23:50 on 1 November in Kolkata: outside the last 20 days
    await services.coping.start_urge(G, ALICE, strength=9, minutes=5)
    clock.set(utc(2026, 11, 21, 10, 0))   # 15:30 on 21 November in Kolkata
    new = await services.coping.start_urge(G, ALICE, strength=6, minutes=5)
    await services.coping.start_urge(G, ALICE, minutes=5)  # not rated: surfed all the same
    for start, after in ((old, 4), (new, 6)):
        assert start.urge is not None
        await services.coping.record_after(start.urge.urge_id, ALICE, after)
    stats = await services.checkins.my_stats(G, ALICE, 20)
    assert stats.urges is not None
    assert (stats.urges.surfed, stats.urges.rated, stats.urges.average_drop) == (3, 2, 2.5)


def test_urge_summary_maths() -> None:
    assert summarise_urges([]).average_drop is None
    summary = summarise_urges([(8, 3), (5, None), (None, 2), (4, 6)])
    assert (summary.surfed, summary.rated, summary.average_drop) == (4, 2, 1.5)


async def test_urge_messages_queued_for_a_deleted_member_go_with_them(services: Services, clock: FakeClock,
                                                                      notifier: RecordingNotifier) -> None:
    start = await services.coping.start_urge(G, ALICE, minutes=5)
    clock.advance(timedelta(minutes=5))
    assert await services.coping.sweep_checkbacks(clock.now()) == 1  # queued, not sent yet
    await services.privacy.request_delete(G, ALICE)
    await services.privacy.forget(G, ALICE)
    await services.outbox.dispatch()
    assert start.urge is not None and checkbacks(notifier) == []
    assert await rows(services, "urges") == 0
    assert await services.db.fetch_value("SELECT count(*) FROM outbox WHERE kind = ?", (CHECKBACK_KIND,)) == 0
