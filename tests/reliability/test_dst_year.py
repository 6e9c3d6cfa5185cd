"""A simulated year in eight zones: every prompt once per local day, milestones on their local day.

One server in each of New York, London, Berlin, Lord Howe (a 30-minute DST shift), Chatham
(+12:45/+13:45), Kolkata, St John's (-3:30/-2:30) and Kiritimati (+14) posts its daily prompt,
and its members celebrate milestones, at times chosen to fall inside the zone's spring-forward
gap and fall-back fold (01:30, 02:30, 01:45, 03:00, hour 2...). A fake clock walks 2026 the way
a running bot would see it, calling `scheduler.run_all_once()`: random steps of 4 to 16 hours,
a sweep shortly after a random share of due times, 15-minute steps through every DST night,
and one sweep in every local day after each due time that nothing else landed in (so "late
the same day" is never "missed" for lack of a sweep). Checked: one prompt per server and
local date, never before its time, naming the day it is posted on; one celebration per
milestone, on the milestone's local date, never before the celebration hour.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config
from bot.db.database import Database
from bot.domain.clock import FakeClock
from bot.domain.localtime import local_date, zone
from bot.services.container import build_services
from tests.reliability.support import (
    CrashPlan,
    Delivered,
    DiscordLikeNotifier,
    day_name,
    prompt_day,
)

SEED = 2026
YEAR_START = datetime(2025, 12, 31, 12, 0, tzinfo=UTC)  # configured here; 1 January is ahead everywhere
YEAR_END = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Server:
    """A server's zone, prompt time and celebration hour (chosen to hit its DST gap or fold)."""

    tz: str
    prompt: time
    celebration_hour: int


SERVERS = [  # one per zone; each DST gap and fold is hit by a prompt time or a celebration hour
    Server("America/New_York", time(1, 30), 2),     # fold 01:00–02:00 on 1 November; gap 02:00–03:00 on 8 March
    Server("Europe/London", time(1, 30), 1),        # gap 01:00–02:00 on 29 March, fold on 25 October
    Server("Europe/Berlin", time(2, 30), 2),        # gap 02:00–03:00 on 29 March, fold on 25 October
    Server("Australia/Lord_Howe", time(1, 45), 2),  # fold 01:30–02:00 on 5 April; gap 02:00–02:30 on 4 October
    Server("Pacific/Chatham", time(3, 0), 3),       # gap 02:45–03:45 on 27 September, fold on 5 April
    Server("Asia/Kolkata", time(0, 0), 0),          # no DST; midnight
    Server("America/St_Johns", time(2, 30), 1),     # gap 02:00–03:00 on 8 March; fold 01:00–02:00 on 1 November
    Server("Pacific/Kiritimati", time(23, 30), 23),  # UTC+14, the first of each day on Earth; late evening
]
GUILD_BASE, CHANNEL_BASE, USER_BASE = 960_000_000_000_000_000, 970_000_000_000_000_000, 980_000_000_000_000_000
LADDER = (1, 3, 7, 14, 30, 60, 90, 180, 270, 365)
DST_NIGHT = timedelta(hours=2)


