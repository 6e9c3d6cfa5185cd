"""Benchmark milestone celebrations at scale: finding what is due costs the due rows, not the table.

Usage: python bench/bench_recovery.py [--sizes 100000 1000000] [--due 1000] [--keep DIR]

For each size it builds a migrated database with that many counters (members, counters and
their current periods; 5 counters per member over 50 servers), of which exactly `--due` have
a celebration due in the hour before "now" and the rest are spread over the next year. Then,
in a fresh process (so peak memory is that of the sweep, not of building the data), it
measures:

* `due query`: `RecoveryRepository.due()` reading every due row (median of 5, read-only);
* `idle sweep`: `RecoveryService.sweep()` when nothing is due (what runs every 30 seconds);
* `sweep`: one real sweep claiming every due row — plan, record, queue in the outbox;
* the query plan of the due query, and peak memory (Python heap by tracemalloc, and the
  process's maximum resident set size).

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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Config  # noqa: E402
from bot.db.recovery import DUE_SQL, RecoveryRepository  # noqa: E402
from bot.db.sqlite import SqliteDatabase  # noqa: E402
from bot.domain.clock import FakeClock  # noqa: E402
from bot.domain.localtime import to_utc_text  # noqa: E402
from bot.services.container import build_services  # noqa: E402
from bot.services.ports import NoSending  # noqa: E402

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
GUILDS = 50
PER_MEMBER = 5
BASE_GUILD = 900_000_000_000_000_000
BASE_USER = 100_000_000_000_000_000


async def build(path: Path, counters: int, due: int, seed: int = 7) -> None:
    """Create and fill a database (bulk inserts with plain sqlite3 after the real migrations)."""
    db = SqliteDatabase(path)
    await db.open()
    await db.migrate()
    await db.close()
    rng = random.Random(seed)
    stamp = to_utc_text(NOW)
    today = NOW.date()
    due_ids = set(rng.sample(range(counters), due))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    with conn:
        conn.executemany("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, ?, ?)",
                         [(BASE_GUILD + g, stamp, stamp) for g in range(GUILDS)])
        members = (counters + PER_MEMBER - 1) // PER_MEMBER
        conn.executemany(
            "INSERT INTO members (member_id, guild_id, user_id, created_at, last_active_at) VALUES (?, ?, ?, ?, ?)",
            ((m + 1, BASE_GUILD + m % GUILDS, BASE_USER + m, stamp, stamp) for m in range(members)))

        def counter_rows() -> object:
            for c in range(counters):
                member = c // PER_MEMBER
                if c in due_ids:
                    # 30 days today, celebration hour passed within the last hour
                    start = today - timedelta(days=30)
                    days, at = 30, NOW - timedelta(minutes=rng.randrange(0, 60))
                else:
                    start = today - timedelta(days=rng.randrange(0, 3000))
                    days, at = 1 + rng.randrange(3650), NOW + timedelta(minutes=rng.randrange(61, 525_600))
                yield (c + 1, member + 1, BASE_GUILD + member % GUILDS, f"counter {c % PER_MEMBER}",
                       f"counter {c % PER_MEMBER}", days, to_utc_text(at), stamp, stamp, start.isoformat())

        rows = list(counter_rows())
        conn.executemany(
            "INSERT INTO recovery_counters (counter_id, member_id, guild_id, name, name_key, "
            "next_milestone_days, next_celebration_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (r[:9] for r in rows))
        conn.executemany(
            "INSERT INTO recovery_periods (counter_id, member_id, start_date, created_at) VALUES (?, ?, ?, ?)",
            ((r[0], r[1], r[9], stamp) for r in rows))
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


async def measure(path: Path, due: int) -> dict[str, object]:
    """Measure the due query and sweeps on an existing database."""
    config = dataclasses.replace(Config(), database_path=path)
    db = SqliteDatabase(path)
    await db.open()
    clock = FakeClock(NOW)
    services = build_services(config, db, clock, NoSending())
    repo: RecoveryRepository = services.recovery.repo
    plan = await db.fetch_all("EXPLAIN QUERY PLAN " + DUE_SQL, (to_utc_text(NOW), 500))
    timings = []
    for _ in range(5):
        began = time.perf_counter()
        found = await repo.due(NOW, due + 1)
        timings.append(time.perf_counter() - began)
    assert len(found) == due, (len(found), due)

    began = time.perf_counter()
    idle = await services.recovery.sweep(NOW - timedelta(hours=2))
    idle_seconds = time.perf_counter() - began
    assert idle == 0

    tracemalloc.start()
    began = time.perf_counter()
    claimed = await services.recovery.sweep(NOW)
    sweep_seconds = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    queued = await db.fetch_value("SELECT count(*) FROM outbox WHERE kind = 'milestone'")
    again = await services.recovery.sweep(NOW)
    await db.close()
    assert claimed == due == queued and again == 0, (claimed, due, queued, again)
    return {
        "due_query_ms": statistics.median(timings) * 1000,
        "idle_sweep_ms": idle_seconds * 1000,
        "sweep_ms": sweep_seconds * 1000,
        "per_due_row_ms": sweep_seconds * 1000 / due,
        "python_peak_mib": peak / 2**20,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "plan": " / ".join(str(r["detail"]) for r in plan),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="build the databases here and keep them")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        asyncio.run(build(args.build, args.sizes[0], args.due))
        return
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.due))))
        return

    folder = Path(args.keep or tempfile.mkdtemp(prefix="kindred-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'counters':>10} {'due':>6} {'build s':>8} {'due query ms':>13} {'idle sweep ms':>14} "
          f"{'sweep ms':>9} {'ms/due row':>11} {'py peak MiB':>12} {'max RSS MiB':>12}")
    plan = ""
    for size in args.sizes:
        path = folder / f"recovery-{size}.sqlite3"
        path.unlink(missing_ok=True)
        # Build and measure in separate child processes: Linux keeps a process's peak RSS
        # across fork and exec, so a child of a big builder would report the builder's peak.
        began = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--build", str(path), "--sizes", str(size), "--due", str(args.due)],
                       check=True)
        built = time.perf_counter() - began
        out = subprocess.run([sys.executable, __file__, "--measure", str(path), "--due", str(args.due)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out)
        plan = r["plan"]
        print(f"{size:>10,} {args.due:>6} {built:>8.1f} {r['due_query_ms']:>13.1f} {r['idle_sweep_ms']:>14.2f} "
              f"{r['sweep_ms']:>9.0f} {r['per_due_row_ms']:>11.3f} {r['python_peak_mib']:>12.1f} {r['max_rss_mib']:>12.0f}")
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    print(f"query plan: {plan}")
    print(f"(started {date.today().isoformat()}; databases in {folder if args.keep else 'a temporary folder, removed'})")


if __name__ == "__main__":
    main()
