"""Benchmark Kindred's resident memory with 1,000 servers connected, and its growth over simulated days.

Usage: python bench/bench_memory.py [--servers 1000] [--days 2] [--step-minutes 5] [--mystats 50] [--settle 130]

The fake Discord (in this process) holds `--servers` servers, each with #general, #check-ins
and #celebrations and four members. Resident memory is read from /proc/<pid>/status of the
bot's own process (VmRSS now, VmHWM the peak), for:

1. a bare discord.py client (`bench/_child.py bare`) connected to the same servers — what
   discord.py's caches cost on their own;
2. Kindred exactly as deployed, `python -m bot run`, on a fresh database, once ready;
3. Kindred (`bench/_child.py kindred`, FakeClock) on a database configured through the real
   services, as moderators and members would with their commands, three days before the
   simulated day: every server's daily prompt (zones and times spread over the day) and a
   celebrations channel; in each server member A has a 20:00 reminder, member B a recovery
   counter whose 7-day milestone falls on the simulated day (celebrated in the channel or by
   DM), member C is A's buddy, shares check-ins and never checks in (so A gets a nudge), and
   member D checks in too. Memory is read once connected, then after each simulated day.

A simulated day moves the bot's clock in `--step-minutes` steps; in each step the members'
actions that fall in it go through the fake as real interactions — `/checkin` (a fifth of
them from the daily prompt's button and modal) and `/pledge` at random times, and
`--mystats` `/mystats` charts in the day's last hour, so that their share (the chart renderer) is
measured apart — and then the bot runs its sweeps once and drains its outbox (prompts,
reminders, celebrations, nudges), as its scheduler would. Every sweep runs at every step, even the
hourly and daily ones, so a day here does more sweeping than a real one. Day two repeats day
one's pattern (new random times): growth from day one to day two, after the caches warmed
up, is what a leak would show.

Beside RSS each bot reports where its memory is (the child's `heap` command): anonymous and
file-backed resident memory, the arenas Python's small-object allocator holds and how much of
them is in use (freed objects can leave arenas resident), SQLite's own count of what it holds,
and, after the day, how many rate-limit buckets discord.py keeps.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._support import Child, bot_env, machine, memory_mib, start_child  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.db.sqlite import SqliteDatabase  # noqa: E402
from bot.domain.clock import FakeClock  # noqa: E402
from bot.fakediscord import FakeDiscord, Guild, InteractionHandle, User  # noqa: E402
from bot.services.container import build_services  # noqa: E402
from tests.e2e.helpers import BotProcess, run_cli  # noqa: E402
from tests.support import RecordingNotifier  # noqa: E402

DAY = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # the first simulated day (UTC)
SETUP = DAY - timedelta(days=3)
CHARTS_FROM = timedelta(hours=23)  # the day's /mystats charts come in its last hour, measured apart
ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Kolkata",
         "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns", "Asia/Tokyo",
         "America/Sao_Paulo", "Pacific/Kiritimati")


@dataclass
class Server:
    guild: Guild
    a: User  # reminder at 20:00; buddy of c
    b: User  # recovery counter, a milestone on the simulated day
    c: User  # a's buddy, shares check-ins, never checks in
    d: User


@dataclass(order=True)
class Action:
    at: datetime
    kind: str  # checkin | button | pledge | mystats
    server: int
    who: str


def build_world(fake: FakeDiscord, servers: int) -> list[Server]:
    world = []
    for i in range(servers):
        guild = fake.add_guild(f"Circle {i}", channels=["general", "check-ins", "celebrations"])
        members = [fake.add_user(f"s{i}-{name}") for name in "abcd"]
        for user in members:
            fake.add_member(guild, user)
        world.append(Server(guild, *members))
    return world


async def configure(database: Path, world: list[Server]) -> None:
    """Set every server and its members up through the real services (what their commands do)."""
    db = SqliteDatabase(database)
    await db.open()
    await db.migrate()
    s = build_services(Config(database_path=database), db, FakeClock(SETUP), RecordingNotifier())
    milestone_start = (DAY - timedelta(days=7)).date().isoformat()
    for i, server in enumerate(world):
        gid = server.guild.id
        await s.guild_config.set_checkins(gid, channel_id=server.guild.channel("check-ins").id,
                                          time=f"{6 + i % 5:02d}:{(i * 7) % 60:02d}", timezone=ZONES[i % len(ZONES)])
        await s.guild_config.set_celebrations(gid, channel_id=server.guild.channel("celebrations").id)
        await s.checkins.set_reminder(gid, server.a.id, "20:00")
        public = i % 2 == 0
        await s.recovery.start(gid, server.b.id, milestone_start, visibility="server" if public else None)
        if public:
            await s.recovery.update_settings(gid, server.b.id, "recovery", celebrate="channel")
        await s.settings.set_share_checkins(gid, server.c.id, "buddies")
        await s.buddies.request(gid, server.a.id, server.c.id)
        await s.buddies.accept(gid, server.c.id, server.a.id)
    await db.close()


def plan_day(day: datetime, servers: int, mystats: int, rng: random.Random) -> list[Action]:
    def at() -> datetime:
        return day + timedelta(seconds=rng.randrange(24 * 3600))

    actions = []
    for i in range(servers):
        for who in "abd":
            kind = "button" if rng.random() < 0.2 else "checkin"
            actions.append(Action(at(), kind, i, who))
        actions.append(Action(at(), "pledge", i, "b"))
    for i in rng.sample(range(servers), mystats):
        actions.append(Action(day + CHARTS_FROM + timedelta(minutes=rng.randrange(59)), "mystats", i, "d"))
    return sorted(actions)


class Day:
    """Plays one simulated day against the bot child, step by step."""

    def __init__(self, fake: FakeDiscord, world: list[Server], child: Child, rng: random.Random) -> None:
        self.fake, self.world, self.child, self.rng = fake, world, child, rng
        self.counts: dict[str, int] = {}
        self.before_charts_mib = float("nan")

    async def act(self, action: Action) -> None:
        fake, server = self.fake, self.world[action.server]
        user, guild = getattr(server, action.who), server.guild
        channel = guild.channel("check-ins")
        mood, craving = self.rng.randint(1, 5), self.rng.randint(0, 10)
        kind = action.kind
        prompt = fake.find_messages("kindred:checkin") if kind == "button" else []
        prompt = [m for m in prompt if m.channel is channel]
        handle: InteractionHandle
        if kind == "button" and prompt:
            opened = await fake.click(prompt[-1], user=user, custom_id="kindred:checkin")
            await opened.modal(timeout=60)
            handle = await fake.submit_modal("kindred:checkin:modal", {"mood": str(mood), "craving": str(craving),
                                                                       "note": "slept better"}, user=user)
        elif kind in ("checkin", "button"):
            kind = "checkin"
            handle = await fake.slash("/checkin", user=user, guild=guild, in_channel=channel, mood=mood, craving=craving)
        elif kind == "pledge":
            handle = await fake.slash("/pledge", user=user, guild=guild, in_channel=channel)
        else:
            handle = await fake.slash("/mystats", user=user, guild=guild, in_channel=channel)
        reply = await handle.reply(timeout=60)
        if reply.text.startswith("Sorry —"):
            raise RuntimeError(f"{kind}: the bot apologised: {reply.text[:80]}")
        self.counts[kind] = self.counts.get(kind, 0) + 1

    async def play(self, day: datetime, step: timedelta, actions: list[Action]) -> None:
        pending = list(actions)
        t = day
        while t < day + timedelta(days=1):
            if t == day + CHARTS_FROM:  # everything but the evening's charts is done
                self.before_charts_mib = memory_mib(self.child.pid)[0]
            t += step
            await self.child.command("set", iso=t.isoformat())
            due, pending = [a for a in pending if a.at < t], [a for a in pending if a.at >= t]
            await asyncio.gather(*(self.act(a) for a in due))
            await self.child.command("sweep")


def delivered(fake: FakeDiscord, since: int) -> dict[str, int]:
    """What the bot sent after message `since`: prompts, celebrations, DMs."""
    bot = fake.bot
    sent = [m for m in list(fake.world.messages.values())[since:] if m.author is bot and not m.ephemeral
            and m.interaction_id is None]
    return {
        "prompts": sum(1 for m in sent if "kindred:checkin" in m.custom_ids),
        "channel celebrations": sum(1 for m in sent if m.channel.name == "celebrations"),
        "DMs": sum(1 for m in sent if m.channel.is_dm),  # reminders, celebrations, nudges
    }


def grown(before: dict[str, int], after: dict[str, int], top: int = 5) -> str:
    deltas = sorted(((n - before.get(name, 0), name) for name, n in after.items()), reverse=True)[:top]
    return ", ".join(f"{name} {delta:+,}" for delta, name in deltas)


def show(label: str, rss: float, hwm: float | None = None, extra: str = "") -> None:
    peak = f"  (peak {hwm:6.1f} MiB)" if hwm is not None else ""
    print(f"  {label:<52} RSS {rss:6.1f} MiB{peak}{extra}", flush=True)


def heap_note(heap: dict[str, float]) -> str:
    """Where the resident memory is (the child's `heap` command, read after RSS)."""
    arenas = (f"; Python's allocator: {heap['arenas']:.0f} arenas (1 MiB), {heap['allocated']:.1f} MiB in use"
              if "arenas" in heap else "")
    sqlite = f"; SQLite {heap['sqlite']:.1f} MiB" if "sqlite" in heap else ""
    return f"  [anonymous {heap['RssAnon']:.1f} MiB, file-backed {heap['RssFile']:.1f} MiB{arenas}{sqlite}]"


async def settled_memory(pid: int) -> tuple[float, float]:
    await asyncio.sleep(3)  # let start-up work (GUILD_CREATE handling, the first sweep) finish
    return memory_mib(pid)


async def run(args: argparse.Namespace) -> None:
    print(f"Memory, {machine()}")
    print(f"{args.servers} servers, 4 members each; fake in this process, each bot in its own process")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="kindred-bench-mem-") as tmp:
        folder = Path(tmp)
        async with FakeDiscord() as fake:
            world = build_world(fake, args.servers)
            fresh = folder / "fresh.sqlite3"
            database = folder / "kindred.sqlite3"
            code, out = await run_cli("sync", env=bot_env(fake, folder / "sync.sqlite3"))
            if code != 0:
                raise SystemExit(f"sync failed: {out}")
            started = time.monotonic()
            await configure(database, world)
            print(f"  (configured {args.servers} servers through the services in {time.monotonic() - started:.0f} s)")

            bare = await start_child("bare", bot_env(fake, fresh), folder / "bare.log")
            try:
                bare_rss = await settled_memory(bare.pid)
                show(f"bare discord.py client, {args.servers} servers", *bare_rss,
                     extra=heap_note(await bare.command("heap")))
            finally:
                await bare.stop()

            cli = BotProcess(fake, bot_env(fake, fresh))
            await cli.start()
            try:
                await cli.wait_ready(timeout=120)
                assert cli.proc is not None
                show(f"python -m bot run, {args.servers} servers, fresh database", *await settled_memory(cli.proc.pid))
            finally:
                await cli.stop()

            env = bot_env(fake, database, KINDRED_BENCH_NOW=(DAY - timedelta(minutes=1)).isoformat())
            child = await start_child("kindred", env, folder / "kindred.log")
            try:
                assert child.ready["guilds"] == args.servers, child.ready
                start_rss, _ = await settled_memory(child.pid)
                baseline = await child.command("objects")
                show("Kindred (FakeClock), configured database, connected", start_rss,
                     extra=f"  [{baseline['objects']:,} Python objects]" + heap_note(await child.command("heap")))
                await child.command("sweep")  # the late work of the day before, and the buddy notices
                after: list[float] = []
                before_charts: list[float] = []
                for n in range(args.days):
                    day = DAY + timedelta(days=n)
                    actions = plan_day(day, args.servers, args.mystats, rng)
                    since = len(fake.world.messages)
                    player = Day(fake, world, child, rng)
                    began = time.monotonic()
                    await player.play(day, timedelta(minutes=args.step_minutes), actions)
                    rss, peak = memory_mib(child.pid)
                    after.append(rss)
                    before_charts.append(player.before_charts_mib)
                    alive = await child.command("objects")
                    buckets = await child.command("buckets")
                    heap = await child.command("heap")
                    show(f"Kindred after simulated day {n + 1}", rss, peak,
                         f"  [before the evening's charts {player.before_charts_mib:.1f} MiB; "
                         f"{time.monotonic() - began:.0f} s; members: {player.counts}; "
                         f"bot sent: {delivered(fake, since)}; {buckets['held']:,} rate-limit buckets; "
                         f"{alive['objects']:,} Python objects, "
                         f"most grown since connected: {grown(baseline['types'], alive['types'])}]"
                         + heap_note(heap))
                if args.settle:
                    # A real day's sends are spread over hours, so its process holds only the last
                    # minute's rate-limit buckets; this day is compressed into minutes. Idle, the bot's
                    # own once-a-minute release runs as in any process; this is what it settles at.
                    await asyncio.sleep(args.settle)
                    settled, _ = memory_mib(child.pid)
                    buckets = await child.command("buckets")
                    show(f"Kindred after {args.settle:g} s idle", settled,
                         extra=f"  [{buckets['held']:,} rate-limit buckets]" + heap_note(await child.command("heap")))
            finally:
                await child.stop()
    later = [f"day {n + 1} {after[n]:.1f} MiB ({after[n] - after[n - 1]:+.1f})" for n in range(1, len(after))]
    print("; ".join([
        f"SUMMARY memory: {args.servers} servers connected: Kindred RSS {start_rss:.1f} MiB (target <= 150 MB: "
        f"{'met' if start_rss * 1.048576 <= 150 else 'NOT met'})",
        f"after day 1 without its charts {before_charts[0]:.1f} MiB ({before_charts[0] - start_rss:+.1f}), "
        f"with {args.mystats} /mystats charts {after[0]:.1f} MiB ({after[0] - start_rss:+.1f})",
        *later, *([f"after {args.settle:g} s idle {settled:.1f} MiB"] if args.settle else []), f"peak {peak:.1f} MiB"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--step-minutes", type=int, default=5)
    parser.add_argument("--mystats", type=int, default=50, help="/mystats charts per day")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--settle", type=float, default=130.0,
                        help="real seconds the bot then sits idle before a last measurement (0: none)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
