"""CheckInService on a real database with a fake clock: check-ins, pledges, stats, summary."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Generator
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.domain.clock import FakeClock
from bot.domain.localtime import occurrence_on, zone
from bot.errors import InvalidInputError
from bot.services import charts
from bot.services.checkins import CheckInSummary
from bot.services.container import Services

G, U, U2 = 100000000000000001, 200000000000000001, 200000000000000002
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def member_id(services: Services, user_id: int = U) -> int:
    member = await services.members.get(G, user_id)
    assert member is not None
    return member.member_id


async def count(services: Services, table: str) -> int:
    return int(await services.db.fetch_value(f"SELECT count(*) FROM {table}"))  # noqa: S608 - test constant


# -- /checkin -------------------------------------------------------------------------------

async def test_checkin_is_stored_with_local_date_and_zone(services: Services, clock: FakeClock) -> None:
    await services.settings.set_timezone(G, U, "Pacific/Chatham")
    clock.set(utc(2026, 11, 21, 11, 0))  # 00:45 on 22 November in Chatham (+13:45)
    result = await services.checkins.check_in(G, U, mood=4, craving=2, note=" a steady day ")
    assert result.local_date == date(2026, 11, 22)
    assert not result.updated
    assert result.streak.current == 1
    stored = await services.checkins_repo.get_checkin(await member_id(services), date(2026, 11, 22))
    assert stored is not None
    assert (stored.mood, stored.craving, stored.note, stored.timezone) == (4, 2, "a steady day", "Pacific/Chatham")


async def test_zone_falls_back_to_server_then_config(services: Services, clock: FakeClock) -> None:
    clock.set(utc(2026, 11, 21, 23, 30))
    first = await services.checkins.check_in(G, U, mood=3)          # config default UTC
    assert first.local_date == date(2026, 11, 21)
    await services.guild_config.set_checkins(G, channel_id=1, time="09:00", timezone="Asia/Kolkata")
    second = await services.checkins.check_in(G, U2, mood=3)        # server zone, already the 22nd
    assert second.local_date == date(2026, 11, 22)


async def test_second_checkin_same_day_updates_and_keeps_what_was_not_reentered(services: Services) -> None:
    await services.checkins.check_in(G, U, mood=2, craving=7, note="rough morning")
    again = await services.checkins.check_in(G, U, mood=4)
    assert again.updated
    assert again.streak.current == 1
    stored = await services.checkins_repo.get_checkin(await member_id(services), again.local_date)
    assert stored is not None
    assert (stored.mood, stored.craving, stored.note) == (4, 7, "rough morning")
    third = await services.checkins.check_in(G, U, mood=5, craving=1, note="better now")
    stored = await services.checkins_repo.get_checkin(await member_id(services), third.local_date)
    assert stored is not None and (stored.mood, stored.craving, stored.note) == (5, 1, "better now")
    assert await count(services, "checkins") == 1


@pytest.mark.parametrize(("fields", "wording"), [
    ({"mood": "6"}, "1 to 5"),
    ({"mood": "great"}, "1 to 5"),
    ({"mood": 0}, "1 to 5"),
    ({"mood": "3", "craving": "lots"}, "0 (none at all) to 10"),
    ({"mood": "3", "craving": "11"}, "0 (none at all) to 10"),
    ({"mood": "3", "note": "x" * 501}, "up to 500"),
    ({"mood": 3, "day": "yesterday"}, "YYYY-MM-DD"),
    ({"mood": 3, "day": "2026-02-30"}, "YYYY-MM-DD"),
])
async def test_invalid_input_is_refused_kindly_and_stores_nothing(services: Services, fields: dict[str, str],
                                                                  wording: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await services.checkins.check_in(G, U, **fields)  # type: ignore[arg-type]
    assert wording in caught.value.message
    assert "failed" not in caught.value.message.lower()
    assert await count(services, "checkins") == 0


async def test_modal_strings_are_accepted(services: Services) -> None:
    result = await services.checkins.check_in(G, U, mood=" 3 ", craving="", note="")
    assert result.mood == 3 and result.craving is None
    stored = await services.checkins_repo.get_checkin(await member_id(services), result.local_date)
    assert stored is not None and stored.note is None


async def test_backfill_up_to_seven_days_by_the_members_local_date(services: Services, clock: FakeClock) -> None:
    clock.set(utc(2026, 11, 21, 11, 0))  # 21 Nov in UTC, already 22 Nov in Chatham
    assert (await services.checkins.check_in(G, U, mood=3, day="2026-11-14")).local_date == date(2026, 11, 14)
    with pytest.raises(InvalidInputError, match="7 days back"):
        await services.checkins.check_in(G, U, mood=3, day="2026-11-13")
    with pytest.raises(InvalidInputError, match="hasn't arrived yet"):
        await services.checkins.check_in(G, U, mood=3, day="2026-11-22")
    await services.settings.set_timezone(G, U2, "Pacific/Chatham")
    assert (await services.checkins.check_in(G, U2, mood=3, day="2026-11-22")).local_date == date(2026, 11, 22)


async def test_backfilling_the_missing_day_joins_the_runs(services: Services, clock: FakeClock) -> None:
    clock.set(utc(2026, 11, 19, 12))
    await services.checkins.check_in(G, U, mood=3)
    clock.set(utc(2026, 11, 21, 12))
    assert (await services.checkins.check_in(G, U, mood=3)).streak.current == 1
    joined = await services.checkins.check_in(G, U, mood=3, day="2026-11-20")
    assert joined.streak.current == 3


async def test_streak_counts_consecutive_local_days_across_fall_back(services: Services, clock: FakeClock) -> None:
    await services.settings.set_timezone(G, U, "America/New_York")
    new_york = zone("America/New_York")
    start = date(2026, 10, 30)  # 23:30 each night, across the 25-hour day of 1 November
    for offset in range(5):
        day = start + timedelta(days=offset)
        clock.set(occurrence_on(day, time(23, 30), new_york))
        result = await services.checkins.check_in(G, U, mood=3)
        assert result.local_date == day
    assert (result.streak.current, result.streak.longest) == (5, 5)


async def test_checkin_is_acknowledged_only_after_commit(services: Services,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**kwargs: object) -> Generator[tuple[str, tuple[()]], object, None]:
        yield "SELECT 1", ()  # the check-in's write, failing as a full or broken disk would
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(services.checkins_repo, "upsert_checkin_plan", broken)
    with pytest.raises(sqlite3.OperationalError):
        await services.checkins.check_in(G, U, mood=4)
    # The member row written in the same transaction was rolled back with it.
    assert await services.members.get(G, U) is None


async def test_checkin_clears_a_closed_dm_mark(services: Services, clock: FakeClock) -> None:
    await services.settings.touch(G, U)
    await services.members.mark_dm_closed(U, clock.now())
    await services.checkins.check_in(G, U, mood=3)
    assert not await services.members.dm_closed(U, services.clock.now())


# -- /pledge --------------------------------------------------------------------------------

async def test_pledge_once_per_local_day_with_streak(services: Services, clock: FakeClock) -> None:
    first = await services.checkins.pledge(G, U)
    assert not first.already and first.streak.current == 1
    again = await services.checkins.pledge(G, U)
    assert again.already and again.streak.current == 1
    assert await count(services, "pledges") == 1
    clock.advance(timedelta(days=1))
    assert (await services.checkins.pledge(G, U)).streak.current == 2
    clock.advance(timedelta(days=2))
    later = await services.checkins.pledge(G, U)
    assert (later.streak.current, later.streak.longest) == (1, 2)


# -- /mystats -------------------------------------------------------------------------------

async def test_mystats_streaks_averages_and_png_chart(services: Services, clock: FakeClock) -> None:
    start = clock.now()
    for offset, mood, craving in [(0, 2, 8), (1, 3, None), (3, 4, 4), (4, 5, 2)]:
        clock.set(start + timedelta(days=offset))
        await services.checkins.check_in(G, U, mood=mood, craving=craving)
    await services.checkins.pledge(G, U)
    stats = await services.checkins.my_stats(G, U, days=7)
    assert stats.end == date(2026, 11, 25) and stats.start == date(2026, 11, 19)
    assert (stats.checkins.current, stats.checkins.longest) == (2, 2)
    assert (stats.pledges.current, stats.pledges.longest) == (1, 1)
    assert stats.checked_in_days == 4 and stats.total_checkins == 4
    assert stats.mood_average == pytest.approx(3.5)
    assert stats.craving_average == pytest.approx(14 / 3)
    assert stats.chart_png is not None and stats.chart_png.startswith(PNG_SIGNATURE)


async def test_mystats_chart_is_drawn_outside_the_bot_process(services: Services) -> None:
    await services.checkins.check_in(G, U, mood=3)
    imported = "PIL" in sys.modules
    stats = await services.checkins.my_stats(G, U, days=7)
    assert stats.chart_png is not None and stats.chart_png.startswith(PNG_SIGNATURE)
    if not imported:  # (another test may have imported it to read a PNG)
        assert "PIL" not in sys.modules, "the drawing library was loaded into the bot's process"


async def test_mystats_without_a_chart_when_the_renderer_fails(services: Services,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    await services.checkins.check_in(G, U, mood=3, note="zqxnote9")
    monkeypatch.setattr(charts.sys, "executable", "/bin/false")
    stats = await services.checkins.my_stats(G, U, days=7)
    assert stats.chart_png is None and stats.checked_in_days == 1 and stats.mood_average == 3
    assert "chart" in caplog.text and "not drawn" in caplog.text


async def test_mystats_without_checkins_has_no_chart(services: Services) -> None:
    stats = await services.checkins.my_stats(G, U)
    assert stats.days == 30 and stats.chart_png is None
    assert stats.mood_average is None and stats.checkins.current == 0


@pytest.mark.parametrize("days", [6, 366, 0, -1])
async def test_mystats_period_is_checked(services: Services, days: int) -> None:
    with pytest.raises(InvalidInputError, match="7 to 365"):
        await services.checkins.my_stats(G, U, days=days)


async def test_mystats_period_only_counts_its_own_days(services: Services, clock: FakeClock) -> None:
    start = clock.now()
    await services.checkins.check_in(G, U, mood=1)
    clock.set(start + timedelta(days=10))
    await services.checkins.check_in(G, U, mood=5)
    stats = await services.checkins.my_stats(G, U, days=7)
    assert stats.checked_in_days == 1 and stats.mood_average == 5 and stats.total_checkins == 2


# -- cross-feature API ----------------------------------------------------------------------

async def test_summary_of_a_stranger_is_empty_and_creates_nothing(services: Services) -> None:
    assert await services.checkins.summary(G, U) == CheckInSummary(None, 0, 0)
    assert await services.members.get(G, U) is None


async def test_summary_reports_last_day_and_streaks_without_touching(services: Services, clock: FakeClock) -> None:
    start = clock.now()
    for offset in (0, 1, 2, 5, 6):
        clock.set(start + timedelta(days=offset))
        await services.checkins.check_in(G, U, mood=3)
    before = await services.members.get(G, U)
    clock.set(start + timedelta(days=7))
    summary = await services.checkins.summary(G, U)
    assert summary == CheckInSummary(date(2026, 11, 27), 2, 3)
    after = await services.members.get(G, U)
    assert before is not None and after is not None and after.last_active_at == before.last_active_at
    clock.set(start + timedelta(days=9))
    assert (await services.checkins.summary(G, U)).current_streak == 0


async def test_last_checkin_dates_per_member(services: Services, clock: FakeClock) -> None:
    await services.checkins.check_in(G, U, mood=3, day="2026-11-18")
    await services.checkins.check_in(G, U, mood=3)
    await services.checkins.check_in(G, U2, mood=3, day="2026-11-20")
    await services.settings.touch(G, 300000000000000003)
    ids = [await member_id(services, U), await member_id(services, U2), await member_id(services, 300000000000000003)]
    assert await services.checkins_repo.last_checkin_dates(ids + ids) == {
        ids[0]: date(2026, 11, 21), ids[1]: date(2026, 11, 20)}
    assert await services.checkins_repo.last_checkin_dates([]) == {}
