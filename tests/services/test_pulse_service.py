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
# Saturday 21 November 2026. Whole weeks before it start on Mondays 2, 9 and 26 October...
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


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
    assert [w.start for w in pulse.weeks.weeks] == [date(2026, 10, 19), date(2026, 10, 26), week_1, week_2]
    checked = pulse.figure("checkins")
    assert checked is not None and checked.cells == (0, 0, None, 10)  # this week is not shown at all
    urges, pairs = pulse.figure("urges"), pulse.figure("buddy_pairs")
    assert urges is not None and urges.kind is FigureKind.EVENTS and urges.cells == (0, 0, 0, 5)
    assert urges.total == 5
    assert pairs is not None and pairs.cells == (0, 0, 0, 3)
    mood, craving = pulse.spreads
    assert mood.weeks[2] is None  # its week is hidden
    assert mood.weeks[3] == (ShownGroup(0, 1, 5), ShownGroup(2, 2, 5))
    assert craving.weeks[3] == (ShownGroup(0, 3, 10),)  # one strong craving: too few to split at all
    assert report.chart_png is None


async def test_a_feature_plugs_its_figures_in_through_a_provider(services: Services, clock: FakeClock) -> None:
    class Gatherings:
        async def pulse_figures(self, guild_id: int, weeks: PulseWeeks) -> Sequence[PulseFigure | PulseSpread]:
            assert guild_id == G and len(weeks) == 5 + 25  # the weeks shown, and those they are compared with
            cells = [PulseCell(0, frozenset())] * (len(weeks) - 1) + [PulseCell(9, frozenset(range(6)))]
            return (PulseFigure("gatherings", "Gatherings", FigureKind.EVENTS, tuple(cells)),
                    PulseFigure("circles", "Circles", FigureKind.ACTIVE,
                                tuple([PulseCell(2, frozenset({1, 2, 3, 4}))] * len(weeks))))

    services.pulse.register(Gatherings())
    clock.set(NOW)
    report = await services.pulse.pulse(G, 5)
    keys = [f.key for f in report.pulse.figures]
    assert keys == ["checkins", "urges", "buddy_pairs", "mentorships", "meeting_reminders", "gatherings", "circles"]
    gatherings, circles = report.pulse.figures[5:]
    assert gatherings.cells[-1] == 9 and gatherings.total == 9
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
    # Ended mentorships are deleted after 30 days: the week of 19 October is no longer known whole.
    assert mentorships.cells == (None, 0, 0, 3) and mentorships.hidden[0] is Hidden.NOT_KEPT
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
    # Ten reminders reached five members; sent messages are kept 30 days, so 19 October is not known.
    assert reminded.cells == (None, 0, 0, 5) and reminded.hidden[0] is Hidden.NOT_KEPT
