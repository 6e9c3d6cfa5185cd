"""The community's pulse: weekly counts for moderators, protected so that no one can be picked out.

Every figure a feature contributes is a row of weekly cells, each a count and the set of
members it is about (member ids stay inside this module: `protect` returns numbers only).
What a moderator sees obeys one rule, k-anonymity with K = 5: **every number shown, and every
number that can be worked out by adding or subtracting shown numbers, is about no one or
about at least 5 members.** Concretely:

* A weekly cell about 1-4 members is not shown ("fewer than 5"); a cell about nobody is 0.
* A period total of a figure that adds up over weeks (urges surfed) would give away the
  hidden weeks by subtraction (total - shown weeks = hidden weeks). It is shown only if no
  week is hidden, or if the hidden weeks are together about at least 5 members and their sum
  pins none of them down — complementary suppression of the total whenever subtracting
  would reveal a hidden week (one hidden week, hidden weeks about fewer than 5 members in
  all, or hidden weeks that must each be exactly 1).
* A spread (members by mood band) partitions a week's members, so its bands add up to the
  shown weekly count: hiding one small band would reveal it by subtraction. Small bands are
  merged instead with a neighbour until every group is about 0 or at least 5 members, so the
  shown groups always add up to the whole and nothing hidden remains to subtract. A week
  whose members would all fall in one group is not split at all (that would tell each of
  them apart from no one: everyone's band). If the week's count is hidden, so is its spread.
* Adjacent weeks share no hidden cell: a difference between two weeks can only be taken
  where both are shown, so it never uncovers a hidden cell. The week in progress is never
  shown (see `complete_weeks`), so the figures do not move while a moderator watches.

What this cannot stop, and no count can: someone who knows everything about all but one
member can subtract. Shown numbers are exact counts, as the SPEC asks; they carry no names
and no one member's data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from bot.domain.localtime import local_date, occurrence_on, zone

K_MIN = 5
WEEKS_MIN, WEEKS_MAX, WEEKS_DEFAULT = 4, 26, 12
MIDNIGHT = time(0, 0)


@dataclass(frozen=True, slots=True)
class PulseWeek:
    """A week from Monday to Sunday in the server's zone: its local days and UTC instants."""

    start: date           # the Monday
    end: date             # the next Monday (exclusive)
    start_at: datetime    # local midnight starting the Monday, in UTC
    end_at: datetime      # local midnight ending the Sunday, in UTC (exclusive)


@dataclass(frozen=True, slots=True)
class PulseWeeks:
    """The weeks of a pulse, oldest first, and the zone that defines them."""

    timezone: str
    weeks: tuple[PulseWeek, ...]

    @property
    def first_day(self) -> date:
        """The first local day covered."""
        return self.weeks[0].start

    @property
    def end_day(self) -> date:
        """The local day after the last one covered."""
        return self.weeks[-1].end

    @property
    def start_at(self) -> datetime:
        """The first instant covered (UTC)."""
        return self.weeks[0].start_at

    @property
    def end_at(self) -> datetime:
        """The instant after the last one covered (UTC)."""
        return self.weeks[-1].end_at

    def index_of_day(self, day: date) -> int | None:
        """Return which week a local day falls in, or None if outside."""
        if not self.first_day <= day < self.end_day:
            return None
        return (day - self.first_day).days // 7

    def index_of_instant(self, at: datetime) -> int | None:
        """Return which week an instant falls in (by the server's local day), or None if outside."""
        return self.index_of_day(local_date(at, zone(self.timezone)))

    def __len__(self) -> int:
        return len(self.weeks)


def complete_weeks(now: datetime, tz_name: str, count: int) -> PulseWeeks:
    """Return the last `count` whole weeks (Monday-Sunday, server zone) before the week in progress.

    The week in progress is left out: its figures change as members check in, and watching a
    count move right after someone says "just checked in" would tell about them.
    """
    tz = zone(tz_name)
    today = local_date(now, tz)
    this_monday = today - timedelta(days=today.weekday())
    starts = [this_monday - timedelta(weeks=n) for n in range(count, 0, -1)]
    return PulseWeeks(tz_name, tuple(
        PulseWeek(start=s, end=s + timedelta(weeks=1), start_at=occurrence_on(s, MIDNIGHT, tz),
                  end_at=occurrence_on(s + timedelta(weeks=1), MIDNIGHT, tz)) for s in starts))


