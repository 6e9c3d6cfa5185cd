"""Benchmark the daily retention purge: members gone quiet for longer than the retention period.

Usage: python bench/bench_retention.py [--sizes 1000 10000] [--keep DIR]

For each size it builds a migrated database over 10 servers with that many purgeable members
(last active 400 days ago, retention 365 days), each with 30 check-ins (with notes), a
reminder and, for one in ten, a buddy pair with an active member (whom the purge tells
kindly). Beside them: a tenth as many active members and a twentieth as many inactive
members whose recovery counter still counts (retention keeps them). Then, in a fresh
process, it runs the real `PrivacyService.purge` once and measures:

* `purge s`: the whole purge (members, goodbye notices, the WAL checkpoint), and per 1,000;
* `write wait`: while the purge runs, a probe marks an active member active (one small
  write, as every command does) over and over; the longest and the 99th-percentile wait
  for such a write show how long the purge keeps other writers — commands and the other
  sweeps — waiting;
* `probe writes`: how many of those writes went through during the purge.

It checks that exactly the purgeable members were deleted. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Config  # noqa: E402
from bot.db.sqlite import SqliteDatabase  # noqa: E402
from bot.domain.clock import FakeClock  # noqa: E402
from bot.domain.localtime import to_utc_text  # noqa: E402
from bot.services.container import build_services  # noqa: E402
from bot.services.ports import NoSending  # noqa: E402  (the purge queues goodbyes, it sends nothing)

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
GUILDS = 10
CHECKINS = 30
BASE_GUILD = 900_000_000_000_000_000
BASE_USER = 100_000_000_000_000_000
NOTE = "a note of the kind members write, long enough to be a realistic row " * 2


def build(path: Path, purgeable: int, seed: int = 11) -> dict[str, int]:
    """Create and fill a database (bulk inserts with plain sqlite3 after the real migrations)."""

    async def migrate() -> None:
        async with SqliteDatabase(path) as db:
            await db.migrate()

    asyncio.run(migrate())
    rng = random.Random(seed)
    active, held = max(1, purgeable // 10), max(1, purgeable // 20)
    old, recent = to_utc_text(NOW - timedelta(days=400)), to_utc_text(NOW - timedelta(days=3))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    with conn:
        conn.executemany("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, ?, ?)",
                         [(BASE_GUILD + g, old, old) for g in range(GUILDS)])
        members = []  # (member_id, last_active)
        for i in range(purgeable + active + held):
            last = recent if purgeable <= i < purgeable + active else old
            members.append((i + 1, BASE_GUILD + i % GUILDS, BASE_USER + i, old, last))
        conn.executemany("INSERT INTO members (member_id, guild_id, user_id, created_at, last_active_at) "
                         "VALUES (?, ?, ?, ?, ?)", members)
        start = (NOW - timedelta(days=500)).date()
        conn.executemany(
            "INSERT INTO checkins (member_id, local_date, timezone, mood, craving, note, created_at, updated_at) "
            "VALUES (?, ?, 'Europe/London', ?, ?, ?, ?, ?)",
            ((m, (start + timedelta(days=d)).isoformat(), rng.randint(1, 5), rng.randint(0, 10), NOTE, old, old)
             for m, *_ in members for d in range(CHECKINS)))
        conn.executemany(
            "INSERT INTO checkin_reminders (member_id, remind_time, timezone, next_due_at, created_at, updated_at) "
            "VALUES (?, '20:00', 'Europe/London', ?, ?, ?)",
            ((m, to_utc_text(NOW + timedelta(hours=10)), old, old) for m, *_ in members))
        # One purgeable member in ten has a buddy: one of the first active members, in the same server.
        pairs = [(i + 1, purgeable + (i - purgeable) % GUILDS + 1) for i in range(0, purgeable, 10)]
        conn.executemany(
            "INSERT INTO buddy_pairs (guild_id, member_a, member_b, origin, started_at) VALUES (?, ?, ?, 'request', ?)",
            ((BASE_GUILD + (a - 1) % GUILDS, min(a, b), max(a, b), old) for a, b in pairs))
        for n, i in enumerate(range(purgeable + active, purgeable + active + held)):
            conn.execute("INSERT INTO recovery_counters (counter_id, member_id, guild_id, name, name_key, "
                         "created_at, updated_at) VALUES (?, ?, ?, 'recovery', 'recovery', ?, ?)",
                         (n + 1, i + 1, BASE_GUILD + i % GUILDS, old, old))
            conn.execute("INSERT INTO recovery_periods (counter_id, member_id, start_date, created_at) "
                         "VALUES (?, ?, ?, ?)", (n + 1, i + 1, start.isoformat(), old))
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {"active": active, "held": held, "pairs": len(pairs)}


async def measure(path: Path, purgeable: int) -> dict[str, float]:
    """Run one purge with a writer probe beside it."""
    config = dataclasses.replace(Config(), database_path=path)
    db = SqliteDatabase(path)
    await db.open()
    services = build_services(config, db, FakeClock(NOW), NoSending())
    before = int(await db.fetch_value("SELECT count(*) FROM members"))
    active_user = BASE_USER + purgeable  # the first active member
    waits: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            began = time.perf_counter()
            await services.members.touch(BASE_GUILD + purgeable % GUILDS, active_user, NOW)
            waits.append(time.perf_counter() - began)
            await asyncio.sleep(0.005)

    prober = asyncio.create_task(probe())
    await asyncio.sleep(0.05)
    waits.clear()
    began = time.perf_counter()
    deleted = await services.privacy.purge(NOW)
    seconds = time.perf_counter() - began
    done.set()
    await prober
    after = int(await db.fetch_value("SELECT count(*) FROM members"))
    await db.close()
    assert before - after == purgeable, (before, after, purgeable, deleted)
    waits.sort()
    return {
        "purge_s": seconds,
        "per_1000_s": seconds * 1000 / purgeable,
        "wait_max_ms": waits[-1] * 1000 if waits else float("nan"),
        "wait_p99_ms": waits[min(len(waits) - 1, int(len(waits) * 0.99))] * 1000 if waits else float("nan"),
        "wait_median_ms": statistics.median(waits) * 1000 if waits else float("nan"),
        "probe_writes": len(waits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--keep", type=Path, help="build the databases here and keep them")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(json.dumps(build(args.build, args.sizes[0])))
        return
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.sizes[0]))))
        return

    folder = Path(args.keep or tempfile.mkdtemp(prefix="kindred-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'purgeable':>10} {'kept':>6} {'pairs':>6} {'purge s':>8} {'s/1000':>7} {'write wait max ms':>18} "
          f"{'p99 ms':>7} {'median ms':>10} {'probe writes':>13}")
    summary = []
    for size in args.sizes:
        path = folder / f"retention-{size}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        built = json.loads(subprocess.run([sys.executable, __file__, "--build", str(path), "--sizes", str(size)],
                                          check=True, capture_output=True, text=True).stdout)
        out = subprocess.run([sys.executable, __file__, "--measure", str(path), "--sizes", str(size)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out)
        print(f"{size:>10,} {built['active'] + built['held']:>6,} {built['pairs']:>6,} {r['purge_s']:>8.2f} "
              f"{r['per_1000_s']:>7.2f} {r['wait_max_ms']:>18.1f} {r['wait_p99_ms']:>7.1f} "
              f"{r['wait_median_ms']:>10.2f} {r['probe_writes']:>13,}")
        summary.append(f"{size:,} members {r['purge_s']:.2f} s (longest write wait {r['wait_max_ms']:.0f} ms)")
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    print(f"SUMMARY retention: purge of {'; '.join(summary)}")


if __name__ == "__main__":
    main()
