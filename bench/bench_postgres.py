"""Benchmark Kindred on PostgreSQL: sweep cost follows the due rows, and check-ins/s through the service.

Usage: python bench/bench_postgres.py [--members 1000000] [--small 100000] [--checkins 2000] [--url URL]

Without --url it starts its own PostgreSQL server (as the tests do, from Debian's `postgresql`
package, as the `postgres` user when run as root) with PostgreSQL's default durability
(fsync on, synchronous_commit on), in a temporary folder on the checkout's disk.

Part 1, sweep cost. Two databases, `--small` and `--members` members, each member with a daily
reminder, and one server per 100 members with the daily prompt on, spread over 24 zones and
every minute of the day (built with COPY after the real migrations, then ANALYZE, as autovacuum
would). Both hold the SAME due rows: in each of four consecutive minutes, `--due` reminders and
a tenth as many prompts fall due; every other row is due later. The real `CheckInService`
sweeps (with `FOR UPDATE … SKIP LOCKED` on the due rows) claim each minute: decide, record,
queue in the outbox, move each row on, commit; the two databases take turns, minute by minute
(and sweep by sweep for the idle sweeps), so both see the same share of the machine's load.
Reported: the idle sweep (nothing due) and the claim (median of the four minutes), and the
ratio of the large database's claim time to the small one's; the target is at most 1.5 (ten
times the rows, the same due rows).

Part 2, check-ins per second: `CheckInService.check_in` (new members, one transaction each,
through the PostgreSQL `Database`) beside a bare asyncpg loop inserting one row per statement
in autocommit (one commit each) into a table of the same shape, in the same run, alternated
three times; medians reported.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_checkins import (  # noqa: E402 - the same world as the SQLite benchmark
    BASE_CHANNEL,
    BASE_GUILD,
    BASE_USER,
    CLAIMS,
    IDLE_AT,
    NOW,
    _due_minutes,
    _schedule,
)

from bot.config import Config  # noqa: E402
from bot.db.postgres import PostgresDatabase  # noqa: E402
from bot.domain.clock import FakeClock  # noqa: E402
from bot.domain.localtime import to_utc_text  # noqa: E402
from bot.services.container import build_services  # noqa: E402
from bot.services.ports import NoSending  # noqa: E402
from tests.postgres_server import PostgresServer, find_bindir  # noqa: E402

MEMBERS_PER_GUILD = 100


@dataclasses.dataclass(frozen=True)
class Scale:
    members: int
    due_members: int

    @property
    def guilds(self) -> int:
        return max(1, self.members // MEMBERS_PER_GUILD)

    @property
    def due_guilds(self) -> int:
        return max(1, self.due_members // 10)


async def admin_execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def build(url: str, scale: Scale, seed: int = 7) -> float:
    """Migrate, then COPY the scale's rows in; return the seconds it took."""
    started = time.perf_counter()
    async with PostgresDatabase(url) as db:
        await db.migrate()
    rng = random.Random(seed)
    stamp = to_utc_text(NOW - timedelta(days=1))
    due_guilds = _due_minutes(rng, scale.guilds, scale.due_guilds)
    due_members = _due_minutes(rng, scale.members, scale.due_members)
    conn = await asyncpg.connect(url)
    try:
        guilds, schedules = [], []
        for g in range(scale.guilds):
            tz_name, at, due_at = _schedule(rng, due_guilds.get(g))
            guilds.append((BASE_GUILD + g, tz_name, BASE_CHANNEL + g, at, 1, stamp, stamp))
            schedules.append((BASE_GUILD + g, due_at))
        await conn.copy_records_to_table("guilds", records=guilds, columns=[
            "guild_id", "timezone", "checkin_channel_id", "checkin_time", "checkin_enabled", "joined_at", "updated_at"])
        await conn.copy_records_to_table("checkin_prompt_schedule", records=schedules,
                                         columns=["guild_id", "next_due_at"])
        chunk = 100_000
        for start in range(0, scale.members, chunk):
            members, reminders = [], []
            for m in range(start, min(start + chunk, scale.members)):
                tz_name, at, due_at = _schedule(rng, due_members.get(m))
                members.append((m + 1, BASE_GUILD + m % scale.guilds, BASE_USER + m, tz_name, stamp, stamp))
                reminders.append((m + 1, at, tz_name, due_at, stamp, stamp))
            await conn.copy_records_to_table("members", records=members, columns=[
                "member_id", "guild_id", "user_id", "timezone", "created_at", "last_active_at"])
            await conn.copy_records_to_table("checkin_reminders", records=reminders, columns=[
                "member_id", "remind_time", "timezone", "next_due_at", "created_at", "updated_at"])
        await conn.execute("SELECT setval(pg_get_serial_sequence('members', 'member_id'), max(member_id)) FROM members")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


