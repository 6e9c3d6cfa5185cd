"""Benchmark buddy nudges and matching rounds.

Usage: python bench/bench_buddies.py [--pairs 1000 10000 100000] [--due 100] [--pool 100 1000 5000]

Nudges. For each size it builds a migrated database with that many active pairs (two
members each, over 50 servers, zones spread over 10 IANA zones, everyone sharing check-ins
with buddies and with a check-in yesterday), of which `--due` pairs have one member who
has been away three days. It measures the real `BuddyService.nudge_sweep` (what runs
hourly): an idle pass (nothing due: nobody away), and a pass that claims the due nudges
(decide, record, queue in the outbox, commit), then that a second pass claims nothing.

Matching. `match_pool` (the pure function a round runs) on pools of `--pool` members in 10
zones, plus one round through `BuddyService.matching_sweep` on a pool of that size
(capped at MAX_ROUND considered per round).

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Config  # noqa: E402
from bot.db.sqlite import SqliteDatabase  # noqa: E402
from bot.domain.buddies import Candidate, match_pool  # noqa: E402
from bot.domain.clock import FakeClock  # noqa: E402
from bot.domain.localtime import to_utc_text  # noqa: E402
from bot.services.buddies import MAX_ROUND  # noqa: E402
from bot.services.container import build_services  # noqa: E402
from bot.services.ports import NoSending  # noqa: E402

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
GUILDS = 50
BASE_GUILD = 900_000_000_000_000_000
BASE_USER = 100_000_000_000_000_000
ZONES = ["Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "America/Chicago",
         "Europe/Berlin", "Asia/Singapore", "Pacific/Chatham", "America/St_Johns", "Africa/Lagos"]


def build(path: Path, pairs: int, due: int, pool: int, seed: int = 7) -> None:
    """Fill a migrated database with pairs, check-ins and a pool (plain sqlite3 bulk inserts)."""
    rng = random.Random(seed)
    stamp = to_utc_text(NOW - timedelta(days=30))
    due_pairs = set(rng.sample(range(pairs), due))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    with conn:
        conn.executemany("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, ?, ?)",
                         [(BASE_GUILD + g, stamp, stamp) for g in range(GUILDS)])
        members = 2 * pairs + pool
        conn.executemany(
            "INSERT INTO members (member_id, guild_id, user_id, timezone, share_checkins, created_at, last_active_at) "
            "VALUES (?, ?, ?, ?, 'buddies', ?, ?)",
            ((m + 1, BASE_GUILD + (m // 2) % GUILDS, BASE_USER + m, ZONES[m % len(ZONES)], stamp, stamp)
             for m in range(members)))
        conn.executemany(
            "INSERT INTO buddy_pairs (guild_id, member_a, member_b, origin, started_at) VALUES (?, ?, ?, 'match', ?)",
            ((BASE_GUILD + p % GUILDS, 2 * p + 1, 2 * p + 2, stamp) for p in range(pairs)))

        def checkins() -> object:
            for m in range(2 * pairs):
                away = (m // 2) in due_pairs and m % 2 == 0
                day = (NOW - timedelta(days=4 if away else 1)).date()
                yield (m + 1, day.isoformat(), ZONES[m % len(ZONES)], 3, stamp, stamp)

        conn.executemany("INSERT INTO checkins (member_id, local_date, timezone, mood, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", checkins())
        conn.executemany("INSERT INTO buddy_pool (member_id, guild_id, joined_at) VALUES (?, ?, ?)",
                         ((2 * pairs + i + 1, BASE_GUILD, to_utc_text(NOW - timedelta(minutes=i))) for i in range(pool)))
    conn.execute("ANALYZE")
    conn.close()


async def measure(path: Path, due: int) -> dict[str, float]:
    """Time the nudge sweep idle and claiming, and one matching round."""
    config = dataclasses.replace(Config(), database_path=path)
    db = SqliteDatabase(path)
    await db.open()
    clock = FakeClock(NOW)
    services = build_services(config, db, clock, NoSending())
    buddies = services.buddies
    idle = []
    for _ in range(3):  # a morning in which nobody has been away long enough
        began = time.perf_counter()
        assert await buddies.nudge_sweep(NOW - timedelta(days=2)) == 0
        idle.append(time.perf_counter() - began)
    began = time.perf_counter()
    claimed = await buddies.nudge_sweep(NOW)
    claim = time.perf_counter() - began
    began = time.perf_counter()
    again = await buddies.nudge_sweep(NOW)
    repeat = time.perf_counter() - began
    assert again == 0, again
    began = time.perf_counter()
    paired = await buddies.matching_sweep(datetime(2026, 11, 21, 18, 0, tzinfo=UTC))
    round_seconds = time.perf_counter() - began
    await db.close()
    return {"idle_ms": statistics.median(idle) * 1000, "claimed": claimed, "claim_ms": claim * 1000,
            "repeat_ms": repeat * 1000, "round_ms": round_seconds * 1000, "round_pairs": paired}


def time_matching(size: int) -> float:
    rng = random.Random(size)
    pool = [Candidate(i, rng.choice(ZONES), NOW - timedelta(minutes=rng.randrange(100_000))) for i in range(size)]
    match_pool(pool[:2], blocked=set(), reference=date(2026, 11, 21))  # fill the per-zone daytime cache
    began = time.perf_counter()
    result = match_pool(pool, blocked=set(), reference=date(2026, 11, 21))
    assert len(result.pairs) == size // 2
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--pool", type=int, nargs="+", default=[100, 1_000, 5_000])
    args = parser.parse_args()
    print(f"{'pairs':>8} {'due':>5} {'pool':>6} {'idle sweep ms':>14} {'claim ms':>9} {'claimed':>8} "
          f"{'again ms':>9} {'round ms':>9} {'round pairs':>12}")
    with tempfile.TemporaryDirectory(prefix="kindred-bench-") as folder:
        for size in args.pairs:
            pool = args.pool[-1]
            path = Path(folder) / f"buddies-{size}.sqlite3"

            async def migrate(p: Path = path) -> None:
                async with SqliteDatabase(p) as db:
                    await db.migrate()

            asyncio.run(migrate())
            build(path, size, args.due, pool)
            r = asyncio.run(measure(path, args.due))
            print(f"{size:>8,} {args.due:>5} {pool:>6} {r['idle_ms']:>14.1f} {r['claim_ms']:>9.1f} "
                  f"{r['claimed']:>8.0f} {r['repeat_ms']:>9.1f} {r['round_ms']:>9.0f} {r['round_pairs']:>12.0f}")
    print()
    print(f"match_pool (pure; a round considers at most {MAX_ROUND}):")
    for size in args.pool:
        print(f"  {size:>6,} members: {time_matching(size) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
