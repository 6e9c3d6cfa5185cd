"""The pulse's small-group rules: what may be shown so that no one can be picked out (k = 5).

The property test plays an attacker: it gets everything a moderator is shown and every relation
between the numbers that the moderator could use (a figure's weeks add up to its total; a week's
mood bands add up to that week's count; two weeks can be subtracted only where both are shown),
and tries to work out a hidden number. For random weekly data it must never manage to, and every
number it can see or derive by adding and subtracting must be about no one or at least 5 members.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.domain.pulse import (
    K_MIN,
    WEEKS_MIN,
    FigureKind,
    Hidden,
    PulseCell,
    PulseFigure,
    PulseSpread,
    ShownFigure,
    ShownGroup,
    ShownPulse,
    complete_weeks,
    count_active,
    count_events,
    count_members,
    difference_about,
    merge_bands,
    protect,
    to_freeze,
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


def test_an_events_total_is_shown_only_when_no_week_is_hidden() -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 5)

    def events(*cells: PulseCell, show: int = 5) -> int | None:
        figure = PulseFigure("urges", "Urges", FigureKind.EVENTS, cells)
        return protect(weeks, [figure], show=show).figures[0].total

    zero = PulseCell(0, members())
    busy = PulseCell(12, people(6))
    assert events(zero, busy, busy, busy, zero) == 36
    # One hidden week: total minus the shown weeks is that week.
    assert events(zero, busy, busy, PulseCell(3, people(2)), zero) is None
    # Two hidden weeks about 5 members in all, 9 urges: neither follows from this total alone, but
    # one more week asked for (or a week later) adds a week, and the two totals' difference is that
    # week: a total is never shown over a hidden week.
    two_hidden = (busy, PulseCell(4, people(3)), PulseCell(5, people(2, 3)), zero)
    assert events(PulseCell(1, members(9)), *two_hidden) is None
    assert events(PulseCell(1, members(9)), *two_hidden, show=4) is None
    assert events(PulseCell(1, members(9)), busy, busy, busy, zero, show=4) == 36


def test_two_weeks_whose_difference_is_about_fewer_than_five_members_are_both_hidden() -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 5)
    # The same six members two weeks running, a seventh joining them the week after: "6, then 7"
    # is about the newcomer. A week of other members, and an empty week, differ from both by more.
    rows = [(0, m) for m in range(6)] + [(1, m) for m in range(7)] + [(2, m) for m in range(20, 30)]
    rows += [(3, m) for m in range(40, 50)]
    figure = count_members("in", "In", weeks, rows)
    [shown] = protect(weeks, [figure]).figures
    assert shown.cells == (None, None, 10, 10, 0)
    assert shown.hidden == (Hidden.CHANGE, Hidden.CHANGE, None, None, None)
    # Weeks 2 and 3 both count 10, but different members: their difference (0) is about the 20
    # members only one of them counts, and each of the others differs from them by at least 5.
    assert difference_about(FigureKind.MEMBERS, figure.cells[2], figure.cells[3]) == frozenset(
        [*range(20, 30), *range(40, 50)])


def test_a_buddy_pair_that_ends_or_is_replaced_between_two_weeks_is_about_its_members() -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 4)
    w = weeks.weeks
    lasting = [(w[0].start_at, None, (2 * n, 2 * n + 1)) for n in range(10, 15)]  # five pairs all along

    def pairs(*changing: tuple[datetime, datetime | None, tuple[int, int]]) -> ShownFigure:
        return protect(weeks, [count_active("pairs", "Pairs", weeks, [*lasting, *changing])]).figures[0]

    # One pair ends after week 1: "6 pairs, then 5" is about its two members.
    ended = pairs((w[0].start_at, w[2].start_at, (1, 2)))
    assert ended.cells == (None,) * 4 and ended.hidden == (Hidden.CHANGE,) * 4
    # Two pairs are replaced by two others between the same four members: the counts and who is in
    # a pair stay the same, yet the difference (0) is about those four.
    swapped = pairs((w[0].start_at, w[2].start_at, (1, 2)), (w[0].start_at, w[2].start_at, (3, 4)),
                    (w[2].start_at, None, (1, 3)), (w[2].start_at, None, (2, 4)))
    assert swapped.cells == (None,) * 4
    # Five pairs more from week 2 on, ten members: enough to be told.
    grown = pairs(*[(w[2].start_at, None, (50 + 2 * n, 51 + 2 * n)) for n in range(5)])
    assert grown.cells == (5, 5, 10, 10)


def test_weeks_older_than_a_feature_keeps_are_not_kept_and_hide_no_other_week() -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 4)
    # Ended mentorships are deleted after a while: week 0 now holds only the six members still
    # in one, which against week 1's seven would hide both ("6, then 7") were it compared.
    rows = [(0, m) for m in range(6)] + [(1, m) for m in range(7)] + [(2, m) for m in range(7)]
    figure = replace(count_members("in", "In", weeks, rows), kept_from=weeks.weeks[1].start_at)
    [shown] = protect(weeks, [figure]).figures
    assert shown.cells == (None, 7, 7, 0)
    assert shown.hidden == (Hidden.NOT_KEPT, None, None, None)
    events = PulseFigure("urges", "Urges", FigureKind.EVENTS, (PulseCell(9, people(6)),) * 4,
                         kept_from=weeks.weeks[1].start_at)
    assert protect(weeks, [events]).figures[0].total is None  # a total would include the week not known


def test_every_period_shows_a_week_the_same_way() -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 30)
    # Week 0 and week 10 differ by one member; week 26 and week 29 by two. Every other week has
    # members of its own.
    rows = [(w, 1000 * w + m) for w in range(30) for m in range(6)]
    rows = [r for r in rows if r[0] not in (10, 29)]
    rows += [(10, m) for m in range(7)] + [(29, 26_000 + m) for m in range(4)] + [(29, 1), (29, 2)]
    figure = count_members("in", "In", weeks, rows)

    def shown(show: int, compare: int = 26) -> tuple[int | None, ...]:
        return protect(weeks, [figure], show=show, compare=compare).figures[0].cells

    every = shown(30)
    assert every[0] is None and every[10] is None and every[26] is None and every[29] is None
    assert every.count(None) == 4
    for period in range(4, 30):
        assert shown(period) == every[-period:]
    # Weeks 26 or more apart are never in one pulse, so they are not compared.
    assert shown(30, compare=10)[0] == 6 and shown(30, compare=10)[10] == 7
    assert shown(30, compare=11)[0] is None
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
    week = [people(7), people(3), people(2, 3), people(9, 20)]
    figure = count_members("in", "In", weeks, [(w, m) for w, ms in enumerate(week) for m in ms])
    bands = ((people(3), people(4, 3), members()), (people(3), members(), members()),
             (people(1, 3), people(1, 4), members()), (people(4, 20), people(5, 24), members()))
    spread = PulseSpread("mood", "Mood", "in", BANDS, bands)
    shown = protect(weeks, [figure], [spread]).spreads[0]
    assert shown.weeks[1] is None  # the week itself is hidden
    assert shown.weeks[2] is None  # bands about members the week does not count: not trusted
    assert shown.weeks[0] == (ShownGroup(0, 2, 7),)  # all seven in one merged group: not split


def test_two_spreads_in_which_some_bands_differ_by_fewer_than_five_members_are_not_split() -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 4)
    # The same fifteen members in weeks 1 and 2; one moves from the middle band to the good one.
    # Week 3: ten others, five in each band but the middle.
    before = (people(5), people(5, 5), people(5, 10))
    after = (people(5), people(4, 5), people(6, 9))
    other = (people(5, 100), members(), people(5, 105))
    figure = count_members("in", "In", weeks, [(w, m) for w, bands in enumerate((before, after, other), 1)
                                               for band in bands for m in band])
    spread = PulseSpread("mood", "Mood", "in", BANDS, ((members(), members(), members()), before, after, other))
    shown = protect(weeks, [figure], [spread])
    assert shown.figures[0].cells == (0, 15, 15, 10)  # the same fifteen: the counts differ by no one
    # "good 5, then good 6" (with middle merged into low after) would tell how that member felt.
    assert shown.spreads[0].weeks == ((ShownGroup(0, 2, 0),), (ShownGroup(0, 2, 15),), (ShownGroup(0, 2, 15),),
                                      (ShownGroup(0, 0, 5), ShownGroup(1, 1, 0), ShownGroup(2, 2, 5)))


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
    checkins: list[dict[int, int]] = []
    for _ in range(weeks):
        if checkins and ids and draw(st.booleans()):
            # Much like an earlier week, a few members more, fewer or in another band: where a
            # difference between two weeks could single someone out.
            week = dict(draw(st.sampled_from(checkins)))
            for member in draw(st.lists(st.sampled_from(ids), max_size=3, unique=True)):
                if member in week and draw(st.booleans()):
                    del week[member]
                else:
                    week[member] = draw(st.integers(0, 2))
        else:
            present = draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
            week = {m: draw(st.integers(0, 2)) for m in present}
        checkins.append(week)
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
        for _ in range(draw(st.integers(0, 8))):
            a, b = draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True))
            first = draw(st.integers(0, weeks - 1))
            last = draw(st.one_of(st.none(), st.integers(first, weeks - 1)))
            pairs.append((first, last, a, b))
    return World(weeks, checkins, urges, pairs)


def shown_for(world: World, window: int) -> ShownPulse:
    """What `/config pulse weeks:<window>` shows for the world, built the way the providers build it."""
    weeks = complete_weeks(SATURDAY, "UTC", world.weeks)
    checked = count_members("in", "In", weeks, [(w, m) for w, week in enumerate(world.checkins) for m in week])
    spread = PulseSpread("mood", "Mood", "in", BANDS, tuple(
        tuple(frozenset(m for m, band in week.items() if band == b) for b in range(len(BANDS)))
        for week in world.checkins))
    urges = count_events("urges", "Urges", weeks, world.urges)
    w = weeks.weeks
    pairs = count_active("pairs", "Pairs", weeks, [
        (w[first].start_at, None if last is None else w[last].end_at, (a, b)) for first, last, a, b in world.pairs])
    # As the service does: every week there is data for, of which the last `window` are shown.
    return protect(weeks, [checked, urges, pairs], [spread], show=window)


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


def changed_between(world: World, key: str, i: int, j: int) -> frozenset[int]:
    """The members whose part in a figure differs between weeks i and j: who their difference is about.

    Members checking in both weeks add 1 to both, a pair active in both weeks 1 to both: subtracting
    cancels them, so the difference is exactly about the others. (Urges are different events each
    week: their difference is about everyone who surfed one in either week.)
    """
    if key == "in":
        return frozenset(world.checkins[i].keys() ^ world.checkins[j].keys())
    if key == "pairs":
        def active(week: int) -> set[int]:
            return {n for n, (first, last, _, _) in enumerate(world.pairs)
                    if first <= week and (last is None or week <= last)}
        return frozenset(x for n in active(i) ^ active(j) for x in world.pairs[n][2:])
    assert key == "urges"
    return frozenset(m for w, m in world.urges if w in (i, j))


def in_bands(world: World, week: int, bands: Iterable[int]) -> frozenset[int]:
    wanted = set(bands)
    return frozenset(m for m, band in world.checkins[week].items() if band in wanted)


def comparable(a: tuple[ShownGroup, ...], b: tuple[ShownGroup, ...]) -> list[frozenset[int]]:
    """Every set of bands whose count can be read (by adding groups) in both weeks' spreads."""
    cuts_a = {g.last for g in a}
    cuts_b = {g.last for g in b}
    blocks: list[range] = []
    first = 0
    for last in sorted(cuts_a & cuts_b):
        blocks.append(range(first, last + 1))
        first = last + 1
    return [frozenset(band for block in chosen for band in block)
            for n in range(1, len(blocks) + 1) for chosen in combinations(blocks, n)]


