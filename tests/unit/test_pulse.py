"""The pulse's small-group rules: what may be shown so that no one can be picked out (k = 5).

The property test plays an attacker: it gets everything a moderator is shown and every relation
between the numbers that the moderator could use (a figure's weeks add up to its total; a week's
mood bands add up to that week's count; two weeks can be subtracted only where both are shown),
and tries to work out a hidden number. For random weekly data it must never manage to, and every
number it can see or derive by adding and subtracting must be about no one or at least 5 members.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.domain.pulse import (
    K_MIN,
    FigureKind,
    PulseCell,
    PulseFigure,
    PulseSpread,
    ShownGroup,
    ShownPulse,
    complete_weeks,
    count_active,
    count_events,
    count_members,
    merge_bands,
    protect,
)

K = K_MIN
SATURDAY = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
BANDS = ("low", "middle", "good")


def members(*ids: int) -> frozenset[int]:
    return frozenset(ids)


def people(n: int, start: int = 0) -> frozenset[int]:
    return frozenset(range(start, start + n))


# -- examples -------------------------------------------------------------------------------------

def test_whole_weeks_only_monday_to_sunday_in_the_servers_zone() -> None:
    weeks = complete_weeks(SATURDAY, "Europe/London", 4)
    assert [w.start for w in weeks.weeks] == [date(2026, 10, 19), date(2026, 10, 26), date(2026, 11, 2),
                                              date(2026, 11, 9)]
    assert weeks.end_day == date(2026, 11, 16)  # the week in progress (from Monday 16th) is left out
    # The clocks went back on 25 October: that week is 169 hours long, midnight to midnight.
    assert (weeks.weeks[0].end_at - weeks.weeks[0].start_at).total_seconds() == 169 * 3600
    assert weeks.index_of_instant(datetime(2026, 11, 15, 23, 59, tzinfo=UTC)) == 3
    assert weeks.index_of_instant(datetime(2026, 11, 16, 0, 0, tzinfo=UTC)) is None


def test_a_week_about_fewer_than_five_members_is_hidden_and_a_week_about_no_one_is_zero() -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 4)
    figure = count_members("in", "Checked in", weeks,
                           [(0, m) for m in range(4)] + [(1, m) for m in range(5)] + [(3, 1)])
    [shown] = protect(weeks, [figure]).figures
    assert shown.cells == (None, 5, 0, None)
    assert shown.total is None  # members per week do not add up over weeks: no total at all


def test_an_events_total_that_would_give_a_hidden_week_away_is_withheld() -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 4)

    def events(*cells: PulseCell) -> int | None:
        figure = PulseFigure("urges", "Urges", FigureKind.EVENTS, cells)
        return protect(weeks, [figure]).figures[0].total

    zero = PulseCell(0, members())
    busy = PulseCell(12, people(6))
    assert events(busy, busy, busy, zero) == 36
    # One hidden week: total minus the shown weeks is that week.
    assert events(busy, busy, PulseCell(3, people(2)), zero) is None
    # Two hidden weeks about 4 members in all: their sum is about fewer than 5.
    assert events(busy, PulseCell(3, people(2)), PulseCell(5, people(2, 2)), zero) is None
    # Two hidden weeks about 5 members in all, 9 urges: neither can be worked out.
    assert events(busy, PulseCell(4, people(3)), PulseCell(5, people(2, 3)), zero) == 21
    # Hidden weeks of one urge each: a rest equal to their number says each was exactly 1.
    ones = [PulseCell(1, members(m)) for m in range(4)]
    assert events(*ones) is None


def test_small_bands_are_merged_with_a_neighbour_until_every_group_is_safe() -> None:
    assert merge_bands([people(6), people(5, 6), people(7, 11)]) == (
        ShownGroup(0, 0, 6), ShownGroup(1, 1, 5), ShownGroup(2, 2, 7))
    # 2 low: merged with middle (the smaller neighbour is the only one).
    assert merge_bands([people(2), people(4, 2), people(9, 6)]) == (ShownGroup(0, 1, 6), ShownGroup(2, 2, 9))
    # An empty band stays 0 and is not used to "hide" a small one.
    assert merge_bands([members(), people(3), people(8, 3), people(5, 11)]) == (
        ShownGroup(0, 0, 0), ShownGroup(1, 2, 11), ShownGroup(3, 3, 5))
    # Everyone in one band (or one merged group): not split, as that would tell each member's band.
    assert merge_bands([members(), people(7), members()]) == (ShownGroup(0, 2, 7),)
    assert merge_bands([members(), people(3), people(8, 3)]) == (ShownGroup(0, 2, 11),)
    # Nothing safe to merge into: one group, the whole week.
    assert merge_bands([people(1), people(2, 1), people(2, 3)]) == (ShownGroup(0, 2, 5),)


def test_a_spread_is_hidden_with_its_week_and_never_shown_if_it_does_not_add_up() -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 4)
    week = [people(7), people(3), people(2, 3), people(9)]
    figure = count_members("in", "In", weeks, [(w, m) for w, ms in enumerate(week) for m in ms])
    bands = ((people(3), people(4, 3), members()), (people(3), members(), members()),
             (people(1, 3), people(1, 4), members()), (people(4), people(5, 4), members()))
    spread = PulseSpread("mood", "Mood", "in", BANDS, bands)
    shown = protect(weeks, [figure], [spread]).spreads[0]
    assert shown.weeks[1] is None  # the week itself is hidden
    assert shown.weeks[2] is None  # bands about members the week does not count: not trusted
    assert shown.weeks[0] == (ShownGroup(0, 2, 7),)  # all seven in one merged group: not split


def test_active_things_count_in_every_week_they_were_in_effect() -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 4)
    w = weeks.weeks
    pairs = [(w[0].start_at, w[1].start_at, (1, 2)),   # ended as week 1 began: week 0 only
             (w[1].end_at, None, (3, 4)),               # began as week 2 began: weeks 2 and 3
             (w[0].start_at, None, (5, 6))]
    figure = count_active("pairs", "Pairs", weeks, pairs)
    assert [c.value for c in figure.cells] == [2, 1, 2, 2]
    assert [sorted(c.members) for c in figure.cells] == [[1, 2, 5, 6], [5, 6], [3, 4, 5, 6], [3, 4, 5, 6]]


# -- the property ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class World:
    """Raw weekly data of a small community, as the features would read it."""

    weeks: int
    checkins: list[dict[int, int]]          # per week: member -> mood band
    urges: list[tuple[int, int]]            # (week, member), one per urge
    pairs: list[tuple[int, int | None, int, int]]  # (first week, last week or None, member a, member b)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    weeks = draw(st.integers(4, 10))
    size = draw(st.integers(0, 14))  # small communities: where suppression matters
    ids = list(range(1, size + 1))
    checkins = []
    for _ in range(weeks):
        present = draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
        checkins.append({m: draw(st.integers(0, 2)) for m in present})
    urges: list[tuple[int, int]] = []
    for week in range(weeks) if ids else ():
        # Each week's urges take a shape: none, one urge by one member, a few by a few members, or
        # many. Small weeks are where a total could give something away, so they come often.
        shape = draw(st.sampled_from(["none", "one", "one", "one", "few", "many"]))
        count = {"none": 0, "one": 1}.get(shape) or draw(st.integers(2, 6) if shape == "few" else st.integers(5, 15))
        who = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=4 if shape == "few" else len(ids)))
        urges += [(week, who[n % len(who)]) for n in range(count)]
    pairs = []
    if len(ids) >= 2:
        for _ in range(draw(st.integers(0, 6))):
            a, b = draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True))
            first = draw(st.integers(0, weeks - 1))
            last = draw(st.one_of(st.none(), st.integers(first, weeks - 1)))
            pairs.append((first, last, a, b))
    return World(weeks, checkins, urges, pairs)


def shown_for(world: World) -> ShownPulse:
    """What the pulse shows for the world, built the way the providers build it."""
    weeks = complete_weeks(SATURDAY, "UTC", world.weeks)
    checked = count_members("in", "In", weeks, [(w, m) for w, week in enumerate(world.checkins) for m in week])
    spread = PulseSpread("mood", "Mood", "in", BANDS, tuple(
        tuple(frozenset(m for m, band in week.items() if band == b) for b in range(len(BANDS)))
        for week in world.checkins))
    urges = count_events("urges", "Urges", weeks, world.urges)
    w = weeks.weeks
    pairs = count_active("pairs", "Pairs", weeks, [
        (w[first].start_at, None if last is None else w[last].end_at, (a, b)) for first, last, a, b in world.pairs])
    return protect(weeks, [checked, urges, pairs], [spread])


def truth(world: World) -> dict[str, list[tuple[int, frozenset[int]]]]:
    """Each figure's true (value, members) per week, worked out from the raw data independently."""
    pairs_by_week = []
    for i in range(world.weeks):
        active = [(a, b) for first, last, a, b in world.pairs if first <= i and (last is None or i <= last)]
        pairs_by_week.append((len(active), frozenset(x for pair in active for x in pair)))
    return {
        "in": [(len(week), frozenset(week)) for week in world.checkins],
        "urges": [(sum(1 for w, _ in world.urges if w == i), frozenset(m for w, m in world.urges if w == i))
                  for i in range(world.weeks)],
        "pairs": pairs_by_week,
    }


