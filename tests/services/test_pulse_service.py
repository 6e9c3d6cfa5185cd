"""PulseService on a real database: what each built-in provider counts, and providers plugged in by features."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.domain.clock import FakeClock
from bot.domain.pulse import (
    FigureKind,
    Hidden,
    PulseCell,
    PulseFigure,
    PulseSpread,
    PulseWeeks,
    ShownGroup,
)
from bot.errors import InvalidInputError
from bot.services.container import Services
from tests.support import RecordingNotifier

G = 100000000000000001
MEMBERS = [200000000000000000 + n for n in range(1, 11)]
# Saturday 28 November 2026. Whole weeks before it start on Mondays 16, 9 and 2 November...; the
# week of 16 November is not final yet (check-ins may still be added to it).
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def on(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def test_weekly_counts_moods_cravings_urges_and_pairs_with_small_groups_protected(
        services: Services, clock: FakeClock) -> None:
    await services.guild_config.set_checkins(G, channel_id=1, time="09:00", timezone="UTC")
    week_1, week_2, this_week = date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)
    # Week of 2 Nov: three members check in (hidden). Week of 9 Nov: all ten; this week too.
    for n, user in enumerate(MEMBERS[:3]):
        clock.set(on(week_1 + timedelta(days=n)))
        await services.checkins.check_in(G, user, mood=2)
    for n, user in enumerate(MEMBERS):
        clock.set(on(week_2 + timedelta(days=n % 7)))
        # Five good weeks, three middle, two low (merged with middle: too few), one strong craving.
        await services.checkins.check_in(G, user, mood=5 if n < 5 else 3 if n < 8 else 1,
                                         craving=9 if n == 0 else None)
        if n < 5:
            await services.coping.start_urge(G, user, minutes=5)
    clock.set(on(this_week))
    for user in MEMBERS:
        await services.checkins.check_in(G, user, mood=3)
    # Buddy pairs: three pairs from the week of 9 Nov (six members), one of them ended in it.
    clock.set(on(week_2))
    for a, b in zip(MEMBERS[:6:2], MEMBERS[1:6:2], strict=True):
        await services.buddies.request(G, a, b)
        await services.buddies.accept(G, b, a)
    clock.set(on(week_2 + timedelta(days=2)))
    await services.buddies.end(G, MEMBERS[0], MEMBERS[1])

    clock.set(NOW)
    report = await services.pulse.pulse(G, 4, chart=False)
    pulse = report.pulse
    assert [w.start for w in pulse.weeks.weeks] == [date(2026, 10, 26), week_1, week_2, this_week]
    checked = pulse.figure("checkins")
    assert checked is not None and checked.cells == (0, None, 10, None)  # the last week is not final yet
    assert checked.hidden == (None, Hidden.FEW, None, Hidden.NOT_FINAL)
    urges, pairs = pulse.figure("urges"), pulse.figure("buddy_pairs")
    assert urges is not None and urges.kind is FigureKind.EVENTS and urges.cells == (0, 0, 5, None)
    assert urges.total == 5  # of the final weeks: the one not final yet is left out, not hidden in it
    assert pairs is not None and pairs.cells == (0, 0, 3, None)
    mood, craving = pulse.spreads
    assert mood.weeks[1] is None and mood.weeks[3] is None  # their weeks are hidden
    assert mood.weeks[2] == (ShownGroup(0, 1, 5), ShownGroup(2, 2, 5))
    assert craving.weeks[2] == (ShownGroup(0, 3, 10),)  # one strong craving: too few to split at all
    assert report.chart_png is None


async def test_a_feature_plugs_its_figures_in_through_a_provider(services: Services, clock: FakeClock) -> None:
    class Gatherings:
        async def pulse_figures(self, guild_id: int, weeks: PulseWeeks) -> Sequence[PulseFigure | PulseSpread]:
            assert guild_id == G and len(weeks) == 5 + 25  # the weeks shown, and those they are compared with
            cells = [PulseCell(0, frozenset())] * (len(weeks) - 2) + [PulseCell(9, frozenset(range(6))),
                                                                     PulseCell(0, frozenset())]
            return (PulseFigure("gatherings", "Gatherings", FigureKind.EVENTS, tuple(cells)),
                    PulseFigure("circles", "Circles", FigureKind.ACTIVE,
                                tuple([PulseCell(2, frozenset({1, 2, 3, 4}))] * len(weeks))))

    services.pulse.register(Gatherings())
    clock.set(NOW)
    report = await services.pulse.pulse(G, 5)
    keys = [f.key for f in report.pulse.figures]
    assert keys == ["checkins", "urges", "buddy_pairs", "mentorships", "meeting_reminders", "gatherings", "circles"]
    gatherings, circles = report.pulse.figures[5:]
    assert gatherings.cells[-2:] == (9, None) and gatherings.total == 9
    assert circles.cells == (None,) * 5 and circles.total is None
    assert report.chart_png is not None and report.chart_png.startswith(b"\x89PNG")


@pytest.mark.parametrize("weeks", [3, 27, 0, True])
async def test_weeks_out_of_range_are_refused(services: Services, weeks: int) -> None:
    with pytest.raises(InvalidInputError, match="4 to 26 weeks"):
        await services.pulse.pulse(G, weeks)


async def test_active_mentorships_per_week_count_each_mentorship_in_every_week_it_was_in_effect(
        services: Services, clock: FakeClock) -> None:
    await services.guild_config.set_checkins(G, channel_id=1, time="09:00", timezone="UTC")
    week_2 = date(2026, 11, 9)
    # Three mentorships begin on 9 November (six members); one ends two days later: still three that week.
    clock.set(on(week_2))
    for mentor, mentee in zip(MEMBERS[:6:2], MEMBERS[1:6:2], strict=True):
        await services.mentors.offer(G, mentor)
        outcome = await services.mentors.request(G, mentee, mentor, "hello")
        await services.mentors.answer_by_button(outcome.ref, mentor, accept=True)
    clock.set(on(week_2 + timedelta(days=2)))
    await services.mentors.end(G, MEMBERS[1], MEMBERS[0])

    clock.set(NOW)
    pulse = (await services.pulse.pulse(G, 4, chart=False)).pulse
    mentorships = pulse.figure("mentorships")
    assert mentorships is not None and mentorships.kind is FigureKind.ACTIVE
    # Ended mentorships are deleted after 30 days: the week of 26 October is no longer known whole.
    assert mentorships.cells == (None, 0, 3, None) and mentorships.hidden[0] is Hidden.NOT_KEPT
    assert mentorships.total is None


async def test_members_sent_a_meeting_reminder_per_week_count_once_however_many_reminders(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await services.guild_config.set_checkins(G, channel_id=1, time="09:00", timezone="UTC")
    clock.set(on(date(2026, 11, 9)))
    for name, weekday in (("Tuesday group", "tuesday"), ("Thursday group", "thursday")):
        await services.meetings.add(G, name=name, weekday=weekday, time_text="19:00", timezone="UTC",
                                    duration=60, channel_id=4400, channel_type="voice")
    # Six members ask for both meetings' reminders; one has DMs closed and receives none.
    for user in MEMBERS[:6]:
        for name in ("Tuesday group", "Thursday group"):
            await services.meetings.remind(G, user, name, 30)
    notifier.dm_closed.add(MEMBERS[5])
    for day in (date(2026, 11, 10), date(2026, 11, 12)):
        clock.set(datetime(day.year, day.month, day.day, 18, 30, tzinfo=UTC))
        await services.scheduler.run_all_once()

    clock.set(NOW)
    pulse = (await services.pulse.pulse(G, 4, chart=False)).pulse
    reminded = pulse.figure("meeting_reminders")
    assert reminded is not None and reminded.kind is FigureKind.MEMBERS
    # Ten reminders reached five members; sent messages are kept 30 days, so 26 October is not known.
    assert reminded.cells == (None, 0, 5, None) and reminded.hidden[0] is Hidden.NOT_KEPT


# -- review 18: a week once shown never changes ------------------------------------------------------

PULSE_WEEK = date(2026, 11, 9)  # Monday: complete from 16 November, final from 25 November
FINAL_AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
MANY = [300000000000000000 + n for n in range(1, 20)]


async def _check_ins(services: Services, clock: FakeClock, users: Sequence[int], mood: int) -> None:
    for n, user in enumerate(users):
        clock.set(on(PULSE_WEEK + timedelta(days=n % 7)))
        await services.checkins.check_in(G, user, mood=mood)


async def _week(services: Services) -> tuple[int | None, Hidden | None, tuple[ShownGroup, ...] | None]:
    pulse = (await services.pulse.pulse(G, 4, chart=False)).pulse
    index = [w.start for w in pulse.weeks.weeks].index(PULSE_WEEK)
    checked = pulse.figure("checkins")
    assert checked is not None
    return checked.cells[index], checked.hidden[index], pulse.spreads[0].weeks[index]


async def _sixteen(services: Services, clock: FakeClock) -> int:
    await services.guild_config.set_checkins(G, channel_id=1, time="09:00", timezone="UTC")
    target = MANY[0]
    await _check_ins(services, clock, [target], 1)
    await _check_ins(services, clock, MANY[1:6], 1)
    await _check_ins(services, clock, MANY[6:11], 3)
    await _check_ins(services, clock, MANY[11:16], 5)
    return target


async def test_a_member_deleting_their_data_between_two_pulses_changes_no_week_already_shown(
        services: Services, clock: FakeClock) -> None:
    target = await _sixteen(services, clock)
    clock.set(FINAL_AT)
    before = await _week(services)
    assert before == (16, None, (ShownGroup(0, 0, 6), ShownGroup(1, 1, 5), ShownGroup(2, 2, 5)))
    await services.privacy.forget(G, target)
    assert await _week(services) == before  # not 15 with one fewer low mood: that would be them
    clock.advance(timedelta(weeks=2))
    assert await _week(services) == before


async def test_a_late_or_corrected_check_in_never_changes_a_week_shown(services: Services, clock: FakeClock) -> None:
    target = await _sixteen(services, clock)
    # On Tuesday the week is complete but check-ins may still be added to it: it is not shown yet.
    clock.set(datetime(2026, 11, 17, 10, 0, tzinfo=UTC))
    assert await _week(services) == (None, Hidden.NOT_FINAL, None)
    await services.checkins.check_in(G, MANY[16], mood=1, day="2026-11-15")  # catching up on Sunday
    await services.checkins.check_in(G, target, mood=5, day="2026-11-15")   # correcting Sunday
    assert await _week(services) == (None, Hidden.NOT_FINAL, None)
    clock.set(FINAL_AT)
    # Once final it is shown (late check-ins included), and nothing can be added to it any more.
    shown = await _week(services)
    assert shown[0] == 17
    with pytest.raises(InvalidInputError):
        await services.checkins.check_in(G, MANY[17], mood=1, day="2026-11-15")
    assert await _week(services) == shown


async def test_what_a_pulse_shows_is_kept_per_server_as_counts_only(services: Services, clock: FakeClock) -> None:
    await _sixteen(services, clock)
    clock.set(FINAL_AT)
    await _week(services)
    rows = await services.db.fetch_all("SELECT * FROM pulse_shown WHERE guild_id = ?", (G,))
    assert rows and all(set(r.keys()) == {"guild_id", "week_start", "figure", "value", "hidden", "groups_shown"}
                        for r in rows)
    assert {r["value"] for r in rows if r["figure"] == "checkins"} >= {16}
