"""Accountability buddies: pure rules for matching, gentle timing and absence.

Nothing here does I/O. The service feeds in members' zones, quiet hours and dates and
acts on the answers.

Gentle timing. Automatic buddy DMs (nudges, match news) go out only outside the
recipient's *effective quiet hours*: their own `/settings quiet-hours` if they set
some, else 22:00–08:00 in their zone. A member who chose their own quiet hours has
told us when they do not want to hear from us; one who did not still should not get
a nudge at 3 a.m.

Absence. A buddy "has not checked in for N days" when N whole local days (in the
absent buddy's own zone) have passed since the day absence is counted from, with no
check-in: today does not count, because it is not over. Absence is counted from the
latest of the last check-in, the day the pair started, and the day either member's
pause ended, so a new pairing or the end of a break never triggers an instant nudge.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from bot.domain.localtime import in_quiet_hours, local_now, quiet_hours_end, zone

SLOT_MINUTES = 15  # every real UTC offset is a multiple of 15 minutes
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES
DAYTIME_START = time(8, 0)
DAYTIME_END = time(22, 0)
DEFAULT_QUIET_START = DAYTIME_END
DEFAULT_QUIET_END = DAYTIME_START
MIN_OVERLAP_MINUTES = 60
REQUEST_TTL = timedelta(days=14)


# -- gentle timing ---------------------------------------------------------------------

def effective_quiet_hours(start: time | None, end: time | None) -> tuple[time, time]:
    """Return a member's quiet hours, or the default night (22:00–08:00) if they set none."""
    if start is None or end is None or start == end:
        return DEFAULT_QUIET_START, DEFAULT_QUIET_END
    return start, end


def may_dm_now(now: datetime, tz_name: str, start: time | None, end: time | None) -> bool:
    """Tell whether an automatic DM may reach this member at `now` (outside their quiet hours)."""
    quiet_start, quiet_end = effective_quiet_hours(start, end)
    return not in_quiet_hours(local_now(now, zone(tz_name)).time(), quiet_start, quiet_end)


def next_dm_time(now: datetime, tz_name: str, start: time | None, end: time | None) -> datetime:
    """Return the first instant from `now` at which an automatic DM may reach this member."""
    quiet_start, quiet_end = effective_quiet_hours(start, end)
    return quiet_hours_end(now, zone(tz_name), quiet_start, quiet_end)


def after_own_quiet_hours(now: datetime, tz_name: str, start: time | None, end: time | None) -> datetime:
    """Return `now`, or the end of the member's own quiet hours if `now` falls inside them."""
    return quiet_hours_end(now, zone(tz_name), start, end)


# -- absence ---------------------------------------------------------------------------

def absence_start(last_checkin: date | None, pair_started: date, pause_ended: date | None) -> date:
    """Return the local day absence is counted from: the latest of check-in, pairing and pause end."""
    days = [pair_started]
    if last_checkin is not None:
        days.append(last_checkin)
    if pause_ended is not None:
        days.append(pause_ended)
    return max(days)


def days_absent(today: date, since: date) -> int:
    """Return the whole local days after `since` and before `today` (today is not over yet)."""
    return max(0, (today - since).days - 1)


