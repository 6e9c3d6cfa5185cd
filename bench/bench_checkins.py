"""Benchmark check-ins at scale: due work costs the due rows, and check-ins commit fast.

Usage: python bench/bench_checkins.py [--members 100000] [--guilds 10000] [--checkins 2000] [--keep DIR]

Part 1, the minute's due work. For each scenario it builds a migrated database (bulk
inserts after the real migrations) with `members` members who have a daily reminder and
`guilds` servers with the daily prompt on, spread over 24 zones and every minute of the
day. In each of four consecutive minutes exactly the scenario's due rows fall due; all
other instants lie later. Then, in a fresh process (so peak memory is the sweep's, not the
build's), it runs the real `CheckInService` sweeps:

* `start-up repair`: the one O(servers) pass at start-up that schedules servers missing a
  schedule row (none are missing here; it is the cost of looking);
* `idle sweep`: both sweeps when nothing is due (what runs every 30 seconds);
* `claim minute`: both sweeps claiming one minute's due work — decide, record, queue in the
  outbox and move each row to its next instant, in one transaction per sweep and batch
  (median of the first three minutes; each commit is a real fsync with synchronous=FULL);
* peak memory of claiming the fourth minute (Python heap by tracemalloc), and the
  process's max RSS (SQLite's page cache included).

Scenarios: `full` (the given sizes, a natural minute's share of due rows: 1/1440), `tenth`
(10x fewer rows and therefore 10x fewer due), and `tenth, same due` (10x fewer rows with the
full scenario's due count), which shows the cost follows due rows, not total rows.

Part 2, check-ins per second: `CheckInService.check_in` (new members, WAL,
`synchronous=FULL`, one transaction per check-in including the member's "last active"
write) beside a bare aiosqlite `INSERT` + `commit()` loop on a second file with the same
pragmas, in the same run, alternated three times; medians reported.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Config  # noqa: E402
from bot.db.sqlite import PRAGMAS, SqliteDatabase  # noqa: E402
from bot.domain.clock import FakeClock  # noqa: E402
from bot.domain.localtime import (  # noqa: E402
    format_hhmm,
    local_now,
    next_occurrence,
    parse_hhmm,
    to_utc_text,
    zone,
)
from bot.services.container import build_services  # noqa: E402
from bot.services.ports import NoSending  # noqa: E402

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
# Due rows fall due in each of MINUTES consecutive minutes from NOW, the scenario's due count
# per minute; minute i is claimed at its start + 30 s. The first TIMED minutes give the time
# (median), the last one is claimed under tracemalloc for the peak memory.
MINUTES, TIMED = 4, 3
CLAIMS = [NOW + timedelta(minutes=i, seconds=30) for i in range(MINUTES)]
LAST_CLAIM = CLAIMS[-1]
IDLE_AT = NOW - timedelta(seconds=30)
BASE_GUILD = 900_000_000_000_000_000
BASE_USER = 100_000_000_000_000_000
BASE_CHANNEL = 700_000_000_000_000_000
ZONES = (
    "UTC", "Europe/London", "Europe/Berlin", "Europe/Helsinki", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi",
    "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dhaka", "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo",
    "Australia/Adelaide", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Auckland", "Pacific/Chatham",
    "America/St_Johns", "America/Sao_Paulo", "America/New_York", "America/Chicago", "America/Denver",
    "America/Los_Angeles",
)


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    members: int
    guilds: int
    due_members: int
    due_guilds: int


def _schedule(rng: random.Random, due_minute: int | None) -> tuple[str, str, str]:
    """Return (zone, HH:MM, next due instant) for a row due in a measured minute, or after them all."""
    tz_name = rng.choice(ZONES)
    tz = zone(tz_name)
    if due_minute is not None:
        instant = NOW + timedelta(minutes=due_minute)
        at = local_now(instant, tz).time().replace(second=0, microsecond=0)
        return tz_name, format_hhmm(at), to_utc_text(instant)
    at = parse_hhmm(f"{rng.randrange(24):02d}:{rng.randrange(60):02d}")
    return tz_name, format_hhmm(at), to_utc_text(next_occurrence(LAST_CLAIM, at, tz))


def _due_minutes(rng: random.Random, total: int, per_minute: int) -> dict[int, int]:
    """Pick `per_minute` rows for each measured minute: row index -> minute."""
    rows = rng.sample(range(total), per_minute * MINUTES)
    return {row: i // per_minute for i, row in enumerate(rows)}


async def build(path: Path, scenario: Scenario, seed: int = 7) -> None:
    """Create and fill a database with plain sqlite3 after the real migrations."""
    db = SqliteDatabase(path)
    await db.open()
    await db.migrate()
    await db.close()
    rng = random.Random(seed)
    stamp = to_utc_text(NOW - timedelta(days=1))
    due_guilds = _due_minutes(rng, scenario.guilds, scenario.due_guilds)
    due_members = _due_minutes(rng, scenario.members, scenario.due_members)
    guild_rows, schedule_rows = [], []
    for g in range(scenario.guilds):
        tz_name, at, due_at = _schedule(rng, due_guilds.get(g))
        guild_rows.append((BASE_GUILD + g, tz_name, BASE_CHANNEL + g, at, stamp, stamp))
        schedule_rows.append((BASE_GUILD + g, due_at))
    member_rows, reminder_rows = [], []
    for m in range(scenario.members):
        tz_name, at, due_at = _schedule(rng, due_members.get(m))
        member_rows.append((m + 1, BASE_GUILD + m % scenario.guilds, BASE_USER + m, tz_name, stamp, stamp))
        reminder_rows.append((m + 1, at, tz_name, due_at, stamp, stamp))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    with conn:
        conn.executemany("INSERT INTO guilds (guild_id, timezone, checkin_channel_id, checkin_time, checkin_enabled, "
                         "joined_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)", guild_rows)
        conn.executemany("INSERT INTO checkin_prompt_schedule (guild_id, next_due_at) VALUES (?, ?)", schedule_rows)
        conn.executemany("INSERT INTO members (member_id, guild_id, user_id, timezone, created_at, last_active_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", member_rows)
        conn.executemany("INSERT INTO checkin_reminders (member_id, remind_time, timezone, next_due_at, created_at, "
                         "updated_at) VALUES (?, ?, ?, ?, ?, ?)", reminder_rows)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


async def measure(path: Path) -> dict[str, object]:
    """Run in a fresh process: start-up repair, an idle sweep, then the measured claim."""
    config = dataclasses.replace(Config(), database_path=path)
    db = SqliteDatabase(path)
    await db.open()
    clock = FakeClock(IDLE_AT)
    services = build_services(config, db, clock, NoSending())
    checkins = services.checkins
    started = time.perf_counter()
    repaired = await checkins.repair_prompt_schedules()
    repair_s = time.perf_counter() - started
    checkins._schedules_repaired = True  # the first sweep after start-up would do the repair above
    idle = []
    for _ in range(5):
        started = time.perf_counter()
        idle_claimed = await checkins.sweep_prompts(IDLE_AT) + await checkins.sweep_reminders(IDLE_AT)
        idle.append(time.perf_counter() - started)
        assert idle_claimed == 0
    claims, claimed = [], []
    peak = 0
    for minute, at in enumerate(CLAIMS):
        clock.set(at)
        traced = minute == MINUTES - 1
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        claimed.append((await checkins.sweep_prompts(at), await checkins.sweep_reminders(at)))
        claims.append(time.perf_counter() - started)
        if traced:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    prompts, reminders = claimed[0]
    assert len(set(claimed)) == 1, claimed
    queued = await db.fetch_value("SELECT count(*) FROM outbox")
    left_due = await db.fetch_value("SELECT count(*) FROM checkin_reminders WHERE next_due_at <= ?",
                                    (to_utc_text(LAST_CLAIM),))
    await db.close()
    return {
        "repair_ms": repair_s * 1000, "repaired": repaired, "idle_ms": statistics.median(idle) * 1000,
        "claim_ms": statistics.median(claims[:TIMED]) * 1000, "prompts": prompts, "reminders": reminders, "queued": queued,
        "left_due": left_due, "peak_kib": peak / 1024,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


async def service_rate(path: Path, n: int, first_user: int) -> float:
    """Check-ins per second through CheckInService (new members, one commit each)."""
    config = dataclasses.replace(Config(), database_path=path)
    db = SqliteDatabase(path)
    await db.open()
    await db.migrate()
    services = build_services(config, db, FakeClock(NOW), NoSending())
    started = time.perf_counter()
    for i in range(n):
        await services.checkins.check_in(BASE_GUILD, first_user + i, mood=1 + i % 5, craving=i % 11,
                                         note="steady day" if i % 3 == 0 else None)
    elapsed = time.perf_counter() - started
    await db.close()
    return n / elapsed


async def bare_rate(path: Path, n: int, first_id: int) -> float:
    """Inserts per second with a bare aiosqlite INSERT + commit() loop, same pragmas."""
    conn = await aiosqlite.connect(path)
    for pragma in PRAGMAS:
        await conn.execute(pragma)
    await conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, member_id INTEGER, local_date TEXT, "
                       "mood INTEGER, craving INTEGER, note TEXT)")
    await conn.commit()
    started = time.perf_counter()
    for i in range(n):
        await conn.execute("INSERT INTO t (member_id, local_date, mood, craving, note) VALUES (?, ?, ?, ?, ?)",
                           (first_id + i, "2026-11-21", 1 + i % 5, i % 11, "steady day" if i % 3 == 0 else None))
        await conn.commit()
    elapsed = time.perf_counter() - started
    await conn.close()
    return n / elapsed


async def throughput(folder: Path, n: int) -> dict[str, float]:
    service, bare = [], []
    for run in range(3):
        service.append(await service_rate(folder / "service.sqlite3", n, BASE_USER + run * n))
        bare.append(await bare_rate(folder / "bare.sqlite3", n, run * n))
    return {"service_per_s": statistics.median(service), "bare_per_s": statistics.median(bare),
            "ratio": statistics.median(service) / statistics.median(bare)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--guilds", type=int, default=10_000)
    parser.add_argument("--checkins", type=int, default=2000)
    parser.add_argument("--keep", type=Path, help="build databases here and keep them")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure))))
        return

    def per_minute(total: int) -> int:
        return max(1, round(total / 1440))

    full = Scenario("full", args.members, args.guilds, per_minute(args.members), per_minute(args.guilds))
    scenarios = [
        full,
        Scenario("tenth", args.members // 10, args.guilds // 10, per_minute(args.members // 10),
                 per_minute(args.guilds // 10)),
        Scenario("tenth, same due", args.members // 10, args.guilds // 10, full.due_members, full.due_guilds),
    ]
    scratch = ROOT / "bench" / "results"  # git-ignored, on the checkout's disk
    scratch.mkdir(parents=True, exist_ok=True)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="kindred-bench-", dir=scratch))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Check-ins benchmark, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, in {folder}")
    print(f"{'scenario':<16} {'reminders':>9} {'prompts':>7} {'due r/p':>9} {'build s':>7} {'repair ms':>9} "
          f"{'idle ms':>7} {'claim ms':>8} {'per due ms':>10} {'peak KiB':>8} {'RSS MiB':>7}")
    for scenario in scenarios:
        path = folder / f"{scenario.name.replace(', ', '-').replace(' ', '-')}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        started = time.perf_counter()
        asyncio.run(build(path, scenario))
        build_s = time.perf_counter() - started
        out = subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True, capture_output=True,
                             text=True, cwd=ROOT)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        due = scenario.due_members + scenario.due_guilds
        assert (r["reminders"], r["prompts"], r["left_due"]) == (scenario.due_members, scenario.due_guilds, 0), r
        assert r["queued"] == MINUTES * due, r
        print(f"{scenario.name:<16} {scenario.members:>9} {scenario.guilds:>7} "
              f"{scenario.due_members:>5}/{scenario.due_guilds:<3} {build_s:>7.1f} {r['repair_ms']:>9.1f} "
              f"{r['idle_ms']:>7.2f} {r['claim_ms']:>8.1f} {r['claim_ms'] / due:>10.3f} {r['peak_kib']:>8.0f} "
              f"{r['max_rss_mib']:>7.0f}")
    rates = asyncio.run(throughput(folder, args.checkins))
    print(f"\nCheck-ins/s (synchronous=FULL, {args.checkins} per run, median of 3): service "
          f"{rates['service_per_s']:.0f}/s, bare aiosqlite insert+commit {rates['bare_per_s']:.0f}/s, "
          f"ratio {rates['ratio']:.2f} (target >= 0.5)")
    if not args.keep:
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