def about_no_one_or_enough(who: frozenset[int]) -> bool:
    return len(who) == 0 or len(who) >= K


def determined(unknowns: list[tuple[str, int]], equations: list[tuple[dict[tuple[str, int], int], int]],
               target: tuple[str, int]) -> bool:
    """Whether linear equations over the hidden cells (sum of cells = number) fix `target`'s value."""
    index = {u: n for n, u in enumerate(unknowns)}
    rows = [[Fraction(coefficients.get(u, 0)) for u in unknowns] for coefficients, _ in equations]
    goal = [Fraction(1 if u == target else 0) for u in unknowns]
    # `target` is fixed exactly when its unit vector is a combination of the equations' rows.
    def rank(matrix: list[list[Fraction]]) -> int:
        m = [row[:] for row in matrix]
        r = 0
        for col in range(len(unknowns)):
            pivot = next((i for i in range(r, len(m)) if m[i][col] != 0), None)
            if pivot is None:
                continue
            m[r], m[pivot] = m[pivot], m[r]
            for i in range(len(m)):
                if i != r and m[i][col] != 0:
                    factor = m[i][col] / m[r][col]
                    m[i] = [x - factor * y for x, y in zip(m[i], m[r], strict=True)]
            r += 1
        return r
    del index
    return bool(rows) and rank(rows) == rank([*rows, goal])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
