"""Benchmark the `/checkin` round trip through the loopback fake Discord, beside a bare discord.py bot.

Usage: python bench/bench_interactions.py [--rate 100] [--seconds 20] [--rounds 3] [--members 300] [--no-tmpfs]
       [--no-floor]

Open loop: the fake (in this process) sends INTERACTION_CREATE for `/checkin` at a fixed rate
for `--seconds`, whatever the bot is doing, and records for each interaction the time from
just before it sent the event to the moment the bot's callback (the ephemeral reply) arrived.
The bots take turns against the same fake, each in its own child process:

* `kindred` (`bench/_child.py kindred`): the real KindredBot; each `/checkin` reads the
  member's zone, then commits the check-in and the member's "last active" write in one
  transaction (WAL, synchronous=FULL: an fsync per check-in) before replying;
* `bare`: a minimal `discord.Client` + `CommandTree` whose `/checkin` (same options) answers
  a constant ephemeral reply;
* `kindred-tmpfs` (diagnostic, skip with --no-tmpfs): Kindred with its database on /dev/shm,
  where fsync costs nothing, to separate the bot's own cost from the disk's;
* `bare-durable` (diagnostic, skip with --no-floor): the bare bot, except that before its
  constant reply it commits one row through aiosqlite's database thread on the same disk (WAL,
  synchronous=FULL, BEGIN IMMEDIATE / INSERT / COMMIT in one trip) — the least any bot does
  that answers a check-in only once it is on disk, with the stack's database library: the
  floor under Kindred's figure.

Rounds alternate (A B C, C B A, ...) so a drift in the machine's load hits every bot alike;
each round starts a fresh child, warms it up with one second of traffic, then measures.
Check-ins cycle over `--members` members with seeded random mood, craving and (for a third)
a note. Reported per bot: p50/p99/max over all measured interactions (pooled) and the median
of the rounds' p99s; the target is Kindred's p99 within 1.5x the bare bot's.

So the numbers are honest about the fake and the machine, each round also reports the fake's
and the bot's CPU use (per interaction and as a share of one core), how late the fake sent
events against the fixed schedule and the fake's worst event-loop stall (a saturated or
descheduled fake shows here; its garbage collector is paused during measured rounds, or its
growing logs would make each round's pauses longer), and the worst fsync of a probe thread
writing 4 KiB + fsync every 100 ms beside the database (the virtual disk's stalls show here).

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._support import (  # noqa: E402
    Child,
    bot_env,
    cpu_seconds,
    machine,
    median,
    memory_mib,
    percentile,
    start_child,
)
from bot.fakediscord import Channel, FakeDiscord, Guild, InteractionHandle, User  # noqa: E402
from tests.e2e.helpers import run_cli  # noqa: E402

WARMUP_SECONDS = 1.0
LATE_MS = 5.0  # a send later than this against the schedule counts as late
TARGET = 1.5  # Kindred's p99 at most this many times the bare bot's (issue 15)
APOLOGY = "Sorry —"  # how Kindred's generic and database-trouble replies begin


@dataclass
class Round:
    bot: str
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    missing: int = 0
    apologies: int = 0
    late_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    fake_cpu_s: float = 0.0
    bot_cpu_s: float = 0.0
    bot_rss_mib: float = 0.0
    fsync_max_ms: float = 0.0
    fake_stall_ms: float = 0.0

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


class DiskProbe:
    """A thread that writes 4 KiB and fsyncs every 100 ms; remembers the slowest fsync."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "fsync-probe"
        self.worst_ms = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while not self._stop.wait(0.1):
                started = time.perf_counter()
                os.pwrite(fd, os.urandom(4096), 0)
                os.fsync(fd)
                self.worst_ms = max(self.worst_ms, (time.perf_counter() - started) * 1000)
        finally:
            os.close(fd)

    def __enter__(self) -> DiskProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class World:
    def __init__(self, fake: FakeDiscord, members: int, seed: int) -> None:
        self.fake = fake
        self.guild: Guild = fake.add_guild("Bench Circle", channels=["general", "check-ins"])
        self.channel: Channel = self.guild.channel("check-ins")
        self.users: list[User] = []
        for i in range(members):
            user = fake.add_user(f"member{i}")
            fake.add_member(self.guild, user)
            self.users.append(user)
        self.random = random.Random(seed)
        self.next_user = 0

    async def checkin(self) -> InteractionHandle:
        user = self.users[self.next_user % len(self.users)]
        self.next_user += 1
        options: dict[str, object] = {"mood": self.random.randint(1, 5), "craving": self.random.randint(0, 10)}
        if self.random.random() < 1 / 3:
            options["note"] = "a quiet day, walked to the shop and back"
        return await self.fake.slash("/checkin", user=user, guild=self.guild, in_channel=self.channel, **options)


