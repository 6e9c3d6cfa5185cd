"""The community's pulse: weekly counts for moderators, protected so that no one can be picked out.

Every figure a feature contributes is a row of weekly cells, each a count and the set of
members it is about (member ids stay inside this module: `protect` returns numbers only).
What a moderator sees obeys one rule, k-anonymity with K = 5: **every number shown, and every
number that can be worked out by adding or subtracting shown numbers, is about no one or
about at least 5 members.** Concretely:

* A weekly cell about 1-4 members is not shown ("fewer than 5"); a cell about nobody is 0.
* A period total of a figure that adds up over weeks (urges surfed) is shown only when no
  week of the period is hidden. Otherwise it would give hidden weeks away by subtraction:
  total minus the shown weeks is the hidden ones, and the totals of two periods (12 weeks
  and 13, or this week's pulse and last week's) differ by exactly the week one has more.
* A spread (members by mood band) partitions a week's members, so its bands add up to the
  shown weekly count: hiding one small band would reveal it by subtraction. Small bands are
  merged instead with a neighbour until every group is about 0 or at least 5 members, so the
  shown groups always add up to the whole and nothing hidden remains to subtract. A week
  whose members would all fall in one group is not split at all (that would tell each of
  them apart from no one: everyone's band). If the week's count is hidden, so is its spread.
* Differences between weeks. Members who checked in two weeks count in both, a buddy pair
  active in both weeks counts in both: subtracting one week from the other cancels them, so
  the difference is about exactly the members who are counted in one week and not the other
  ("6 members, then 7" is about the one who joined). Two weeks whose difference is about 1-4
  members are both hidden ("not shown"), and so are two spreads in which any band, or bands
  added up, differ by 1-4 members (then the week is shown without a split). Urges are
  different events each week, so their difference is about everyone counted in either week.
* Every pulse shows the same thing for a week, whichever period is asked for: a week is
  compared with every week up to `COMPARED_WEEKS - 1` before or after it (so `protect` is
  given that many weeks before the period shown), and only the counts of those weeks decide
  whether it is shown. Weeks further apart are never in one pulse. The week in progress is
  never shown (see `complete_weeks`), so the figures do not move while a moderator watches.
* A feature that deletes what it counts after a while (ended mentorships, sent messages)
  says from when its figure is whole (`PulseFigure.kept_from`); earlier weeks are "not kept",
  not shown and not compared, rather than shown as a count that is too low.

* A week once shown never changes: a past week can otherwise still change (a check-in may be
  recorded up to 7 days late or corrected; a member who deletes their data leaves every week they
  were in; a feature's retention empties old weeks), and two pulses taken before and after would
  differ by exactly that member. So only *final* weeks are shown (`final_weeks`: ended at least
  `FINAL_AFTER` ago; younger ones are `Hidden.NOT_FINAL`), and what the first pulse showed of a
  final week is frozen (`to_freeze`, `FrozenCell`: shown counts and hidden markers only) and
  shown as it was by every later pulse. A new week beside a frozen one is compared with what was
  shown there (`_close_to_frozen`): a final week can only lose what it counted since.

What this cannot stop, and no count can: someone who knows everything about all but one
member can subtract (a moderator's own alt accounts, say). Weeks half a year apart are never
compared. Shown numbers are exact counts, as the SPEC asks; they carry no names and no one
member's data.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from itertools import combinations

from bot.domain.checkins import BACKFILL_DAYS
from bot.domain.localtime import local_date, occurrence_on, zone

K_MIN = 5
WEEKS_MIN, WEEKS_MAX, WEEKS_DEFAULT = 4, 26, 12
# Weeks fewer than this apart are compared with each other: every pair any one pulse can show.
COMPARED_WEEKS = WEEKS_MAX
MIDNIGHT = time(0, 0)
# A check-in may be recorded for a local day up to BACKFILL_DAYS back, in the member's own zone,
# which can be up to 26 hours from the server's: after this, nothing can be added to a week.
FINAL_AFTER = timedelta(days=BACKFILL_DAYS + 2)


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

    def last(self, count: int) -> PulseWeeks:
        """Return the last `count` weeks."""
        return PulseWeeks(self.timezone, self.weeks[len(self.weeks) - count:])


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


def final_weeks(weeks: PulseWeeks, now: datetime) -> int:
    """Return how many of the weeks (from the oldest) are final: no check-in can be added or changed in them."""
    return sum(1 for week in weeks.weeks if week.end_at + FINAL_AFTER <= now)


# -- what features contribute ----------------------------------------------------------------

class FigureKind(StrEnum):
    """How a figure's weekly values relate (which sums a reader could take)."""

    MEMBERS = "members"  # members who did something that week (a member counts once a week)
    EVENTS = "events"    # times something happened; weeks add up to a period total, shown too
    ACTIVE = "active"    # things in effect during the week (buddy pairs, mentorships); no total