# Five small weeks of one urge each, by five members: together about 5, but "the rest is 5" says each was 1.
@example(World(6, [{}] * 6, [(w, w + 1) for w in range(5)], []))
# The same six members check in two weeks running, a seventh joins them in the second: "6, then 7"
# would tell everyone that the newcomer checked in (and, with the moods, how they felt).
@example(World(4, [{}, {}, dict.fromkeys(range(1, 7), 2), {**dict.fromkeys(range(1, 7), 2), 7: 0}], [], []))
# The same fifteen members two weeks running, one of them moving from the middle band to the good
# one: "good 5, then good 6" would tell how that member felt.
@example(World(4, [{}, {}, {m: (m - 1) // 5 for m in range(1, 16)}, {m: 0 if m <= 5 else 1 if m <= 9 else 2
                                                                     for m in range(1, 16)}], [], []))
# One urge in the oldest week: the totals of 5 weeks (18) and of 4 weeks (17) would give it away.
@example(World(5, [{}] * 5, [(0, 1), (1, 2), (1, 3), *[(w, m) for w in (2, 3) for m in range(1, 7)],
                             (4, 4), (4, 5), (4, 6)], []))
def test_no_number_a_moderator_can_see_or_work_out_is_about_one_to_four_members(world: World) -> None:
    """Play the moderator: ask for every window, keep every number, and subtract whatever can be subtracted."""
    real = truth(world)
    seen: dict[tuple[str, int], int] = {}                    # (figure, week) -> value shown in some window
    totals: list[tuple[str, range, int]] = []                # (figure, weeks, total) shown
    spreads: dict[int, tuple[ShownGroup, ...]] = {}          # week -> mood groups shown in some window
    kinds: dict[str, FigureKind] = {}
    for window in range(WEEKS_MIN, world.weeks + 1):
        shown = shown_for(world, window)
        offset = world.weeks - window
        checked_in = shown.figure("in")
        assert checked_in is not None
        for figure in shown.figures:
            kinds[figure.key] = figure.kind
            for n, value in enumerate(figure.cells):
                week = offset + n
                true_value, who = real[figure.key][week]
                if value is not None:
                    assert value == true_value and about_no_one_or_enough(who), (figure.key, week)
                    assert seen.setdefault((figure.key, week), value) == value
            if figure.total is not None:
                assert figure.kind is FigureKind.EVENTS
                totals.append((figure.key, range(offset, world.weeks), figure.total))
        [mood] = shown.spreads
        for n, groups in enumerate(mood.weeks):
            week = offset + n
            if checked_in.cells[n] is None:
                assert groups is None, "a hidden week's spread would give its count away"
                continue
            assert groups is not None
            # The groups cover every band once, in order, and add up to the shown count: nothing is
            # left hidden inside the week for subtraction to find.
            assert [g.first for g in groups] == [0] + [g.last + 1 for g in groups[:-1]]
            assert groups[-1].last == len(BANDS) - 1
            assert sum(g.value for g in groups) == checked_in.cells[n]
            for g in groups:
                who = in_bands(world, week, range(g.first, g.last + 1))
                assert g.value == len(who) and about_no_one_or_enough(who)
            # No group may hold everyone while others show 0: that would tell anyone's band.
            assert len(groups) == 1 or sum(1 for g in groups if g.value) >= 2
            assert spreads.setdefault(week, groups) == groups

    # Differences between weeks, whichever windows showed them: about no one or at least K members.
    for (key, i), (other, j) in combinations(sorted(seen), 2):
        if key == other and kinds[key] is not FigureKind.EVENTS:
            assert about_no_one_or_enough(changed_between(world, key, i, j)), (key, i, j)
    for (i, a), (j, b) in combinations(sorted(spreads.items()), 2):
        for bands in comparable(a, b):
            moved = in_bands(world, i, bands) ^ in_bands(world, j, bands)
            assert about_no_one_or_enough(moved), (i, j, sorted(bands))

    # Nothing more is hidden than needed: a week never shown is about 1-4 members, or differs from
    # another week that is not itself about 1-4 members by 1-4 members.
    for key, kind in kinds.items():
        for week in range(world.weeks):
            if (key, week) in seen:
                continue
            if 1 <= len(real[key][week][1]) < K:
                continue
            assert kind is not FigureKind.EVENTS, (key, week)
            assert any(not 1 <= len(real[key][other][1]) < K
                       and 1 <= len(changed_between(world, key, week, other)) < K
                       for other in range(world.weeks) if other != week), (key, week)

    # Totals: subtracting what was shown from every total shown fixes no hidden week, and no total
    # over hidden weeks says they were 1 each (every hidden week counts at least 1).
    for key in {key for key, _, _ in totals}:
        hidden = [(key, w) for w in range(world.weeks) if (key, w) not in seen]
        equations = []
        for _, span, total in (t for t in totals if t[0] == key):
            assert total == sum(real[key][w][0] for w in span)
            unknown = [(key, w) for w in span if (key, w) not in seen]
            rest = total - sum(seen[(key, w)] for w in span if (key, w) in seen)
            equations.append((dict.fromkeys(unknown, 1), rest))
            assert not unknown or len(unknown) < rest, f"{key}: {rest} over {len(unknown)} hidden weeks"
            union: frozenset[int] = frozenset().union(*(real[key][w][1] for _, w in unknown))
            assert about_no_one_or_enough(union)
        for cell in hidden:
            assert not determined(hidden, equations, cell), f"{cell} follows from the totals"