class Sweeper:
    """The real check-in sweeps of one database, measured one step at a time."""

    def __init__(self, url: str, scale: Scale) -> None:
        self.url, self.scale = url, scale
        self.idle: list[float] = []
        self.claims: list[float] = []
        self.claimed: list[tuple[int, int]] = []

    async def __aenter__(self) -> Sweeper:
        self.db = PostgresDatabase(self.url)
        await self.db.open()
        self.clock = FakeClock(IDLE_AT)
        self.checkins = build_services(dataclasses.replace(Config(), database_url=self.url), self.db, self.clock,
                                       NoSending()).checkins
        self.checkins._schedules_repaired = True  # the start-up repair is a separate, one-off pass
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.db.close()

    async def idle_sweep(self) -> None:
        started = time.perf_counter()
        assert await self.checkins.sweep_prompts(IDLE_AT) + await self.checkins.sweep_reminders(IDLE_AT) == 0
        self.idle.append(time.perf_counter() - started)

    async def claim(self, at: datetime) -> None:
        self.clock.set(at)
        started = time.perf_counter()
        self.claimed.append((await self.checkins.sweep_prompts(at), await self.checkins.sweep_reminders(at)))
        self.claims.append(time.perf_counter() - started)

    async def result(self) -> dict[str, float]:
        """Check every due row was claimed once and the due query uses its index; return the medians."""
        assert set(self.claimed) == {(self.scale.due_guilds, self.scale.due_members)}, self.claimed
        left = await self.db.fetch_value("SELECT count(*) FROM checkin_reminders WHERE next_due_at <= ?",
                                         (to_utc_text(CLAIMS[-1]),))
        assert left == 0, left
        plan = await self.db.fetch_all(
            "EXPLAIN SELECT r.member_id FROM checkin_reminders r JOIN members m USING (member_id) "
            "JOIN guilds g ON g.guild_id = m.guild_id WHERE r.next_due_at <= ? ORDER BY r.next_due_at LIMIT 500",
            (to_utc_text(CLAIMS[-1]),))
        return {"idle_ms": statistics.median(self.idle) * 1000, "claim_ms": statistics.median(self.claims) * 1000,
                "uses_index": float(any("checkin_reminders_due" in r[0] for r in plan))}


async def sweeps(urls: dict[str, str], scales: dict[str, Scale]) -> dict[str, dict[str, float]]:
    """Idle sweeps and each measured minute's claim on both databases, alternated (the machine's load
    changes from minute to minute; alternating gives both databases the same share of it)."""
    async with Sweeper(urls["small"], scales["small"]) as small, Sweeper(urls["large"], scales["large"]) as large:
        pair = (small, large)
        for i in range(6):
            for sweeper in pair if i % 2 == 0 else pair[::-1]:
                await sweeper.idle_sweep()
        for i, at in enumerate(CLAIMS):
            for sweeper in pair if i % 2 == 0 else pair[::-1]:
                await sweeper.claim(at)
        return {"small": await small.result(), "large": await large.result()}


async def service_rate(url: str, n: int, first_user: int) -> float:
    """Check-ins per second through CheckInService (new members, one transaction each)."""
    config = dataclasses.replace(Config(), database_url=url)
    async with PostgresDatabase(url) as db:
        await db.migrate()
        services = build_services(config, db, FakeClock(NOW), NoSending())
        started = time.perf_counter()
        for i in range(n):
            await services.checkins.check_in(BASE_GUILD, first_user + i, mood=1 + i % 5, craving=i % 11,
                                             note="steady day" if i % 3 == 0 else None)
        return n / (time.perf_counter() - started)