# -- what features contribute ----------------------------------------------------------------

class FigureKind(StrEnum):
    """How a figure's weekly values relate (which sums a reader could take)."""

    MEMBERS = "members"  # members who did something that week (a member counts once a week)
    EVENTS = "events"    # times something happened; weeks add up to a period total, shown too
    ACTIVE = "active"    # things in effect during the week (buddy pairs, mentorships); no total


@dataclass(frozen=True, slots=True)
class PulseCell:
    """One week of a figure: the number, and the members it is about (never shown)."""

    value: int
    members: frozenset[int]


@dataclass(frozen=True, slots=True)
class PulseFigure:
    """A weekly series a feature adds to the pulse, e.g. urges surfed; one cell per week, oldest first."""

    key: str
    label: str
    kind: FigureKind
    cells: tuple[PulseCell, ...]


@dataclass(frozen=True, slots=True)
class PulseSpread:
    """How the members counted by a MEMBERS figure (`of`) split into ordered bands, week by week.

    `cells[week][band]` are the members in that band; the bands of a week partition the
    members of `of` that week (every member in exactly one band).
    """

    key: str
    label: str
    of: str
    bands: tuple[str, ...]
    cells: tuple[tuple[frozenset[int], ...], ...]


def count_members(key: str, label: str, weeks: PulseWeeks, rows: Iterable[tuple[int, int]]) -> PulseFigure:
    """Build a MEMBERS figure from (week index, member id) rows."""
    members: list[set[int]] = [set() for _ in weeks.weeks]
    for week, member in rows:
        members[week].add(member)
    return PulseFigure(key, label, FigureKind.MEMBERS,
                       tuple(PulseCell(len(m), frozenset(m)) for m in members))


def count_events(key: str, label: str, weeks: PulseWeeks, rows: Iterable[tuple[int, int]]) -> PulseFigure:
    """Build an EVENTS figure from (week index, member id) rows, one row per event."""
    counts = [0] * len(weeks)
    members: list[set[int]] = [set() for _ in weeks.weeks]
    for week, member in rows:
        counts[week] += 1
        members[week].add(member)
    return PulseFigure(key, label, FigureKind.EVENTS,
                       tuple(PulseCell(n, frozenset(m)) for n, m in zip(counts, members, strict=True)))


def count_active(key: str, label: str, weeks: PulseWeeks,
                 things: Iterable[tuple[datetime, datetime | None, Iterable[int]]]) -> PulseFigure:
    """Build an ACTIVE figure from (began, ended or None, member ids) of each thing (a pair, a mentorship)."""
    counts = [0] * len(weeks)
    members: list[set[int]] = [set() for _ in weeks.weeks]
    for began, ended, who in things:
        ids = set(who)
        for i, week in enumerate(weeks.weeks):
            if began < week.end_at and (ended is None or ended > week.start_at):
                counts[i] += 1
                members[i] |= ids
    return PulseFigure(key, label, FigureKind.ACTIVE,
                       tuple(PulseCell(n, frozenset(m)) for n, m in zip(counts, members, strict=True)))


# -- what moderators see -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ShownFigure:
    """A figure as shown: None where a week is about fewer than K members."""

    key: str
    label: str
    kind: FigureKind
    cells: tuple[int | None, ...]
    total: int | None  # EVENTS only: None when it would reveal hidden weeks (or for other kinds)


@dataclass(frozen=True, slots=True)
class ShownGroup:
    """Bands `first`..`last` of a spread merged into one shown count."""

    first: int
    last: int
    value: int


@dataclass(frozen=True, slots=True)
class ShownSpread:
    """A spread as shown: per week its groups (None when the week's count is hidden)."""

    key: str
    label: str
    of: str
    bands: tuple[str, ...]
    weeks: tuple[tuple[ShownGroup, ...] | None, ...]


@dataclass(frozen=True, slots=True)
class ShownPulse:
    """Everything a moderator sees: counts only, no member ids."""

    weeks: PulseWeeks
    figures: tuple[ShownFigure, ...]
    spreads: tuple[ShownSpread, ...]
    k: int = K_MIN

    def figure(self, key: str) -> ShownFigure | None:
        """Return a shown figure by key."""
        return next((f for f in self.figures if f.key == key), None)


def _safe(members: frozenset[int], k: int) -> bool:
    return not members or len(members) >= k


