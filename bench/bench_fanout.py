"""Benchmark the daily prompt fan-out: 500 servers due in the same minute, under Discord's global limit.

Usage: python bench/bench_fanout.py [--servers 500] [--limit 50] [--runs 3]

Each run builds a fresh fake Discord (in this process) with `--servers` servers, each with a
#check-ins channel, and a fresh Kindred database in which every server's daily prompt is due
at 10:00 UTC on 2026-11-21 — at the local time that instant has in its zone, over the eight
zones of issue 9 (New York, London, Berlin, Lord Howe, Chatham, Kolkata, St John's, Kiritimati).
The database is configured through the real `GuildConfigService.set_checkins`, as `/config
checkins` would. Kindred then runs in a child process (`bench/_child.py kindred`, FakeClock 30 s
before the prompts), connects to all the servers, and the fake turns on a token bucket over
all REST requests: `--limit` per second with bursts of up to `--limit` (Discord's global rate
limit; an excess request gets a global 429 with `retry_after`, which discord.py honours).

Measured: the child's clock moves to 10:00:30 and it runs its sweeps once, then drains the
outbox — what the scheduler does on each tick. Total time is from the sweep's start to the
last prompt the fake accepted (both monotonic clocks of the same machine); the ideal is
servers / limit = 10 s, and the ratio total / ideal is the result (target <= 1.1, median of
`--runs`). Also reported: the claim (sweep transaction) and drain times, how many 429s the
fake answered, that every server got exactly one prompt, and the fake's and the bot's CPU
use during the run (the fake is far from being the bottleneck at these rates).

Kindred's notifier keeps its requests under Discord's limit itself (`RequestPacer` in
bot/discord_notifier.py: at most 48 start in any second). Two runs with the pacing turned off
come first, for comparison: without a limit (how fast the bot sends on its own) and under the
limit (what relying on discord.py's reaction to 429s alone costs).

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._support import bot_env, cpu_seconds, machine, median, start_child  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.db.sqlite import SqliteDatabase  # noqa: E402
from bot.domain.clock import FakeClock  # noqa: E402
from bot.domain.localtime import format_hhmm, local_now, zone  # noqa: E402
from bot.services.container import build_services  # noqa: E402
from tests.fakediscord import Channel, FakeDiscord  # noqa: E402
from tests.support import RecordingNotifier  # noqa: E402

DUE = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
ZONES = ("America/New_York", "Europe/London", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham",
         "Asia/Kolkata", "America/St_Johns", "Pacific/Kiritimati")
PROMPTS = "POST /channels/{channel_id}/messages"


@dataclass
class Result:
    paced: bool
    limit: float | None
    total_s: float
    claim_s: float
    drain_s: float
    delivered: int
    duplicates: int
    rate_limited: int
    fake_cpu_share: float
    bot_cpu_share: float

    @property
    def ideal_s(self) -> float | None:
        return None if self.limit is None else self.delivered / self.limit


async def configure(database: Path, channels: list[tuple[int, Channel]]) -> None:
    """Turn the daily prompt on in every server, due at DUE in its zone, through the real service."""
    db = SqliteDatabase(database)
    await db.open()
    await db.migrate()
    services = build_services(Config(database_path=database), db, FakeClock(DUE - timedelta(hours=1)),
                              RecordingNotifier())
    for i, (guild_id, channel) in enumerate(channels):
        tz_name = ZONES[i % len(ZONES)]
        at = format_hhmm(local_now(DUE, zone(tz_name)).time())
        await services.guild_config.set_checkins(guild_id, channel_id=channel.id, time=at, timezone=tz_name)
    await db.close()


async def one_run(servers: int, limit: float | None, folder: Path, *, paced: bool = True) -> Result:
    database = folder / "kindred.sqlite3"
    database.unlink(missing_ok=True)
    async with FakeDiscord() as fake:
        guilds = [fake.add_guild(f"Circle {i}", channels=["general", "check-ins"]) for i in range(servers)]
        channels = [(g.id, g.channel("check-ins")) for g in guilds]
        await configure(database, channels)
        env = bot_env(fake, database, KINDRED_BENCH_NOW=(DUE - timedelta(seconds=30)).isoformat())
        child = await start_child("kindred", env, folder / "kindred.log")
        try:
            assert child.ready["guilds"] == servers, child.ready
            if not paced:
                await child.command("unpace")
            await child.command("sweep")  # nothing is due yet: the start-up repair and an idle pass
            if limit is not None:
                fake.faults.global_rate_limit(limit)  # a full bucket: bursts of `limit`, then `limit`/s
            before = len(fake.request_log)
            await child.command("set", iso=(DUE + timedelta(seconds=30)).isoformat())
            # No collection pauses in the fake while it is measured (they would be counted
            # against the bot); the bot's own collector is untouched.
            gc.collect()
            gc.disable()
            try:
                cpu_fake, cpu_bot = time.process_time(), cpu_seconds(child.pid)
                sweep = await child.command("sweep")
                cpu_fake, cpu_bot = time.process_time() - cpu_fake, cpu_seconds(child.pid) - cpu_bot
            finally:
                gc.enable()
        finally:
            await child.stop()
        posts = [r for r in fake.request_log[before:] if r.key == PROMPTS]
        accepted = [r for r in posts if r.status == 200]
        per_channel = Counter(r.path for r in accepted)
        wanted = {f"/channels/{c.id}/messages" for _, c in channels}
        stored = Counter(m.channel.id for _, c in channels for m in fake.messages_in(c))
        if set(per_channel) != wanted or any(n != 1 for n in stored.values()) or len(stored) != servers:
            raise SystemExit(f"not exactly one prompt per server: {len(stored)} servers got "
                             f"{sum(stored.values())} prompts; {len(accepted)} accepted requests")
        last = max(r.at for r in accepted)
        wall = sweep["drained_at"] - sweep["start"]
        return Result(
            paced=paced, limit=limit, total_s=last - sweep["start"], claim_s=sweep["claimed_at"] - sweep["start"],
            drain_s=sweep["drained_at"] - sweep["claimed_at"], delivered=len(accepted),
            duplicates=sum(stored.values()) - servers,
            rate_limited=sum(1 for r in posts if r.status == 429),
            fake_cpu_share=cpu_fake / wall, bot_cpu_share=cpu_bot / wall,
        )


def report(label: str, r: Result) -> None:
    ideal = f"ideal {r.ideal_s:.1f} s, ratio {r.total_s / r.ideal_s:.3f}" if r.ideal_s else "no limit"
    print(f"  {label:<20} total {r.total_s:6.2f} s ({ideal})  claim {r.claim_s * 1000:6.0f} ms  "
          f"drain {r.drain_s:6.2f} s  sent {r.delivered} ({r.delivered / r.total_s:5.1f}/s)  "
          f"429s answered {r.rate_limited}  duplicates {r.duplicates}  "
          f"CPU: fake {r.fake_cpu_share:.0%}, bot {r.bot_cpu_share:.0%} of a core", flush=True)


async def run(args: argparse.Namespace) -> None:
    print(f"Prompt fan-out, {machine()}")
    print(f"{args.servers} servers due at the same minute over {len(ZONES)} zones; "
          f"global limit {args.limit:g}/s (bursts of {args.limit:g}); fake in this process, Kindred in a child")
    with tempfile.TemporaryDirectory(prefix="kindred-bench-fanout-") as tmp:
        folder = Path(tmp)
        # For comparison, the bot without its pacing: how fast it sends on its own, and what
        # that earns under the limit.
        free = await one_run(args.servers, None, folder, paced=False)
        report("unpaced, no limit", free)
        unpaced = await one_run(args.servers, args.limit, folder, paced=False)
        report(f"unpaced, {args.limit:g}/s", unpaced)
        limited = []
        for n in range(args.runs):
            limited.append(await one_run(args.servers, args.limit, folder))
            report(f"paced, {args.limit:g}/s #{n + 1}", limited[-1])
    ratios = [r.total_s / (r.ideal_s or 1) for r in limited]
    ratio = median(ratios)
    print(f"SUMMARY fanout: {args.servers} prompts under {args.limit:g}/s in {median([r.total_s for r in limited]):.2f} s "
          f"(median of {len(limited)}), ratio to the ideal {args.servers / args.limit:.0f} s {ratio:.3f} "
          f"(runs: {', '.join(f'{x:.3f}' for x in ratios)}); 429s answered per run "
          f"{', '.join(str(r.rate_limited) for r in limited)}; target <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'}. "
          f"Without pacing: {free.delivered / free.total_s:.0f} sends/s on its own; under the limit ratio "
          f"{unpaced.total_s / (unpaced.ideal_s or 1):.3f} with {unpaced.rate_limited} 429s answered")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=500)
    parser.add_argument("--limit", type=float, default=50.0, help="global requests per second")
    parser.add_argument("--runs", type=int, default=3, help="runs under the limit (median reported)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