async def open_loop(world: World, rate: float, seconds: float, late_ms: list[float] | None = None) -> list[InteractionHandle]:
    """Send `/checkin` at a fixed rate for `seconds`, never waiting for answers; return the handles."""
    loop = asyncio.get_running_loop()
    handles = []
    start = loop.time()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif late_ms is not None and -delay * 1000 > LATE_MS:
            late_ms.append(-delay * 1000)
        handles.append(await world.checkin())
    return handles


async def answered(fake: FakeDiscord, handles: list[InteractionHandle], timeout: float = 30.0) -> None:
    pending = [h for h in handles if h.callback_type is None]
    try:
        await fake.wait_for(lambda: not [h for h in pending if h.callback_type is None], timeout,
                            "every interaction to be answered")
    except TimeoutError:
        pass  # counted as unanswered


async def loop_stalls(worst: list[float]) -> None:
    """Record the fake's worst event-loop stall (how late a 1 ms sleep wakes up)."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(0.001)
        worst[0] = max(worst[0], (loop.time() - before - 0.001) * 1000)


async def one_round(world: World, child: Child, name: str, rate: float, seconds: float, folder: Path) -> Round:
    fake = world.fake
    await answered(fake, await open_loop(world, rate, WARMUP_SECONDS))
    result = Round(name)
    # The fake keeps every request, frame and message; a full garbage collection over all of
    # that would stall it for longer each round and be measured as the bot's latency. So the
    # collector is off while a round is measured (the bots' own collectors are untouched).
    gc.collect()
    gc.freeze()
    gc.disable()
    stall = [0.0]
    monitor = asyncio.create_task(loop_stalls(stall))
    try:
        with DiskProbe(folder) as probe:
            cpu_fake, cpu_bot, wall = time.process_time(), cpu_seconds(child.pid), time.monotonic()
            handles = await open_loop(world, rate, seconds, result.late_ms)
            await answered(fake, handles)
            result.wall_s = time.monotonic() - wall
            result.fake_cpu_s = time.process_time() - cpu_fake
            result.bot_cpu_s = cpu_seconds(child.pid) - cpu_bot
    finally:
        monitor.cancel()
        gc.enable()
    result.fsync_max_ms = probe.worst_ms
    result.fake_stall_ms = stall[0]
    result.bot_rss_mib = memory_mib(child.pid)[0]
    result.sent = len(handles)
    for h in handles:
        if h.acknowledged_at is None:
            result.missing += 1
            continue
        result.latencies_ms.append((h.acknowledged_at - h.created_at) * 1000)
        if h.original is None or h.original.content.startswith(APOLOGY):
            result.apologies += 1
    return result


def report_round(n: int, r: Round) -> None:
    print(f"  round {n:>2} {r.bot:<13} p50 {r.p50:6.2f} ms  p99 {r.p99:7.2f} ms  "
          f"max {max(r.latencies_ms, default=float('nan')):7.2f} ms  sent {r.sent}  "
          f"unanswered {r.missing}  apologies {r.apologies}  "
          f"CPU per interaction: fake {r.fake_cpu_s / r.sent * 1000:.2f} ms, bot {r.bot_cpu_s / r.sent * 1000:.2f} ms "
          f"({r.fake_cpu_s / r.wall_s:.0%} / {r.bot_cpu_s / r.wall_s:.0%} of a core)  "
          f"sends >{LATE_MS:g} ms late {len(r.late_ms)} (worst {max(r.late_ms, default=0):.0f} ms)  "
          f"worst fake stall {r.fake_stall_ms:.0f} ms  "
          f"worst probe fsync {r.fsync_max_ms:.0f} ms  bot RSS {r.bot_rss_mib:.0f} MiB", flush=True)


def summary(rounds: list[Round]) -> None:
    print()
    print(f"{'bot':<14} {'interactions':>12} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'median of round p99s':>21}")
    stats: dict[str, tuple[float, float, float]] = {}
    for name in dict.fromkeys(r.bot for r in rounds):
        mine = [r for r in rounds if r.bot == name]
        pooled = [x for r in mine for x in r.latencies_ms]
        stats[name] = (percentile(pooled, 50), percentile(pooled, 99), median([r.p99 for r in mine]))
        print(f"{name:<14} {len(pooled):>12} {stats[name][0]:>8.2f} {stats[name][1]:>8.2f} {max(pooled):>8.2f} "
              f"{stats[name][2]:>21.2f}")
    k, b = stats["kindred"], stats["bare"]
    ratio, round_ratio = k[1] / b[1], k[2] / b[2]
    tmpfs = (f"; on tmpfs p99 {stats['kindred-tmpfs'][1]:.2f} ms, ratio {stats['kindred-tmpfs'][1] / b[1]:.2f}"
             if "kindred-tmpfs" in stats else "")
    if "bare-durable" in stats:
        d = stats["bare-durable"]
        tmpfs += (f"; the durable floor (bare-durable) p99 {d[1]:.2f} ms, ratio to bare {d[1] / b[1]:.2f} "
                  f"(median of rounds {d[2] / b[2]:.2f}), Kindred to the floor {k[1] / d[1]:.2f} "
                  f"(median of rounds {k[2] / d[2]:.2f})")
    failures = sum(r.missing + r.apologies for r in rounds)
    print(f"SUMMARY interactions: Kindred p50 {k[0]:.2f} ms, p99 {k[1]:.2f} ms; bare p50 {b[0]:.2f} ms, "
          f"p99 {b[1]:.2f} ms; p99 ratio {ratio:.2f} (median of rounds {round_ratio:.2f}){tmpfs}; "
          f"target <= 1.5: {'met' if ratio <= TARGET else 'NOT met'}; unanswered or apologies: {failures}")


async def run(args: argparse.Namespace) -> None:
    print(f"Interaction round trip, {machine()}")
    print(f"/checkin at {args.rate:g}/s for {args.seconds:g} s per round, {args.rounds} round(s) per bot, "
          f"{args.members} members; fake in this process, each bot in its own process")
    bots = ["kindred", "bare"] + (["bare-durable"] if args.floor else []) + (["kindred-tmpfs"] if args.tmpfs else [])
    order = [name for i in range(args.rounds) for name in (bots if i % 2 == 0 else bots[::-1])]
    with tempfile.TemporaryDirectory(prefix="kindred-bench-ix-") as tmp, \
            tempfile.TemporaryDirectory(prefix="kindred-bench-ix-", dir="/dev/shm") as shm:
        folder = Path(tmp)
        databases = {"kindred": folder / "kindred.sqlite3", "bare": folder / "unused.sqlite3",
                     "bare-durable": folder / "bare-durable.sqlite3", "kindred-tmpfs": Path(shm) / "kindred.sqlite3"}
        async with FakeDiscord() as fake:
            world = World(fake, args.members, args.seed)
            code, out = await run_cli("sync", env=bot_env(fake, databases["kindred"]))
            if code != 0:
                raise SystemExit(f"sync failed: {out}")
            rounds: list[Round] = []
            for n, name in enumerate(order, 1):
                child = await start_child(name.removesuffix("-tmpfs"), bot_env(fake, databases[name]),
                                          folder / f"{name}.log")
                try:
                    rounds.append(await one_round(world, child, name, args.rate, args.seconds, folder))
                finally:
                    await child.stop()
                report_round(n, rounds[-1])
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    summary(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="interactions per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per bot")
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--no-tmpfs", dest="tmpfs", action="store_false",
                        help="skip the diagnostic Kindred rounds with the database on /dev/shm")
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip the diagnostic rounds of the bare bot with one durable write (bare-durable)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