Unit = tuple[Hashable, frozenset[int]]
"""Something a figure counts, under a key that names it in every week, with the members it is about."""


@dataclass(frozen=True, slots=True)
class PulseCell:
    """One week of a figure: the number, and the members it is about (never shown).

    `units` says what the number counts (needed for ACTIVE figures; a MEMBERS figure counts its
    members): a difference between two weeks is about the members of the units only one of
    them counts. Without units, an ACTIVE figure's difference is taken to be about the members
    only one week has, which misses a pair replaced by another between the same members.
    """

    value: int
    members: frozenset[int]
    units: frozenset[Unit] | None = None


@dataclass(frozen=True, slots=True)
class PulseFigure:
    """A weekly series a feature adds to the pulse, e.g. urges surfed; one cell per week, oldest first."""

    key: str
    label: str
    kind: FigureKind
    cells: tuple[PulseCell, ...]
    # The feature deletes what it counts after a while: weeks starting before this instant are
    # no longer known whole, and show as "not kept" rather than as a count that is too low.
    kept_from: datetime | None = None


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
    units: list[set[Unit]] = [set() for _ in weeks.weeks]
    for n, (began, ended, who) in enumerate(things):
        unit = (n, frozenset(who))
        for i, week in enumerate(weeks.weeks):
            if began < week.end_at and (ended is None or ended > week.start_at):
                units[i].add(unit)
    return PulseFigure(key, label, FigureKind.ACTIVE, tuple(
        PulseCell(len(u), frozenset().union(*(m for _, m in u)), frozenset(u)) for u in units))


# -- what moderators see -----------------------------------------------------------------------

class Hidden(StrEnum):
    """Why a week of a figure is not shown."""

    FEW = "few"              # about fewer than K members
    CHANGE = "change"        # its difference from another week would be about fewer than K members
    NOT_KEPT = "not_kept"    # older than what the feature keeps (see `PulseFigure.kept_from`)
    NOT_FINAL = "not_final"  # check-ins may still be added to it (see `FINAL_AFTER`)


@dataclass(frozen=True, slots=True)
class ShownFigure:
    """A figure as shown: None where a week is hidden, and why."""

    key: str
    label: str
    kind: FigureKind
    cells: tuple[int | None, ...]
    total: int | None  # EVENTS only, and only when no week is hidden
    hidden: tuple[Hidden | None, ...]  # why each week is hidden (None where shown)


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
class FrozenCell:
    """What a pulse showed for one final week of a figure or spread, kept so later pulses show the same.

    A figure's cell is its shown `value` or why it was hidden; a spread's is its shown `groups`
    (None when not shown). Counts of at least K or 0 only: never a member id.
    """

    value: int | None = None
    hidden: Hidden | None = None
    groups: tuple[ShownGroup, ...] | None = None


Frozen = Mapping[tuple[date, str], FrozenCell]
"""Frozen cells by (week's Monday, figure or spread key)."""


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


def _units(cell: PulseCell) -> dict[Hashable, frozenset[int]]:
    if cell.units is None:
        return {m: frozenset((m,)) for m in cell.members}
    return dict(cell.units)


def difference_about(kind: FigureKind, a: PulseCell, b: PulseCell) -> frozenset[int]:
    """Return the members the difference between two weeks of a figure is about."""
    if kind is FigureKind.EVENTS:
        # Different events each week: the difference depends on everyone counted in either.
        return a.members | b.members
    units_a, units_b = _units(a), _units(b)
    changed = units_a.keys() ^ units_b.keys()
    return frozenset().union(*(units_a[u] if u in units_a else units_b[u] for u in changed))