def about_no_one_or_enough(who: frozenset[int]) -> bool:
    return len(who) == 0 or len(who) >= K


def pinned_by_total(hidden_values: list[int], rest: int) -> list[bool]:
    """What an attacker learns from "these hidden weeks add up to `rest`", each at least 1: which are pinned."""
    floor = len(hidden_values)
    # One hidden week is the rest itself; otherwise a week is pinned only if every week must be exactly 1.
    return [floor == 1 or rest == floor for _ in hidden_values]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
# Five small weeks of one urge each, by five members: together about 5, but "the rest is 5" says each was 1.
@example(World(6, [{}] * 6, [(w, w + 1) for w in range(5)], []))
def test_no_shown_or_derivable_number_is_about_one_to_four_members(world: World) -> None:
    shown = shown_for(world)
    real = truth(world)
    for figure in shown.figures:
        cells = real[figure.key]
        for i, value in enumerate(figure.cells):
            true_value, who = cells[i]
            if value is None:
                # Hidden only because it is about 1-4 members: nothing more is withheld than needed.
                assert 1 <= len(who) < K, (figure.key, i)
            else:
                assert value == true_value and about_no_one_or_enough(who), (figure.key, i)
        # Differences between weeks: only between two shown weeks, so never with a hidden one.
        for i in range(len(figure.cells) - 1):
            pair = (figure.cells[i], figure.cells[i + 1])
            if None in pair:
                continue
            assert pair[1] - pair[0] == cells[i + 1][0] - cells[i][0]
        # A total, where shown: subtracting the shown weeks gives the hidden ones' sum, which must be
        # about at least K members together and must pin none of them down.
        hidden = [i for i, v in enumerate(figure.cells) if v is None]
        if figure.kind is FigureKind.EVENTS and figure.total is not None:
            assert figure.total == sum(v for v, _ in cells)
            rest = figure.total - sum(v for v in figure.cells if v is not None)
            union: frozenset[int] = frozenset().union(*(cells[i][1] for i in hidden))
            assert about_no_one_or_enough(union)
            assert not any(pinned_by_total([cells[i][0] for i in hidden], rest)) or not hidden
        elif figure.kind is not FigureKind.EVENTS:
            assert figure.total is None

    checked_in = shown.figure("in")
    assert checked_in is not None
    [mood] = shown.spreads
    for i, groups in enumerate(mood.weeks):
        week = world.checkins[i]
        if checked_in.cells[i] is None:
            assert groups is None, "a hidden week's spread would give its count away"
            continue
        assert groups is not None
        # The groups cover every band once, in order, and add up to the shown count: nothing is left
        # hidden inside the week for subtraction to find.
        assert [g.first for g in groups] == [0] + [g.last + 1 for g in groups[:-1]]
        assert groups[-1].last == len(BANDS) - 1
        assert sum(g.value for g in groups) == checked_in.cells[i]
        for g in groups:
            who = frozenset(m for m, band in week.items() if g.first <= band <= g.last)
            assert g.value == len(who) and about_no_one_or_enough(who)
        # No group may hold everyone while others show 0: that would tell anyone's band.
        assert len(groups) == 1 or sum(1 for g in groups if g.value) >= 2


@pytest.mark.parametrize("k", [2, 5, 10])
def test_the_threshold_is_a_parameter(k: int) -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 4)
    figure = count_members("in", "In", weeks, [(w, m) for w in range(4) for m in range(w + 3)])
    assert protect(weeks, [figure], k=k).figures[0].cells == tuple(
        n if n >= k else None for n in (3, 4, 5, 6))
