"""Benchmark the daily prompt fan-out on the real scheduler: N servers due in the same minute, under
Discord's global limit, beside a bare discord.py bot sending the same N messages in the same run.

Usage: python bench/bench_fanout.py [--servers 500] [--limit 50] [--runs 3] [--latency SECONDS]

Each run builds a fresh fake Discord (in this process) with `--servers` servers, each with a
#check-ins channel, and a fresh Kindred database in which every server's daily prompt is due at
10:00 UTC on 2026-11-21 — at the local time that instant has in its zone, over the eight zones
of issue 9 (New York, London, Berlin, Lord Howe, Chatham, Kolkata, St John's, Kiritimati) —
configured through the real `GuildConfigService.set_checkins`, as `/config checkins` would.

Kindred is the real `python -m bot run`, unchanged, on a libfaketime clock running at normal
speed (x1): nothing is swept by hand, its own scheduler decides when. Once it is connected to
every server, its clock is set to 09:59:55 and the fake turns on a token bucket over all REST
requests: `--limit` per second with bursts of up to `--limit` (Discord's global rate limit; an
excess request gets a global 429 with `retry_after`, which discord.py honours). Measured: from
the instant Kindred's clock reads 10:00:00 to the last prompt the fake accepted. The ideal is
servers / limit (10 s for 500 at 50/s); the result is the ratio (target <= 1.1, median of
`--runs`).

The bare bot (`bench/_child.py bare`, a minimal discord.py client) is told to send the same
prompt text to the same channels at a given instant and does the obvious fast thing: all sends
at once with `asyncio.gather`, relying on discord.py's handling of the global 429s. It is
measured the same way, under the same limit, on a fresh fake, in the same run.

Also reported: that every server got exactly one prompt, and the 429s each earned.

`--latency` makes the fake answer every REST request that many seconds late, as a distant
Discord does (50-150 ms): a bot that sends one message at a time then cannot reach the limit.

Needs libfaketime (Debian: apt-get install faketime). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._support import bot_env, machine, median, start_child  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.db.database import Database  # noqa: E402
from bot.domain.clock import FakeClock  # noqa: E402
from bot.domain.localtime import format_hhmm, local_now, zone  # noqa: E402
from bot.fakediscord import Channel, FakeDiscord  # noqa: E402
from bot.services.container import build_services  # noqa: E402
from bot.services.ports import NoSending  # noqa: E402
from tests.e2e.helpers import BotProcess, run_cli  # noqa: E402
from tests.live.support import LiveClock, find_libfaketime, pace_heartbeats  # noqa: E402

DUE = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
LEAD = timedelta(seconds=5)  # Kindred's clock is set this long before the minute starts
ZONES = ("America/New_York", "Europe/London", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham",
         "Asia/Kolkata", "America/St_Johns", "Pacific/Kiritimati")
POSTS = "POST /channels/{channel_id}/messages"
TEXT = "**Daily check-in** · a prompt of the same size as Kindred's, with no buttons"


@dataclass
class Result:
    who: str
    limit: float
    total_s: float  # from the minute's start (or the bare bot's start instant) to the last accepted post
    first_s: float
    delivered: int
    duplicates: int
    rate_limited: int
    lost: int = 0  # messages the bot gave up on (discord.py raises after five 429s for one request)

    @property
    def ratio(self) -> float:
        return self.total_s / (self.delivered / self.limit)


async def configure(database: Path, channels: list[tuple[int, Channel]]) -> None:
    """Turn the daily prompt on in every server, due at DUE in its zone, through the real service."""
    db = Database(database)
    await db.open()
    await db.migrate()
    services = build_services(Config(database_path=database), db, FakeClock(DUE - timedelta(hours=1)), NoSending())
    for i, (guild_id, channel) in enumerate(channels):
        tz_name = ZONES[i % len(ZONES)]
        at = format_hhmm(local_now(DUE, zone(tz_name)).time())
        await services.guild_config.set_checkins(guild_id, channel_id=channel.id, time=at, timezone=tz_name)
    await db.close()


def world(fake: FakeDiscord, servers: int) -> list[Channel]:
    guilds = [fake.add_guild(f"Circle {i}", channels=["general", "check-ins"]) for i in range(servers)]
    return [g.channel("check-ins") for g in guilds]


def tally(fake: FakeDiscord, channels: list[Channel], since: int, start: float, who: str, limit: float,
          *, may_lose: bool = False) -> Result:
    posts = [r for r in fake.request_log[since:] if r.key == POSTS]
    accepted = [r for r in posts if r.status == 200]
    stored = Counter(m.channel.id for c in channels for m in fake.messages_in(c))
    lost = len(channels) - len(stored)
    if any(n != 1 for n in stored.values()) or (lost and not may_lose):
        raise SystemExit(f"{who}: not exactly one post per server: {len(stored)} servers got "
                         f"{sum(stored.values())} posts ({len(accepted)} accepted requests)")
    return Result(who, limit, max(r.at for r in accepted) - start, min(r.at for r in accepted) - start,
                  len(accepted), sum(stored.values()) - len(stored), sum(1 for r in posts if r.status == 429), lost)


async def kindred_run(servers: int, limit: float, folder: Path, library: Path, latency: float) -> Result:
    database = folder / "kindred.sqlite3"
    for stale in folder.glob("kindred.sqlite3*"):
        stale.unlink()
    async with FakeDiscord() as fake:
        channels = world(fake, servers)
        await configure(database, [(fake.world.guild_of(c).id, c) for c in channels])  # type: ignore[union-attr]
        env = bot_env(fake, database, KINDRED_LOG_LEVEL="WARNING")
        code, output = await run_cli("sync", env=env)
        if code:
            raise SystemExit(f"sync failed: {output}")
        clock = LiveClock(folder / "faketime.rc", library, DUE - timedelta(minutes=10), 1)
        pace_heartbeats(fake, 1)
        proc = BotProcess(fake, {**env, **clock.env(), "KINDRED_LOG_LEVEL": "INFO"})
        await proc.start()
        try:
            await proc.wait_ready(timeout=120)
            await fake.wait_for(lambda: len(fake.gateway.sent("GUILD_CREATE")) >= servers, 60, "every server")
            fake.faults.global_rate_limit(limit)  # a full bucket: bursts of `limit`, then `limit`/s
            fake.latency = latency
            since = len(fake.request_log)
            clock.jump(DUE - LEAD, 1)
            written = time.monotonic()
            # Make the bot read its clock at once (a heartbeat request), so the jump lands now.
            for conn in list(fake.gateway.connections):
                await conn.send({"op": 1, "d": None})
            minute = written + LEAD.total_seconds()
            await fake.wait_for(lambda: len({m.channel.id for c in channels for m in fake.messages_in(c)}) >= servers,
                                120, "every prompt")
            return tally(fake, channels, since, minute, "kindred", limit)
        finally:
            await proc.stop()


async def bare_run(servers: int, limit: float, folder: Path, latency: float) -> Result:
    async with FakeDiscord() as fake:
        channels = world(fake, servers)
        child = await start_child("bare", bot_env(fake, folder / "bare.sqlite3"), folder / "bare.log")
        try:
            await fake.wait_for(lambda: len(fake.gateway.sent("GUILD_CREATE")) >= servers, 60, "every server")
            fake.faults.global_rate_limit(limit)
            fake.latency = latency
            since = len(fake.request_log)
            start = time.monotonic() + 1.0
            await child.command("fanout", channels=[c.id for c in channels], at=start, text=TEXT)
            return tally(fake, channels, since, start, "bare discord.py", limit, may_lose=True)
        finally:
            await child.stop()


def report(r: Result) -> None:
    print(f"  {r.who:<16} last post {r.total_s:6.2f} s after the start (first {r.first_s:5.2f} s): "
          f"{r.ratio:.3f} x the ideal {r.delivered / r.limit:.1f} s; sent {r.delivered}, LOST {r.lost}, "
          f"429s answered {r.rate_limited}, duplicates {r.duplicates}", flush=True)


async def run(args: argparse.Namespace) -> None:
    library = find_libfaketime()
    if library is None:
        raise SystemExit("libfaketime is not installed (Debian: apt-get install faketime)")
    print(f"Prompt fan-out on the real scheduler, {machine()}")
    print(f"{args.servers} servers due at 10:00 UTC over {len(ZONES)} zones; global limit {args.limit:g}/s "
          f"(bursts of {args.limit:g}); every request answered after {args.latency * 1000:.0f} ms; "
          f"Kindred = `python -m bot run` on a libfaketime clock at x1")
    kindred, bare = [], []
    with tempfile.TemporaryDirectory(prefix="kindred-bench-fanout-") as tmp:
        for n in range(args.runs):
            print(f"run {n + 1}:")
            kindred.append(await kindred_run(args.servers, args.limit, Path(tmp), library, args.latency))
            report(kindred[-1])
            bare.append(await bare_run(args.servers, args.limit, Path(tmp), args.latency))
            report(bare[-1])
    ratio, bare_ratio = median([r.ratio for r in kindred]), median([r.ratio for r in bare])
    print(f"SUMMARY fanout{'' if not args.latency else f' ({args.latency * 1000:.0f} ms latency)'}: "
          f"{args.servers} prompts under {args.limit:g}/s, last one "
          f"{median([r.total_s for r in kindred]):.2f} s after the minute started (median of {len(kindred)}): "
          f"{ratio:.3f} x the ideal {args.servers / args.limit:.0f} s (runs: {', '.join(f'{r.ratio:.3f}' for r in kindred)}), "
          f"429s answered {', '.join(str(r.rate_limited) for r in kindred)}; target <= 1.1: "
          f"{'met' if ratio <= 1.1 else 'NOT met'}. Bare discord.py bot, all sends at once: "
          f"{median([r.total_s for r in bare]):.2f} s, {bare_ratio:.3f} x, 429s answered "
          f"{', '.join(str(r.rate_limited) for r in bare)}, messages lost {', '.join(str(r.lost) for r in bare)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=500)
    parser.add_argument("--limit", type=float, default=50.0, help="global requests per second")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (median reported)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the fake takes to answer each request")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