@functools.cache
def transitions(tz: ZoneInfo) -> tuple[datetime, ...]:
    """UTC instants in the simulated year at which the zone's offset changes (to 15 minutes)."""
    found = []
    t = YEAR_START
    while t < YEAR_END:
        nxt = t + timedelta(hours=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            m = t
            while m.astimezone(tz).utcoffset() == t.astimezone(tz).utcoffset():
                m += timedelta(minutes=15)
            found.append(m)
        t = nxt
    return tuple(found)


def counter_starts(tz: ZoneInfo) -> list[date]:
    """Back-dated starts whose milestones fall on the zone's DST dates (and plenty of others)."""
    today = local_date(YEAR_START, tz)
    starts = {today, date(2025, 12, 1)}
    for change in transitions(tz):
        day = local_date(change, tz)
        starts.update(day - timedelta(days=d) for d in (90, 180, 270, 365) if day - timedelta(days=d) <= today)
    return sorted(starts)


def milestone_days(start: date) -> list[date]:
    """The default ladder's dates for a start (365 days is the calendar anniversary)."""
    return [start.replace(year=start.year + 1) if d == 365 else start + timedelta(days=d) for d in LADDER]


def walk(rng: random.Random, windows: list[tuple[datetime, datetime]]) -> list[datetime]:
    """Instants for the year: random steps, a sweep soon after some due times, DST nights in 15-minute steps,
    and one instant inside every (due, end of that local day) window that nothing else landed in."""
    points = set()
    t = YEAR_START
    while t < YEAR_END:
        t += timedelta(minutes=rng.randint(240, 960))
        points.add(t)
    for due, _ in rng.sample(windows, len(windows) // 20):
        points.add(due + timedelta(seconds=rng.randint(0, 900)))
    for tz in {zone(s.tz) for s in SERVERS}:
        for change in transitions(tz):
            points.update(change + timedelta(minutes=15 * k) for k in range(-8, 9))  # ± DST_NIGHT
    ordered = sorted(p for p in points if YEAR_START < p <= YEAR_END)
    for due, day_end in sorted(windows, key=lambda w: w[1]):
        due = max(due, YEAR_START + timedelta(seconds=1))  # e.g. a milestone already due at start-up
        i = bisect.bisect_left(ordered, due)
        if i == len(ordered) or ordered[i] >= day_end:
            bisect.insort(ordered, due + (day_end - due) * rng.random())
    return ordered


def wall(day: date, at: time, tz: ZoneInfo) -> datetime:
    """When a wall time happens: inside a gap, as far after it opens; inside a fold, the first time."""
    return datetime.combine(day, at).replace(tzinfo=tz, fold=0).astimezone(UTC)


def day_end(day: date, tz: ZoneInfo) -> datetime:
    return wall(day + timedelta(days=1), time(0), tz)


def on_a_dst_night(instant: datetime, tz: ZoneInfo) -> bool:
    """Whether the walk steps every 15 minutes around `instant` (it is near a change of offset)."""
    return any(abs(instant - change) <= DST_NIGHT for change in transitions(tz))


@pytest.mark.slow
async def test_a_year_in_eight_zones_prompts_once_a_day_and_milestones_on_their_day(db: Database, config: Config) -> None:
    rng = random.Random(SEED)
    # Retention is set beyond the year: a member who only receives celebrations counts as
    # inactive and is deleted after 365 days, just before a first anniversary (a product
    # decision documented in the data statement, not a time-zone matter).
    config = dataclasses.replace(config, privacy=dataclasses.replace(config.privacy, retention_days=3650))
    clock = FakeClock(YEAR_START)
    discord = DiscordLikeNotifier(clock)
    expected_prompts: dict[int, Counter[date]] = {}  # channel id → local dates
    expected_milestones: dict[int, tuple[Server, list[date]]] = {}  # user id → local dates, in order
    windows: list[tuple[datetime, datetime]] = []  # (due, end of that local day)

    services = build_services(config, db, clock, discord.for_process(CrashPlan()))
    user_ids = itertools.count(USER_BASE)
    for i, server in enumerate(SERVERS):
        guild_id, channel_id, tz = GUILD_BASE + i, CHANNEL_BASE + i, zone(server.tz)
        await services.guild_config.set_checkins(guild_id, channel_id=channel_id,
                                                 time=server.prompt.strftime("%H:%M"), timezone=server.tz)
        await services.guild_config.set_celebrations(guild_id, channel_id=channel_id + 500,
                                                     hour=server.celebration_hour)
        expected_prompts[channel_id] = Counter()
        day = local_date(YEAR_START, tz)
        while (due := wall(day, server.prompt, tz)) <= YEAR_END:
            if due > YEAR_START:
                expected_prompts[channel_id][day] = 1
                windows.append((due, day_end(day, tz)))
            day += timedelta(days=1)
        today, hour = local_date(YEAR_START, tz), time(server.celebration_hour)
        for start in counter_starts(tz):
            user_id = next(user_ids)
            await services.recovery.start(guild_id, user_id, start.isoformat())
            days = [d for d in milestone_days(start) if d >= today and wall(d, hour, tz) <= YEAR_END]
            expected_milestones[user_id] = (server, days)
            windows.extend((wall(d, hour, tz), day_end(d, tz)) for d in days)

    for instant in walk(rng, windows):
        clock.set(instant)
        await services.scheduler.run_all_once()

    sent = discord.delivered
    for i, server in enumerate(SERVERS):
        channel_id, tz = CHANNEL_BASE + i, zone(server.tz)
        prompts = [d for d in sent if d.target == "channel" and d.target_id == channel_id]
        days = Counter(local_date(p.at, tz) for p in prompts)
        expected = expected_prompts[channel_id]
        assert days == expected, (server, "extra", days - expected, "missing", expected - days)
        assert len(days) >= 365
        for prompt in prompts:
            day = local_date(prompt.at, tz)
            due = wall(day, server.prompt, tz)
            assert prompt.at >= due, (server, prompt.at)
            assert prompt_day(prompt.content) == day_name(day)
            if on_a_dst_night(due, tz):  # swept every 15 minutes: on time to the step
                assert prompt.at - due <= timedelta(minutes=15), (server, due, prompt.at)

    celebrations: dict[int, list[Delivered]] = {}
    for d in sent:
        if d.target == "dm" and "reached" in d.content:
            celebrations.setdefault(d.target_id, []).append(d)
    for user_id, (server, days) in expected_milestones.items():
        tz = zone(server.tz)
        got = celebrations.get(user_id, [])
        assert [local_date(d.at, tz) for d in got] == days, (server, user_id, [d.at for d in got])
        for day, celebration in zip(days, got, strict=True):
            due = wall(day, time(server.celebration_hour), tz)
            assert celebration.at >= due, (server, celebration.at)
            if on_a_dst_night(due, tz):
                assert celebration.at - due <= timedelta(minutes=15), (server, due, celebration.at)
    # The walk did reach the nights that matter: milestones on every DST day of every zone.
    for server in SERVERS:
        tz = zone(server.tz)
        dst_days = {local_date(change, tz) for change in transitions(tz)}
        celebrated = {d for s, days in expected_milestones.values() if s is server for d in days}
        assert dst_days <= celebrated, server
    assert sum(len(days) for _, days in expected_milestones.values()) > 200
