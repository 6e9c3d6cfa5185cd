"""A bot in a child process for the benchmarks: `kindred` (KindredBot) or `bare` (a minimal discord.py bot).

Usage (from bench/_support.py): python bench/_child.py kindred|bare|bare-durable

Both connect to the REST base and gateway in DISCORD_API_BASE / DISCORD_GATEWAY_URL, print one
JSON line when ready, then answer JSON commands on stdin, one line each:

* ``{"cmd": "set", "iso": "..."}`` — move Kindred's FakeClock to an instant;
* ``{"cmd": "sweep"}`` — run every registered sweep once, then drain the outbox (what the
  scheduler does on each tick), and report monotonic timestamps: start, claimed, drained;
* ``{"cmd": "unpace"}`` — turn off the notifier's global-limit pacing (to compare);
* ``{"cmd": "objects"}`` — Python objects alive after a full collection, by type;
* ``{"cmd": "heap"}`` — where resident memory is: RssAnon and RssFile (MiB), and Python's
  small-object allocator: arenas held and the bytes in use in them (MiB);
* ``{"cmd": "buckets"}`` — (kindred) how many rate-limit buckets discord.py holds now;
* ``{"cmd": "fanout", "channels": [...], "at": T, "text": "..."}`` — (bare) at monotonic time T,
  send `text` to every channel at once;
* ``{"cmd": "quit"}`` — close the bot and exit.

With BENCH_PROFILE=<path> the whole run is profiled with cProfile, written to <path>.<mode>.

Kindred runs exactly as `python -m bot run` builds it (config from the environment, logging
at KINDRED_LOG_LEVEL) except that its clock is a FakeClock starting at KINDRED_BENCH_NOW
(default: now) and its sweeps run when told instead of on APScheduler's timer.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import discord  # noqa: E402
from discord import app_commands  # noqa: E402


def emit(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def serve(client: discord.Client, handlers: dict[str, Any]) -> None:
    """Start `client`, announce readiness, then answer commands until "quit"."""
    token = os.environ["DISCORD_TOKEN"]
    runner = asyncio.create_task(client.start(token))
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({runner, ready}, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        runner.result()
    emit({"ready": True, "guilds": len(client.guilds), "pid": os.getpid(), "at": time.monotonic()})
    reader = await stdin_lines()
    try:
        while line := await reader.readline():
            request = json.loads(line)
            cmd = request.pop("cmd")
            if cmd == "quit":
                break
            try:
                emit(await handlers[cmd](**request))
            except Exception as exc:  # report to the parent instead of dying silently
                emit({"error": f"{cmd}: {type(exc).__name__}: {exc}"})
    finally:
        await client.close()
        try:
            await asyncio.wait_for(runner, 10)
        except (TimeoutError, asyncio.CancelledError, Exception):
            runner.cancel()
    emit({"bye": True})


async def objects() -> dict[str, Any]:
    # Python objects alive after a full collection, by type: where memory growth lives.
    gc.collect()
    alive = gc.get_objects()
    counts = Counter(type(o).__qualname__ for o in alive)
    return {"objects": len(alive), "types": dict(counts.most_common(40))}


async def heap() -> dict[str, Any]:
    # Resident memory by kind, and how full Python's allocator's arenas are (freed objects
    # leave partly used arenas resident: RSS need not fall when objects are freed).
    gc.collect()
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    found = {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "RssAnon", "RssFile")}
    with tempfile.TemporaryFile("w+") as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        stats = out.read()
    arenas = re.search(r"# arenas allocated current\s*=\s*([\d,]+)", stats)
    in_use = re.search(r"# bytes in allocated blocks\s*=\s*([\d,]+)", stats)
    if "sqlite3" in sys.modules:  # the library _sqlite3 is linked to: its own count of what it holds
        import ctypes

        libsqlite = ctypes.CDLL("libsqlite3.so.0")
        libsqlite.sqlite3_memory_used.restype = ctypes.c_int64
        found["sqlite"] = libsqlite.sqlite3_memory_used() / 2**20
    if arenas and in_use:
        found["arenas"] = int(arenas.group(1).replace(",", ""))
        found["allocated"] = int(in_use.group(1).replace(",", "")) / 2**20
    return found


async def run_kindred() -> None:
    from bot.app import KindredBot
    from bot.config import load_config
    from bot.domain.clock import FakeClock
    from bot.logging_setup import configure_logging

    config = load_config()
    configure_logging(config.log_level)
    start = os.environ.get("KINDRED_BENCH_NOW")
    clock = FakeClock(datetime.fromisoformat(start) if start else datetime.now(UTC))
    bot = KindredBot(config, clock=clock, start_scheduler=False)

    async def set_(iso: str) -> dict[str, Any]:
        clock.set(datetime.fromisoformat(iso))
        return {"now": clock.now().isoformat()}

    async def sweep() -> dict[str, Any]:
        # The same work as SweepScheduler.run_all_once, timed in two parts.
        scheduler = bot.services.scheduler
        began = time.monotonic()
        claimed = 0
        for registered in scheduler.sweeps:
            claimed += await registered.run(clock.now())
        claimed_at = time.monotonic()
        sent = await bot.services.outbox.dispatch()
        return {"start": began, "claimed_at": claimed_at, "drained_at": time.monotonic(),
                "claimed": claimed, "attempted": sent}

    async def unpace() -> dict[str, Any]:
        # For comparison only: the notifier without its global-limit pacing.
        from bot.discord_notifier import DiscordNotifier, RequestPacer

        notifier = bot.services.notifier
        assert isinstance(notifier, DiscordNotifier)
        notifier.pacer = RequestPacer(limit=1_000_000)
        return {"paced": False}

    async def buckets() -> dict[str, Any]:
        return {"held": len(bot.http._buckets)}

    await serve(bot, {"set": set_, "sweep": sweep, "unpace": unpace, "objects": objects, "buckets": buckets,
                      "heap": heap})


def durable_write(conn: Any, mood: int, craving: int | None, note: str | None) -> None:
    """(bare-durable, in aiosqlite's thread) one check-in row, committed with its fsync."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO checkins (mood, craving, note) VALUES (?, ?, ?)", (mood, craving, note))
    conn.execute("COMMIT")


async def run_bare(durable: bool = False) -> None:
    # The smallest useful discord.py bot: a CommandTree with `/checkin` answering a constant
    # ephemeral reply. It takes the same options as Kindred's so the same payloads parse.
    # `durable` (bare-durable): before replying it commits one row through aiosqlite's database
    # thread (WAL, synchronous=FULL, one trip: BEGIN IMMEDIATE, INSERT, COMMIT) — the least any
    # bot that answers only after the check-in is on disk does with the stack's database library.
    import yarl

    discord.http.Route.BASE = os.environ["DISCORD_API_BASE"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    client = discord.Client(intents=discord.Intents(guilds=True))
    tree = app_commands.CommandTree(client)
    db = None
    if durable:
        import aiosqlite

        db = await aiosqlite.connect(os.environ["KINDRED_DATABASE"], isolation_level=None)
        for statement in ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                          "CREATE TABLE IF NOT EXISTS checkins (id INTEGER PRIMARY KEY, mood INTEGER NOT NULL, "
                          "craving INTEGER, note TEXT)"):
            await db.execute(statement)

    @tree.command(name="checkin", description="Check in")
    @app_commands.guild_only()
    async def checkin(interaction: discord.Interaction, mood: app_commands.Range[int, 1, 5],
                      craving: app_commands.Range[int, 0, 10] | None = None,
                      note: app_commands.Range[str, 1, 500] | None = None,
                      day: app_commands.Range[str, 1, 10] | None = None) -> None:
        if db is not None:
            await db._execute(durable_write, db._conn, mood, craving, note)
        await interaction.response.send_message("Thanks for checking in.", ephemeral=True)

    async def fanout(channels: list[int], at: float, text: str) -> dict[str, Any]:
        # What a bot without a scheduler or pacing would do at the minute: send everything at
        # once and let discord.py wait out the global 429s.
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        results = await asyncio.gather(*(client.get_partial_messageable(c).send(text) for c in channels),
                                       return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        return {"sent": len(results) - len(failed), "failed": len(failed), "done": time.monotonic()}

    await serve(client, {"fanout": fanout, "heap": heap})
    if db is not None:
        await db.close()


def main() -> None:
    mode = sys.argv[1]
    profile = os.environ.get("BENCH_PROFILE")  # a file: write cProfile stats of the whole run there
    if not profile:
        asyncio.run(run_kindred() if mode == "kindred" else run_bare(durable=mode == "bare-durable"))
        return
    import cProfile

    with cProfile.Profile() as profiler:
        asyncio.run(run_kindred() if mode == "kindred" else run_bare(durable=mode == "bare-durable"))
    profiler.dump_stats(f"{profile}.{mode}")


if __name__ == "__main__":
    main()
