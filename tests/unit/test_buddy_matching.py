"""Buddy matching and gentle timing as pure functions."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.domain.buddies import (
    Candidate,
    absence_start,
    awake_slots,
    days_absent,
    match_pool,
    may_dm_now,
    next_dm_time,
    overlap_minutes,
    pair_key,
)

REF = date(2026, 11, 21)
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def cand(key: int, tz: str, waited_hours: float = 0, quiet: tuple[str, str] | None = None) -> Candidate:
    """A candidate who joined the pool `waited_hours` after T0 (smaller = waiting longer)."""
    qs, qe = (time.fromisoformat(quiet[0]), time.fromisoformat(quiet[1])) if quiet else (None, None)
    return Candidate(key, tz, T0 + timedelta(hours=waited_hours), qs, qe)


# -- overlap ---------------------------------------------------------------------------

@pytest.mark.parametrize(("tz_a", "tz_b", "hours"), [
    ("Europe/London", "Europe/London", 14),        # same zone: the whole 08–22 day
    ("Europe/London", "Europe/Berlin", 13),        # one hour apart
    ("Europe/London", "America/New_York", 9),      # five hours apart
    ("Asia/Kolkata", "Europe/London", 8.5),        # half-hour zone, exact
    ("Asia/Kathmandu", "Asia/Kolkata", 13.75),     # quarter-hour zone, exact
    ("Pacific/Chatham", "Pacific/Auckland", 13.25),  # +13:45 vs +13:00 in November
    ("America/St_Johns", "America/Halifax", 13.5),
    ("Australia/Lord_Howe", "Australia/Sydney", 14),  # both +11 in southern summer
    ("America/Los_Angeles", "Asia/Tokyo", 7),       # 17 h apart = 7 h the other way round
])
def test_overlap_of_daytimes_across_zones(tz_a: str, tz_b: str, hours: float) -> None:
    assert overlap_minutes(cand(1, tz_a), cand(2, tz_b), REF) == hours * 60
    assert overlap_minutes(cand(2, tz_b), cand(1, tz_a), REF) == hours * 60


def test_overlap_uses_the_reference_dates_offsets() -> None:
    # New York and London are 5 h apart in November but 4 h apart in late March.
    march = date(2026, 3, 20)
    assert overlap_minutes(cand(1, "Europe/London"), cand(2, "America/New_York"), march) == 10 * 60
    # Lord Howe's DST is half an hour: +10:30 in June against Sydney's +10.
    june = date(2026, 6, 20)
    assert overlap_minutes(cand(1, "Australia/Lord_Howe"), cand(2, "Australia/Sydney"), june) == 13.5 * 60


def test_quiet_hours_shrink_the_daytime() -> None:
    full = awake_slots("Europe/London", REF)
    quiet = awake_slots("Europe/London", REF, time(20, 0), time(9, 0))  # awake 09–20 only
    assert full.bit_count() * 15 == 14 * 60
    assert quiet.bit_count() * 15 == 11 * 60
    assert overlap_minutes(cand(1, "Europe/London", quiet=("20:00", "09:00")), cand(2, "Europe/London"), REF) == 11 * 60


# -- matching --------------------------------------------------------------------------

def test_pairs_the_best_overlapping_partners() -> None:
    pool = [cand(1, "Europe/London", 0), cand(2, "Asia/Tokyo", 1), cand(3, "Europe/Paris", 2),
            cand(4, "Asia/Seoul", 3)]
    result = match_pool(pool, blocked=set(), reference=REF)
    assert {pair_key(m.first, m.second) for m in result.pairs} == {(1, 3), (2, 4)}
    assert result.unmatched == ()


def test_longest_waiting_member_chooses_first() -> None:
    # 3 and 2 both overlap perfectly with 1, but 1 has waited longest, so 1 is paired;
    # among equally good partners, the one waiting longer (2) wins.
    pool = [cand(3, "Europe/London", 5), cand(1, "Europe/London", 0), cand(2, "Europe/London", 1)]
    result = match_pool(pool, blocked=set(), reference=REF)
    assert [(m.first, m.second) for m in result.pairs] == [(1, 2)]
    assert result.unmatched == (3,)


def test_overlap_differences_under_an_hour_do_not_outrank_waiting() -> None:
    # London–Dublin overlap 14 h; London–Paris 13 h: different whole hours, Dublin wins.
    # London–Lisbon (14 h, same as Dublin) but Lisbon waited longer, so Lisbon wins.
    pool = [cand(1, "Europe/London", 0), cand(2, "Europe/Dublin", 3), cand(3, "Europe/Paris", 1)]
    assert match_pool(pool, blocked=set(), reference=REF).pairs[0].second == 2
    pool.append(cand(4, "Europe/Lisbon", 2))
    assert match_pool(pool, blocked=set(), reference=REF).pairs[0].second == 4


def test_recently_paired_members_are_not_paired_again() -> None:
    pool = [cand(1, "Europe/London", 0), cand(2, "Europe/London", 1), cand(3, "America/New_York", 2)]
    result = match_pool(pool, blocked={(2, 1)}, reference=REF)
    assert [(m.first, m.second) for m in result.pairs] == [(1, 3)]
    assert result.unmatched == (2,)


def test_odd_member_out_stays_unmatched_and_blocked_everywhere_means_nobody() -> None:
    pool = [cand(1, "Europe/London", 0), cand(2, "Europe/London", 1), cand(3, "Europe/London", 2)]
    result = match_pool(pool, blocked=set(), reference=REF)
    assert len(result.pairs) == 1
    assert result.unmatched == (3,)
    everyone_blocked = match_pool(pool, blocked={(1, 2), (1, 3), (2, 3)}, reference=REF)
    assert everyone_blocked.pairs == ()
    assert everyone_blocked.unmatched == (1, 2, 3)


def test_too_little_overlap_is_no_match() -> None:
    # Quiet hours leave these two no shared daytime at all.
    early = cand(1, "Europe/London", 0, quiet=("12:00", "06:00"))
    late = cand(2, "Europe/London", 1, quiet=("22:00", "13:00"))
    assert overlap_minutes(early, late, REF) == 0
    assert match_pool([early, late], blocked=set(), reference=REF).pairs == ()


def test_empty_and_single_pools() -> None:
    assert match_pool([], blocked=set(), reference=REF).pairs == ()
    assert match_pool([cand(7, "UTC")], blocked=set(), reference=REF).unmatched == (7,)


def test_fairness_over_many_rounds() -> None:
    """Simulate a year of daily rounds with random arrivals across the world's zones."""
    rng = random.Random(1234)
    zones = ["Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "America/Los_Angeles",
             "Europe/Berlin", "Asia/Tokyo", "Pacific/Chatham", "America/St_Johns", "Africa/Lagos"]
    pool: list[Candidate] = []
    left_out_with_company: dict[int, int] = {}
    history: set[tuple[int, int]] = set()
    next_key = 1
    paired = 0
    for round_no in range(365):
        for _ in range(rng.randint(0, 3)):
            pool.append(Candidate(next_key, rng.choice(zones), T0 + timedelta(days=round_no, minutes=next_key)))
            next_key += 1
        longest_waiting = min(pool, key=lambda c: (c.waiting_since, c.key)) if pool else None
        result = match_pool(pool, blocked=history, reference=REF + timedelta(days=round_no))
        matched = {k for m in result.pairs for k in (m.first, m.second)}
        for m in result.pairs:
            assert pair_key(m.first, m.second) not in history
            history.add(pair_key(m.first, m.second))
        paired += len(result.pairs)
        # Every zone here overlaps every other by over an hour, so a round leaves at most
        # one member over, and whoever waited longest is always paired.
        assert len(result.unmatched) == len(pool) % 2
        if len(pool) >= 2:
            assert longest_waiting is not None and longest_waiting.key in matched
            for key in result.unmatched:
                left_out_with_company[key] = left_out_with_company.get(key, 0) + 1
        pool = [c for c in pool if c.key not in matched]
    assert paired > 250
    # Nobody is the odd one out twice: once left over, they are first in the next round.
    assert max(left_out_with_company.values()) == 1