def _close_difference(a: PulseCell, b: PulseCell, k: int) -> bool:
    """Whether the difference between two weeks of a MEMBERS or ACTIVE figure is about 1 to k-1 members."""
    if a.units is None or b.units is None:
        # Counted members: the difference is about those in one week only. Counting them
        # without building the set keeps a large server's pulse quick.
        if abs(len(a.members) - len(b.members)) >= k:
            return False
        changed = len(a.members) + len(b.members) - 2 * len(a.members & b.members)
        return 0 < changed < k
    return 0 < len(difference_about(FigureKind.ACTIVE, a, b)) < k


def _compared(count: int, compare: int) -> Iterable[tuple[int, int]]:
    """Pairs of week indices fewer than `compare` apart."""
    for i in range(count):
        for j in range(i + 1, min(count, i + compare)):
            yield i, j


_UNCOUNTED = (Hidden.FEW, Hidden.NOT_KEPT, Hidden.NOT_FINAL)


def _close_to_frozen(kind: FigureKind, shown: int, now: PulseCell, other: PulseCell, k: int) -> bool:
    """Whether a frozen week once shown as `shown`, now counting `now`, and another week may differ by 1 to k-1 members.

    A frozen week is final: since it was shown it can only have lost what it counted (a member
    deleting their data, a feature's retention). What it lost is not in the other week's count
    either, which is read now; for members, one lost may have come back since.
    """
    if kind is FigureKind.MEMBERS:
        lost = shown - len(now.members)
        if lost < 0:  # counts more than was shown: not a frozen week's way; compare by counts only
            return abs(shown - len(other.members)) < k
        changed = len(now.members ^ other.members)
        # Each member lost moves the difference by one, either way; it is never less than the counts' gap.
        low = max(changed - lost, abs(shown - len(other.members)))
        return low < k and changed + lost > 0
    lost = shown - len(_units(now))
    about = len(difference_about(FigureKind.ACTIVE, now, other))
    if lost == 0:
        return 0 < about < k
    # Things lost are in the difference too (so it is about someone), with members not known any more.
    return lost < 0 or about < k


def _hidden_cells(figure: PulseFigure, weeks: PulseWeeks, k: int, compare: int,
                  frozen: Sequence[FrozenCell | None], final: int) -> list[Hidden | None]:
    kept_from = figure.kept_from
    hidden: list[Hidden | None] = []
    for i, (c, week) in enumerate(zip(figure.cells, weeks.weeks, strict=True)):
        fixed = frozen[i]
        hidden.append(fixed.hidden if fixed is not None
                      else Hidden.NOT_FINAL if i >= final
                      else Hidden.NOT_KEPT if kept_from is not None and week.start_at < kept_from
                      else None if _shown_cell(c, k) is not None else Hidden.FEW)
    if figure.kind is FigureKind.EVENTS:
        # Both weeks shown means both about no one or at least k: so is their difference.
        return hidden
    # Only the weeks' own counts decide (not whether the other week is shown in the end), so a
    # week shows the same in every period it is part of.
    for i, j in _compared(len(figure.cells), compare):
        # A week not shown by its own count gives nothing to subtract.
        if hidden[i] in _UNCOUNTED or hidden[j] in _UNCOUNTED:
            continue
        fixed_i, fixed_j = frozen[i], frozen[j]
        if fixed_i is not None and fixed_j is not None:
            continue  # decided when they were shown
        if fixed_i is None and fixed_j is None:
            if _close_difference(figure.cells[i], figure.cells[j], k):
                hidden[i] = hidden[j] = Hidden.CHANGE
            continue
        # A new week beside one already shown: what was shown stays; the new week is hidden if needed.
        old, new = (i, j) if fixed_i is not None else (j, i)
        fixed = frozen[old]
        assert fixed is not None
        if fixed.value is not None and _close_to_frozen(figure.kind, fixed.value, figure.cells[old],
                                                        figure.cells[new], k):
            hidden[new] = Hidden.CHANGE
    return hidden