# -- matching --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Candidate:
    """A member waiting in the matching pool."""

    key: int
    timezone: str
    waiting_since: datetime
    quiet_start: time | None = None
    quiet_end: time | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """Two members paired by a round, with how long their daytimes overlap."""

    first: int
    second: int
    overlap_minutes: int


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The outcome of one matching round."""

    pairs: tuple[Match, ...]
    unmatched: tuple[int, ...]


def pair_key(a: int, b: int) -> tuple[int, int]:
    """Return the order-free key of two members."""
    return (a, b) if a < b else (b, a)


@lru_cache(maxsize=4096)
def awake_slots(tz_name: str, reference: date, quiet_start: time | None = None,
                quiet_end: time | None = None) -> int:
    """Return a bitmask of the 15-minute UTC slots of `reference` that are this member's daytime.

    Slot i covers [00:00 UTC + 15·i min, +15 min) of the reference date. A slot is
    daytime when its local wall time (in the member's IANA zone, on that actual date,
    so DST and half- or quarter-hour zones are exact) lies in 08:00–22:00 and outside
    the member's own quiet hours.
    """
    tz = zone(tz_name)
    start = datetime(reference.year, reference.month, reference.day, tzinfo=UTC)
    mask = 0
    for slot in range(SLOTS_PER_DAY):
        wall = local_now(start + timedelta(minutes=SLOT_MINUTES * slot), tz).time()
        if DAYTIME_START <= wall < DAYTIME_END and not in_quiet_hours(wall, quiet_start, quiet_end):
            mask |= 1 << slot
    return mask


def overlap_minutes(a: Candidate, b: Candidate, reference: date) -> int:
    """Return how many minutes of `reference` both members are in their daytime."""
    shared = (awake_slots(a.timezone, reference, a.quiet_start, a.quiet_end)
              & awake_slots(b.timezone, reference, b.quiet_start, b.quiet_end))
    return shared.bit_count() * SLOT_MINUTES


def match_pool(candidates: Sequence[Candidate], *, blocked: Collection[tuple[int, int]],
               reference: date, min_overlap_minutes: int = MIN_OVERLAP_MINUTES) -> MatchResult:
    """Pair the pool for one round: longest-waiting first, each with their best-overlapping partner.

    Scoring, in order of importance:

    1. Waiting time decides who chooses first. Candidates are taken in order of
       `waiting_since` (earliest first); whoever has waited longest is matched with
       their best remaining partner before anyone else is considered. So a member
       left over in one round is near the front of the next, and nobody is passed
       over round after round while newer members get paired.
    2. A partner's score is the overlap of the two members' daytimes (08:00–22:00
       local minus their own quiet hours) on the reference date, counted in whole
       hours — people who are awake at the same time can actually reach each other.
       Differences under an hour are noise, so they do not outrank waiting time.
    3. Among partners with the same whole hours of overlap, the one who has waited
       longer wins; the smaller key breaks any remaining tie, so a round is
       deterministic.

    A pair in `blocked` (paired within the repeat-avoidance period, or buddies now)
    is never proposed, nor is one whose overlap is under `min_overlap_minutes`.
    Whoever is left stays in the pool for the next round (`unmatched`, in waiting
    order).
    """
    order = sorted(candidates, key=lambda c: (c.waiting_since, c.key))
    masks = {c.key: awake_slots(c.timezone, reference, c.quiet_start, c.quiet_end) for c in order}
    blocked_keys = {pair_key(a, b) for a, b in blocked}
    min_slots = -(-min_overlap_minutes // SLOT_MINUTES)
    waiting: list[Candidate] = list(order)
    pairs: list[Match] = []
    unmatched: list[int] = []
    while waiting:
        chooser, rest = waiting[0], waiting[1:]
        mask = masks[chooser.key]
        best: tuple[int, int] | None = None  # (whole hours of overlap, index in rest)
        for index, other in enumerate(rest):
            slots = (mask & masks[other.key]).bit_count()
            if slots < min_slots or pair_key(chooser.key, other.key) in blocked_keys:
                continue
            hours = slots * SLOT_MINUTES // 60
            # `rest` is in waiting order, so the first of equal hours has waited longest.
            if best is None or hours > best[0]:
                best = (hours, index)
        if best is None:
            unmatched.append(chooser.key)
            waiting = rest
            continue
        partner = rest[best[1]]
        pairs.append(Match(chooser.key, partner.key, (mask & masks[partner.key]).bit_count() * SLOT_MINUTES))
        waiting = rest[:best[1]] + rest[best[1] + 1:]
    return MatchResult(tuple(pairs), tuple(unmatched))  # choosers come in waiting order
