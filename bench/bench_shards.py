"""Benchmark the daily prompt fan-out of several shard processes sharing one PostgreSQL under the
token's one global rate limit.

Usage: python bench/bench_shards.py [--servers 10000] [--processes 4] [--limit 50] [--url URL]

One fake Discord (in this process) recommends `--processes` shards and holds `--servers`
servers spread evenly over them, each with a #check-ins channel. One PostgreSQL database (a
server this script starts, as the tests do, with PostgreSQL's default durability; or `--url`)
has every server's daily prompt due at 10:00 UTC, configured through the real
`GuildConfigService.set_checkins`. `--processes` real `python -m bot run` processes run one shard
each (`KINDRED_SHARD_COUNT` / `KINDRED_SHARD_IDS`), on one libfaketime clock at normal speed
(x1); nothing is swept by hand. Once every process is connected, their clock is set to
09:59:55 and the fake turns on a token bucket over all REST requests, whoever sends them:
`--limit` per second with bursts of `--limit` (Discord's global limit belongs to the token). Each
process keeps to its share of the limit (the default without `[bot] rest_proxy`).

Measured: from the instant the clock reads 10:00:00 to the last prompt the fake accepted; the
ideal is servers / limit (200 s for 10,000 at 50/s); the result is the ratio (target <= 1.1).
Also reported: that every server got exactly one prompt, the 429s answered, and how many each
process sent (by `sent_by` in the outbox).

Needs libfaketime (Debian: apt-get install faketime) and PostgreSQL (apt-get install postgresql)
unless `--url` is given. Not part of the test suite. Takes about servers / limit + 2 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._support import bot_env, machine  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.db.postgres import PostgresDatabase  # noqa: E402
from bot.domain.clock import FakeClock  # noqa: E402
from bot.fakediscord import Channel, FakeDiscord  # noqa: E402
from bot.services.container import build_services  # noqa: E402
from bot.services.ports import NoSending  # noqa: E402
from tests.e2e.helpers import BotProcess, run_cli  # noqa: E402
from tests.live.support import LiveClock, find_libfaketime, pace_heartbeats  # noqa: E402
from tests.postgres_server import PostgresServer, find_bindir  # noqa: E402

DUE = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
LEAD = timedelta(seconds=5)
POSTS = "POST /channels/{channel_id}/messages"


async def configure(url: str, channels: list[tuple[int, Channel]]) -> float:
    """Turn the daily prompt on in every server, due at 10:00 UTC; return seconds taken.

    The first server through the real service (as `/config checkins` would); the others are
    copies of its two rows (the server's settings and its prompt schedule), for speed.
    """
    started = time.monotonic()
    db = PostgresDatabase(url)
    await db.open()
    try:
        await db.migrate()
        services = build_services(Config(database_url=url), db, FakeClock(DUE - timedelta(hours=1)), NoSending())
        (first, channel), rest = channels[0], channels[1:]
        await services.guild_config.set_checkins(first, channel_id=channel.id, time="10:00", timezone="UTC")
    finally:
        await db.close()
    conn = await asyncpg.connect(url)
    try:
        for table, changes in (("guilds", {"guild_id": 0, "checkin_channel_id": 1}),
                               ("checkin_prompt_schedule", {"guild_id": 0})):
            row = dict(await conn.fetchrow(f"SELECT * FROM {table} WHERE guild_id = $1", first))  # noqa: S608
            columns = list(row)
            marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
            await conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608 - names from the schema
                [[(guild_id, channel.id)[changes[c]] if c in changes else row[c] for c in columns]
                 for guild_id, channel in rest])
    finally:
        await conn.close()
    return time.monotonic() - started


async def until_posted(fake: FakeDiscord, since: int, servers: int, timeout: float) -> None:
    """Wait until the fake accepted `servers` posts after request `since` (counted twice a second: a
    check on every change would cost servers² over a fan-out)."""
    deadline = time.monotonic() + timeout
    posted = 0
    while posted < servers:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {posted} of {servers} prompts after {timeout:.0f} s")
        await asyncio.sleep(0.5)
        posted = sum(1 for r in fake.request_log[since:] if r.key == POSTS and r.status == 200)


async def senders(url: str) -> Counter[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT split_part(sent_by, ':', 1) AS owner, count(*) AS n FROM outbox "
                                "WHERE status = 'sent' GROUP BY 1 ORDER BY 1")
    finally:
        await conn.close()
    return Counter({r["owner"]: r["n"] for r in rows})


async def run(args: argparse.Namespace, url: str, folder: Path, library: Path) -> None:
    count = args.processes
    async with FakeDiscord() as fake:
        fake.shard_count = count
        guilds = [fake.add_guild(f"Circle {i}", channels=["check-ins"], shard=(i % count, count))
                  for i in range(args.servers)]
        channels = [g.channel("check-ins") for g in guilds]
        took = await configure(url, [(g.id, g.channel("check-ins")) for g in guilds])
        print(f"  configured {args.servers} servers in {took:.0f} s", flush=True)
        clock = LiveClock(folder / "faketime.rc", library, DUE - timedelta(minutes=10), 1)
        pace_heartbeats(fake, 1)
        base = bot_env(fake, folder / "unused.sqlite3", KINDRED_DATABASE_URL=url, KINDRED_LOG_LEVEL="WARNING")
        code, output = await run_cli("sync", env=base)
        if code:
            raise SystemExit(f"sync failed: {output}")
        procs = [BotProcess(fake, {**base, **clock.env(), "KINDRED_SHARD_COUNT": str(count), "KINDRED_SHARD_IDS": str(i),
                                   "KINDRED_LOG_LEVEL": "INFO"}) for i in range(count)]
        try:
            for proc in procs:
                await proc.start()
            for proc in procs:
                await proc.wait_ready(timeout=300)
            for _ in range(600):  # polled: a check on every frame would cost servers² while they connect
                if len(fake.gateway.sent("GUILD_CREATE")) >= args.servers:
                    break
                await asyncio.sleep(0.5)
            else:
                raise SystemExit("not every server was delivered to a process in 300 s")
            print(f"  {count} processes ready with every server; the fan-out starts", flush=True)
            fake.faults.global_rate_limit(args.limit)
            since = len(fake.request_log)
            clock.jump(DUE - LEAD, 1)
            written = time.monotonic()
            for conn in list(fake.gateway.connections):  # make every process read its clock at once
                await conn.send({"op": 1, "d": None})
            minute = written + LEAD.total_seconds()
            load_before = os.getloadavg()
            await until_posted(fake, since, args.servers, args.servers / args.limit * 3 + 120)
            load_after = os.getloadavg()
            print(f"  every prompt posted ({time.monotonic() - minute:.0f} s after 10:00:00)", flush=True)
            posts = [r for r in fake.request_log[since:] if r.key == POSTS]
            accepted = [r for r in posts if r.status == 200]
            stored = Counter(m.channel.id for c in channels for m in fake.messages_in(c))
            last = max(r.at for r in accepted) - minute
            ideal = args.servers / args.limit
            by = await senders(url)
        finally:
            for proc in procs:
                await proc.stop()
    exactly_once = len(stored) == args.servers and set(stored.values()) == {1}
    ratio = last / ideal
    print(f"  last prompt {last:.2f} s after 10:00:00 (first {min(r.at for r in accepted) - minute:.2f} s); "
          f"ideal {ideal:.0f} s: {ratio:.3f} x; accepted {len(accepted)}, 429s answered "
          f"{sum(1 for r in posts if r.status == 429)}, exactly one per server: {exactly_once}; "
          f"sent by {dict(sorted(by.items()))}; load average during {load_before[0]:.2f} -> {load_after[0]:.2f}")
    print(f"SUMMARY shards: {args.servers} prompts from {count} processes sharing one PostgreSQL under "
          f"{args.limit:g}/s: {last:.1f} s, {ratio:.3f} x the ideal {ideal:.0f} s; target <= 1.1: "
          f"{'met' if ratio <= 1.1 and exactly_once else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=4, help="shard processes (one shard each)")
    parser.add_argument("--limit", type=float, default=50.0, help="global requests per second")
    parser.add_argument("--url", help="an existing, empty PostgreSQL database to use")
    args = parser.parse_args()
    library = find_libfaketime()
    if library is None:
        raise SystemExit("libfaketime is not installed (Debian: apt-get install faketime)")
    server = None
    url = args.url
    if url is None:
        bindir = find_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL is not installed (apt-get install postgresql), and no --url was given")
        server = PostgresServer(bindir, durable=True, options="-c shared_buffers=128MB")
        server.start()
        url = server.url("postgres")
    print(f"Shard processes' prompt fan-out, {machine()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    try:
        with tempfile.TemporaryDirectory(prefix="kindred-bench-shards-") as tmp:
            asyncio.run(run(args, url, Path(tmp), library))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
