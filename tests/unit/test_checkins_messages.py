"""Check-in wording: streaks said kindly, quiet hours explained, never shaming words."""

from __future__ import annotations

import itertools
from datetime import date, time

import pytest

from bot.domain.checkins import Streaks
from bot.services.checkins import CheckInResult, MyStats, PledgeResult, ReminderStatus, load_prompts
from cogs.checkins._messages import (
    checkin_reply,
    checkin_streak,
    pledge_reply,
    reminder_set_reply,
    settings_lines,
    stats_reply,
)

SHAME = ("failed", "failure", "lost", "reset", "broke", "zero", "should have", "again?")
TODAY = date(2026, 11, 21)


def assert_kind(text: str) -> None:
    lowered = text.lower()
    assert not [w for w in SHAME if w in lowered], text


def result(mood: int = 4, craving: int | None = None, updated: bool = False, current: int = 1, longest: int = 1,
           day: date = TODAY) -> CheckInResult:
    return CheckInResult(local_date=day, today=TODAY, updated=updated, mood=mood, craving=craving,
                         streak=Streaks(current, longest))


@pytest.mark.parametrize(("current", "longest", "expected"), [
    (1, 1, "**day 1**"),
    (5, 5, "**5 days in a row**"),
    (1, 12, "longest run so far is **12 days**"),
    (0, 3, "Your check-in is saved."),
    (2, 2, "**2 days in a row**"),
])
def test_streak_wording(current: int, longest: int, expected: str) -> None:
    text = checkin_streak(Streaks(current, longest))
    assert expected in text
    assert_kind(text)


def test_checkin_reply_names_the_day_and_values() -> None:
    text = checkin_reply(result(mood=4, craving=3))
    assert "**today** (Saturday 21 November)" in text and "mood **4/5**" in text and "craving **3/10**" in text
    assert "Updated" in checkin_reply(result(updated=True))
    assert "**Thursday 19 November**" in checkin_reply(result(day=date(2026, 11, 19)))


@pytest.mark.parametrize(("mood", "craving", "supportive"), [(1, None, True), (2, 0, True), (4, 9, True),
                                                              (3, 7, False), (5, None, False)])
def test_hard_days_get_a_gentle_pointer_to_crisis(mood: int, craving: int | None, supportive: bool) -> None:
    assert ("/crisis" in checkin_reply(result(mood=mood, craving=craving))) is supportive


def test_every_reply_is_kind() -> None:
    for mood, current, longest, updated in itertools.product((1, 3, 5), (0, 1, 7), (1, 7, 30), (False, True)):
        assert_kind(checkin_reply(result(mood=mood, current=current, longest=max(current, longest), updated=updated)))
    for already, current in itertools.product((False, True), (0, 1, 4)):
        assert_kind(pledge_reply(PledgeResult(TODAY, already, Streaks(current, 9))))
    for prompt in load_prompts():
        assert_kind(prompt)


def test_pledge_replies() -> None:
    made = pledge_reply(PledgeResult(TODAY, False, Streaks(3, 3)))
    assert "pledge is made" in made and "**3 days**" in made
    again = pledge_reply(PledgeResult(TODAY, True, Streaks(1, 4)))
    assert "already made" in again and "longest is **4 days**" in again


def test_stats_reply_with_and_without_data() -> None:
    stats = MyStats(days=30, start=date(2026, 10, 23), end=TODAY, timezone="Europe/London", checkins=Streaks(3, 8),
                    pledges=Streaks(0, 2), checked_in_days=12, total_checkins=40, mood_average=3.456,
                    craving_average=None, chart_png=b"png")
    text = stats_reply(stats)
    assert "**12** of 30 days" in text and "longest **8 days**" in text and "**3.5/5**" in text
    assert "average craving —" in text
    empty = stats_reply(MyStats(30, date(2026, 10, 23), TODAY, "UTC", Streaks(0, 0), Streaks(0, 0), 0, 0, None, None, None))
    assert "chart will show up" in empty
    assert_kind(text + empty)


def reminder(at: time, quiet: tuple[time, time] | None = None, sends: time | None = None,
             closed: date | None = None) -> ReminderStatus:
    start, end = quiet if quiet else (None, None)
    return ReminderStatus(remind_time=at, timezone="Europe/London", sends_at=sends, quiet_start=start,
                          quiet_end=end, dm_closed_date=closed)


def test_reminder_replies_explain_quiet_hours() -> None:
    plain = reminder_set_reply(reminder(time(20), sends=time(20)))
    assert "**20:00** (Europe/London)" in plain and "quiet" not in plain
    deferred = reminder_set_reply(reminder(time(6), (time(22), time(7)), sends=time(7)))
    assert "**07:00**" in deferred and "22:00–07:00" in deferred
    skipped = reminder_set_reply(reminder(time(23), (time(22), time(7)), sends=None))
    assert "not send it" in skipped


def test_settings_show_lines() -> None:
    assert settings_lines(None) == ["• Check-in reminder: off (`/reminder set`)"]
    lines = settings_lines(reminder(time(20), sends=time(20), closed=date(2026, 11, 20)))
    assert lines[0] == "• Check-in reminder: **20:00** (Europe/London)"
    assert "2026-11-20" in lines[1] and "DMs are closed" in lines[1]
    assert_kind("\n".join(lines))