def _shown_cell(cell: PulseCell, k: int) -> int | None:
    if not cell.members:
        # A count about nobody is 0; a non-zero count without members would be a provider's
        # mistake, and is not shown rather than trusted.
        return 0 if cell.value == 0 else None
    return cell.value if len(cell.members) >= k else None


def _shown_figure(figure: PulseFigure, k: int) -> ShownFigure:
    cells = tuple(_shown_cell(c, k) for c in figure.cells)
    total = None
    if figure.kind is FigureKind.EVENTS:
        hidden = [c for c, s in zip(figure.cells, cells, strict=True) if s is None]
        members: frozenset[int] = frozenset().union(*(c.members for c in hidden))
        rest = sum(c.value for c in hidden)  # what total minus the shown weeks gives away
        # Shown only if that rest is about at least k members, and does not pin any hidden week
        # down: every hidden week counts at least 1, so a rest equal to the number of hidden
        # weeks would say each was exactly 1 (and one hidden week would be the rest itself).
        if not hidden or (len(members) >= k and len(hidden) >= 2 and rest > len(hidden)):
            total = sum(c.value for c in figure.cells)
    return ShownFigure(figure.key, figure.label, figure.kind, cells, total)


def merge_bands(bands: Sequence[frozenset[int]], k: int = K_MIN) -> tuple[ShownGroup, ...]:
    """Merge adjacent bands until every group is about 0 or at least `k` members (or one group is left).

    If everyone then falls in one group, the week is not split at all: "all 7 in the strong
    band" would tell the band of anyone known to have checked in that week.
    """
    groups: list[tuple[int, int, frozenset[int]]] = [(i, i, m) for i, m in enumerate(bands)]
    while len(groups) > 1:
        small = [i for i, (_, _, m) in enumerate(groups) if not _safe(m, k)]
        if not small:
            break
        i = min(small, key=lambda j: (len(groups[j][2]), j))
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(groups)]
        # A neighbour about somebody first (absorbing an empty band does not help), the smaller one.
        j = min(neighbours, key=lambda n: (not groups[n][2], len(groups[n][2]), n))
        a, b = sorted((i, j))
        merged = (groups[a][0], groups[b][1], groups[a][2] | groups[b][2])
        groups[a:b + 1] = [merged]
    if sum(1 for _, _, m in groups if m) <= 1:
        return (ShownGroup(0, len(bands) - 1, sum(len(m) for _, _, m in groups)),)
    return tuple(ShownGroup(first, last, len(m)) for first, last, m in groups)


def _shown_spread(spread: PulseSpread, of: ShownFigure | None, of_cells: Sequence[PulseCell] | None,
                  k: int) -> ShownSpread:
    weeks: list[tuple[ShownGroup, ...] | None] = []
    for i, bands in enumerate(spread.cells):
        if of is None or of_cells is None or of.cells[i] is None:
            weeks.append(None)
            continue
        union: frozenset[int] = frozenset().union(*bands)
        if union != of_cells[i].members or sum(len(b) for b in bands) != len(union):
            weeks.append(None)  # not a partition of the week's members: show nothing rather than guess
            continue
        weeks.append(merge_bands(bands, k))
    return ShownSpread(spread.key, spread.label, spread.of, spread.bands, tuple(weeks))


def protect(weeks: PulseWeeks, figures: Sequence[PulseFigure], spreads: Sequence[PulseSpread] = (),
            k: int = K_MIN) -> ShownPulse:
    """Return what may be shown of the figures and spreads (see the module docstring for the rule)."""
    for key, cells in [(f.key, f.cells) for f in figures] + [(s.key, s.cells) for s in spreads]:
        if len(cells) != len(weeks):
            raise ValueError(f"pulse figure {key!r} has {len(cells)} weeks, expected {len(weeks)}")
    shown = tuple(_shown_figure(f, k) for f in figures)
    by_key = {f.key: (s, f) for s, f in zip(shown, figures, strict=True)}
    shown_spreads = []
    for spread in spreads:
        pair = by_key.get(spread.of)
        if pair is not None and pair[1].kind is not FigureKind.MEMBERS:
            pair = None
        shown_spreads.append(_shown_spread(spread, pair[0] if pair else None, pair[1].cells if pair else None, k))
    return ShownPulse(weeks, shown, tuple(shown_spreads), k)