# -- gentle timing and absence ---------------------------------------------------------

@pytest.mark.parametrize(("utc", "tz", "quiet", "allowed"), [
    ("2026-11-21T10:00", "Europe/London", None, True),
    ("2026-11-21T23:00", "Europe/London", None, False),         # default night 22–08
    ("2026-11-21T07:59", "Europe/London", None, False),
    ("2026-11-21T08:00", "Europe/London", None, True),
    ("2026-11-21T10:00", "America/Los_Angeles", None, False),   # 02:00 there
    ("2026-11-21T10:00", "Asia/Kolkata", None, True),           # 15:30 there
    ("2026-11-21T10:00", "Europe/London", ("09:00", "12:00"), False),  # own quiet hours replace the night
    ("2026-11-21T23:30", "Europe/London", ("01:00", "07:00"), True),
])
def test_may_dm_now(utc: str, tz: str, quiet: tuple[str, str] | None, allowed: bool) -> None:
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    qs, qe = (time.fromisoformat(quiet[0]), time.fromisoformat(quiet[1])) if quiet else (None, None)
    assert may_dm_now(now, tz, qs, qe) is allowed


def test_next_dm_time_waits_for_the_morning() -> None:
    now = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)
    assert next_dm_time(now, "Europe/London", None, None) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert next_dm_time(now, "Europe/London", time(23, 30), time(6, 0)) == now  # own quiet hours start later
    assert next_dm_time(now, "Europe/London", time(22, 30), time(6, 0)) == datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def test_next_dm_time_in_kolkata() -> None:
    now = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)  # 04:30 IST
    assert next_dm_time(now, "Asia/Kolkata", None, None) == datetime(2026, 11, 22, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(("last", "started", "pause_end", "today", "days"), [
    (date(2026, 11, 18), date(2026, 11, 1), None, date(2026, 11, 21), 2),   # 19th, 20th missed
    (date(2026, 11, 20), date(2026, 11, 1), None, date(2026, 11, 21), 0),   # yesterday is fine
    (date(2026, 11, 21), date(2026, 11, 1), None, date(2026, 11, 21), 0),
    (None, date(2026, 11, 19), None, date(2026, 11, 21), 1),                 # counted from pairing
    (date(2026, 10, 1), date(2026, 11, 1), date(2026, 11, 20), date(2026, 11, 21), 0),  # pause just ended
])
def test_days_absent(last: date | None, started: date, pause_end: date | None, today: date, days: int) -> None:
    assert days_absent(today, absence_start(last, started, pause_end)) == days