@pytest.mark.parametrize("k", [2, 5, 10])
def test_the_threshold_is_a_parameter(k: int) -> None:
    weeks = complete_weeks(SATURDAY, "UTC", 4)
    # Each week its own members: differences between weeks are about enough of them.
    figure = count_members("in", "In", weeks, [(w, 100 * w + m) for w in range(4) for m in range(w + 3)])
    assert protect(weeks, [figure], k=k).figures[0].cells == tuple(
        n if n >= k else None for n in (3, 4, 5, 6))


# -- frozen weeks: what was shown stays shown ------------------------------------------------------

def _members_figure(sets: list[frozenset[int]], kept_from: datetime | None = None) -> PulseFigure:
    return PulseFigure("checkins", "Checked in", FigureKind.MEMBERS,
                       tuple(PulseCell(len(s), s) for s in sets), kept_from)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.frozensets(st.integers(0, 11), max_size=12), min_size=5, max_size=5),
       st.frozensets(st.integers(0, 11), max_size=12), st.frozensets(st.integers(0, 11), max_size=3))
def test_a_deletion_never_changes_a_frozen_week_and_new_weeks_are_protected_against_what_was_shown(
        old: list[frozenset[int]], new: frozenset[int], deleted: frozenset[int]) -> None:
    weeks = complete_weeks(SATURDAY, "UTC", len(old) + 1)
    # First pulse: the last week is not final yet; the others are shown and frozen.
    first = protect(weeks, [_members_figure([*old, new])], final=len(old))
    frozen = to_freeze(first, {}, len(old))
    # Members delete their data (gone from every week), then the last week becomes final.
    after = [s - deleted for s in [*old, new]]
    second = protect(weeks, [_members_figure(after)], frozen=frozen)
    before, now = first.figures[0], second.figures[0]
    assert now.cells[:-1] == before.cells[:-1] and now.hidden[:-1] == before.hidden[:-1]
    assert before.hidden[-1] is Hidden.NOT_FINAL
    if now.cells[-1] is not None:
        for shown, members_then in zip(before.cells[:-1], old, strict=True):
            if shown is not None:
                # The difference the moderator can take is between what was shown then and the new week.
                assert about_no_one_or_enough(members_then ^ after[-1])