def _shown_figure(figure: PulseFigure, hidden: Sequence[Hidden | None], frozen: Sequence[FrozenCell | None],
                  show: int) -> ShownFigure:
    last = tuple(hidden[-show:])
    cells = tuple(fixed.value if fixed is not None else None if h else c.value
                  for c, h, fixed in zip(figure.cells[-show:], last, frozen[-show:], strict=True))
    total = None
    # A week not final yet is left out of the total rather than hidden in it: the total is of shown weeks.
    if figure.kind is FigureKind.EVENTS and not any(h for h in last if h is not Hidden.NOT_FINAL):
        total = sum(c for c in cells if c is not None)
    return ShownFigure(figure.key, figure.label, figure.kind, cells, total, last)


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


def _comparable(a: Sequence[ShownGroup], b: Sequence[ShownGroup]) -> list[frozenset[int]]:
    """Every set of bands whose count can be read, by adding groups, from both of two weeks' groups."""
    cuts = sorted({g.last for g in a} & {g.last for g in b})
    blocks = [range(first, last + 1) for first, last in zip([0, *(c + 1 for c in cuts[:-1])], cuts, strict=True)]
    return [frozenset(band for block in chosen for band in block)
            for n in range(1, len(blocks) + 1) for chosen in combinations(blocks, n)]


def _bitsets(weeks: Sequence[Sequence[frozenset[int]]]) -> list[list[int]]:
    """Return each week's bands as bit sets over the members in any of them (fast to intersect and count)."""
    index = {m: n for n, m in enumerate(sorted(frozenset().union(*(band for bands in weeks for band in bands))))}
    size = (len(index) + 7) // 8
    result = []
    for bands in weeks:
        row = []
        for band in bands:
            bits = bytearray(size)
            for member in band:
                n = index[member]
                bits[n >> 3] |= 1 << (n & 7)
            row.append(int.from_bytes(bits, "little"))
        result.append(row)
    return result


def _close_spreads(a: Sequence[int], b: Sequence[int], sets: list[frozenset[int]], k: int) -> bool:
    """Whether some band set (of `sets`) holds members that differ between two weeks by 1 to k-1.

    `a` and `b` are the two weeks' bands as bit sets (see `_bitsets`).
    """
    size_a = [band.bit_count() for band in a]
    size_b = [band.bit_count() for band in b]
    # A band set's difference is at least how much its counts differ: if that is k or more for
    # every set, no need to look at who moved.
    if all(abs(sum(size_a[x] for x in chosen) - sum(size_b[x] for x in chosen)) >= k for chosen in sets):
        return False
    # How many members went from each band (or from not checking in: None) to each band (or None);
    # a band set's difference is everyone who crossed its border. The bands of a week partition
    # its members, so those only in one week are what its bands hold beyond the intersections.
    moved: dict[tuple[int | None, int | None], int] = {}
    into = [0] * len(b)
    for x, band_a in enumerate(a):
        stayed = 0
        for y, band_b in enumerate(b):
            n = (band_a & band_b).bit_count()
            stayed += n
            into[y] += n
            if x != y and n:
                moved[(x, y)] = n
        moved[(x, None)] = size_a[x] - stayed
    for y in range(len(b)):
        moved[(None, y)] = size_b[y] - into[y]
    for chosen in sets:
        crossed = sum(n for (x, y), n in moved.items() if (x in chosen) != (y in chosen))
        if 0 < crossed < k:
            return True
    return False