async def bare_rate(url: str, n: int, first_id: int) -> float:
    """Inserts per second with a bare asyncpg loop: one INSERT, one commit, each."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS bare (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                           "member_id BIGINT, local_date TEXT, mood INTEGER, craving INTEGER, note TEXT)")
        started = time.perf_counter()
        for i in range(n):
            await conn.execute("INSERT INTO bare (member_id, local_date, mood, craving, note) VALUES ($1, $2, $3, $4, $5)",
                               first_id + i, "2026-11-21", 1 + i % 5, i % 11, "steady day" if i % 3 == 0 else None)
        return n / (time.perf_counter() - started)
    finally:
        await conn.close()


async def run(args: argparse.Namespace, url_for: dict[str, str]) -> None:
    small = Scale(args.small, args.due)
    large = Scale(args.members, args.due)
    scales = {"small": small, "large": large}
    built = {name: await build(url_for[name], scale) for name, scale in scales.items()}
    results = await sweeps(url_for, scales)
    print(f"{'members':>9} {'servers':>7} {'due r/p':>9} {'build s':>7} {'idle ms':>7} {'claim ms':>8} index")
    for name, scale in scales.items():
        r = results[name]
        print(f"{scale.members:>9} {scale.guilds:>7} {scale.due_members:>5}/{scale.due_guilds:<3} {built[name]:>7.1f} "
              f"{r['idle_ms']:>7.2f} {r['claim_ms']:>8.1f} {'yes' if r['uses_index'] else 'NO'}")
    ratio = results["large"]["claim_ms"] / results["small"]["claim_ms"]
    print(f"claim time {large.members:,} vs {small.members:,} members, same due rows: {ratio:.2f}x (target <= 1.5)")

    service, bare = [], []
    for i in range(3):
        service.append(await service_rate(url_for["rates"], args.checkins, BASE_USER + 10_000_000 + i * args.checkins))
        bare.append(await bare_rate(url_for["rates"], args.checkins, i * args.checkins))
    rate = statistics.median(service) / statistics.median(bare)
    print(f"check-ins/s ({args.checkins} per run, median of 3): service {statistics.median(service):.0f}/s, "
          f"bare asyncpg insert+commit {statistics.median(bare):.0f}/s, ratio {rate:.2f}")
    print(f"SUMMARY postgres: claim {large.members:,} vs {small.members:,} members {ratio:.2f}x (target <= 1.5); "
          f"check-ins {statistics.median(service):.0f}/s vs bare {statistics.median(bare):.0f}/s ({rate:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=700, help="reminders due in each measured minute")
    parser.add_argument("--checkins", type=int, default=2000)
    parser.add_argument("--url", help="an existing server to use (a maintenance database URL, e.g. "
                                      "postgresql://postgres@localhost/postgres); three databases are created on it")
    args = parser.parse_args()
    server = None
    if args.url is None:
        bindir = find_bindir()
        if bindir is None:
            sys.exit("PostgreSQL is not installed (apt-get install postgresql), and no --url was given")
        server = PostgresServer(bindir, durable=True, options="-c shared_buffers=128MB")
        server.start()
        maintenance = server.url("postgres")
    else:
        maintenance = args.url
    names = {name: f"kindred_bench_{name}_{os.getpid()}" for name in ("small", "large", "rates")}
    base = maintenance.rsplit("/", 1)[0] if "?" not in maintenance else None
    url_for = {}
    for name, database in names.items():
        asyncio.run(admin_execute(maintenance, f'CREATE DATABASE "{database}"'))
        url_for[name] = (f"{base}/{database}" if base else maintenance.replace("/postgres?", f"/{database}?"))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"PostgreSQL benchmark, Python {sys.version.split()[0]}, asyncpg {asyncpg.__version__}, "
          f"{os.cpu_count()} cores, load average {load}")
    try:
        asyncio.run(run(args, url_for))
    finally:
        for database in names.values():
            asyncio.run(admin_execute(maintenance, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