def test_a_week_hidden_beside_another_stays_hidden_when_that_one_is_no_longer_kept() -> None:
    """Review 18: 6 members then 7 (hidden as a change) must not become "6" and later "7"."""
    six, seven = people(6), people(7)
    weeks = complete_weeks(SATURDAY, "UTC", 3)
    first = protect(weeks, [_members_figure([six, seven, frozenset()])], final=2)
    assert first.figures[0].hidden[:2] == (Hidden.CHANGE, Hidden.CHANGE)
    frozen = to_freeze(first, {}, 2)
    # The first week's data is deleted by retention; the second is still frozen as "not shown".
    later = protect(weeks, [_members_figure([six, seven, frozenset()], kept_from=weeks.weeks[1].start_at)],
                    frozen=frozen)
    assert later.figures[0].cells[:2] == (None, None)


def test_a_new_week_beside_a_frozen_one_that_lost_a_member_is_compared_with_what_was_shown() -> None:
    six, weeks = people(6), complete_weeks(SATURDAY, "UTC", 2)
    first = protect(weeks, [_members_figure([six, frozenset()])], final=1)
    assert first.figures[0].cells == (6, None)
    frozen = to_freeze(first, {}, 1)
    # Member 5 deletes their data; the next week has the five others: "6 then 5" would be about member 5.
    later = protect(weeks, [_members_figure([people(5), people(5)])], frozen=frozen)
    assert later.figures[0].cells == (6, None) and later.figures[0].hidden[1] is Hidden.CHANGE