def _shown_spread(spread: PulseSpread, of: PulseFigure | None, hidden: Sequence[Hidden | None],
                  frozen: Sequence[FrozenCell | None], of_frozen: Sequence[FrozenCell | None], k: int,
                  compare: int, show: int) -> ShownSpread:
    count = len(spread.cells)
    # Each week's own groups, from its own counts: where its count is shown by size and the bands
    # do partition its members (otherwise nothing is shown rather than a guess). A frozen week's
    # are what was shown.
    own: list[tuple[ShownGroup, ...] | None] = [None] * count
    for i, bands in enumerate(spread.cells):
        fixed = frozen[i]
        if fixed is not None:
            own[i] = fixed.groups
            continue
        if of is None or hidden[i] in _UNCOUNTED:
            continue
        union: frozenset[int] = frozenset().union(*bands)
        if union == of.cells[i].members and sum(len(band) for band in bands) == len(union):
            own[i] = merge_bands(bands, k)
    # Two weeks' spreads in which some bands differ by 1-4 members: neither is split (a frozen
    # week stays as it was shown: only the other one is not split).
    whole: set[int] = set()
    bits = _bitsets([bands if own[i] is not None else () for i, bands in enumerate(spread.cells)])
    for i, j in _compared(count, compare):
        groups_i, groups_j = own[i], own[j]
        if groups_i is None or groups_j is None or len(groups_i) == 1 or len(groups_j) == 1:
            continue  # a week not split can only be compared whole: its count, protected above
        if frozen[i] is not None and frozen[j] is not None:
            continue
        new = [n for n in (i, j) if frozen[n] is None]
        old = next((n for n in (i, j) if frozen[n] is not None), None)
        if old is not None:
            # The frozen week's bands are still those shown only if it lost no one since.
            shown = of_frozen[old]
            if of is None or shown is None or shown.value != len(of.cells[old].members) or sum(
                    len(band) for band in spread.cells[old]) != shown.value:
                whole.update(new)
                continue
        if _close_spreads(bits[i], bits[j], _comparable(groups_i, groups_j), k):
            whole.update(new)
    weeks: list[tuple[ShownGroup, ...] | None] = []
    for i in range(count - show, count):
        groups = own[i]
        if frozen[i] is not None:
            weeks.append(groups)
        elif groups is None or hidden[i] is not None:
            weeks.append(None)
        elif i in whole and len(groups) > 1:
            weeks.append((ShownGroup(0, len(spread.bands) - 1, sum(g.value for g in groups)),))
        else:
            weeks.append(groups)
    return ShownSpread(spread.key, spread.label, spread.of, spread.bands, tuple(weeks))


def protect(weeks: PulseWeeks, figures: Sequence[PulseFigure], spreads: Sequence[PulseSpread] = (),
            k: int = K_MIN, *, show: int | None = None, compare: int = COMPARED_WEEKS,
            frozen: Frozen | None = None, final: int | None = None) -> ShownPulse:
    """Return what may be shown of the last `show` weeks (default all) (see the module docstring for the rule).

    For every pulse to show a week the same way, `weeks` should start `compare - 1` weeks before
    the first week shown (or at the first week there is data for). `frozen` holds what earlier
    pulses showed of final weeks (shown again as it was; see `to_freeze`); only the first
    `final` weeks (default all) are final, the others show as "not final yet".
    """
    show = len(weeks) if show is None else show
    final = len(weeks) if final is None else final
    frozen = frozen or {}
    if not 1 <= show <= len(weeks):
        raise ValueError(f"cannot show {show} of {len(weeks)} weeks")
    for key, cells in [(f.key, f.cells) for f in figures] + [(s.key, s.cells) for s in spreads]:
        if len(cells) != len(weeks):
            raise ValueError(f"pulse figure {key!r} has {len(cells)} weeks, expected {len(weeks)}")

    def fixed(key: str) -> list[FrozenCell | None]:
        return [frozen.get((week.start, key)) for week in weeks.weeks]

    hidden = {f.key: _hidden_cells(f, weeks, k, compare, fixed(f.key), final) for f in figures}
    shown = tuple(_shown_figure(f, hidden[f.key], fixed(f.key), show) for f in figures)
    by_key = {f.key: f for f in figures if f.kind is FigureKind.MEMBERS}
    nothing = [Hidden.FEW] * len(weeks)
    shown_spreads = tuple(_shown_spread(s, by_key.get(s.of), hidden[s.of] if s.of in by_key else nothing,
                                        fixed(s.key), fixed(s.of), k, compare, show) for s in spreads)
    return ShownPulse(weeks.last(show), shown, shown_spreads, k)


def to_freeze(pulse: ShownPulse, frozen: Frozen, final: int) -> dict[tuple[date, str], FrozenCell]:
    """Return the cells of `pulse` to keep: its final weeks not frozen yet (`final` counts its own weeks)."""
    cells: dict[tuple[date, str], FrozenCell] = {}
    for i, week in enumerate(pulse.weeks.weeks[:final]):
        for figure in pulse.figures:
            if (week.start, figure.key) not in frozen:
                cells[(week.start, figure.key)] = FrozenCell(value=figure.cells[i], hidden=figure.hidden[i])
        for spread in pulse.spreads:
            if (week.start, spread.key) not in frozen:
                cells[(week.start, spread.key)] = FrozenCell(groups=spread.weeks[i])
    return cells
