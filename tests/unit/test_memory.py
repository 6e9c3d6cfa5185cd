"""Resident memory: what the running bot keeps (bench/README.md, "Memory", has the measurements)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import discord
import pytest

from bot import app as bot_app
from bot.app import EXTENSIONS, RATELIMIT_IDLE, KindredBot, drop_idle_ratelimits
from bot.config import Config
from tests.support import PAGE_CACHES_RELEASED, fill_page_caches, sqlite_memory_used

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after_import(modules: tuple[str, ...], *watched: str) -> list[str]:
    """Import `modules` in a fresh interpreter; return which of `watched` are then loaded."""
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(','.join(m for m in {watched!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return [m for m in result.stdout.strip().split(",") if m]


def test_phone_number_library_loads_only_when_a_number_is_checked() -> None:
    # phonenumbers (58 modules, ~1.8 MiB) checks the numbers moderators add to the crisis
    # directory, a rare command: a bot that never sees one should not keep it resident.
    assert _loaded_after_import(("bot.app", *EXTENSIONS), "phonenumbers") == []
    assert _loaded_after_import(("bot.domain.contacts",), "phonenumbers") == []
    code = "from bot.domain.contacts import check_contact; print(check_contact('116 123', 'GB').text)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "116 123"


async def test_idle_rate_limit_buckets_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    # discord.py keeps a rate-limit bucket per channel, DM and interaction token it has sent to,
    # and drops idle ones only when it creates a new one above 256: a day's burst of sends stays.
    loop = asyncio.get_running_loop()
    now = [loop.time()]
    monkeypatch.setattr(loop, "time", lambda: now[0])
    http = discord.http.HTTPClient(loop)
    idle = http.get_ratelimit("POST /channels/{channel_id}/messages:1")
    busy = http.get_ratelimit("POST /channels/{channel_id}/messages:2")
    await busy.acquire()  # a request in flight
    limited = http.get_ratelimit("POST /channels/{channel_id}/messages:3")
    now[0] += RATELIMIT_IDLE - 1
    limited.expires = now[0] + 30  # exhausted: its window resets in 30 s, what it knows still matters
    recent = http.get_ratelimit("POST /channels/{channel_id}/messages:4")
    now[0] += 2

    assert drop_idle_ratelimits(http) == 1

    assert set(http._buckets.values()) == {busy, limited, recent}
    assert idle not in http._buckets.values()
    await busy.__aexit__(None, None, None)  # the request ends
    now[0] += RATELIMIT_IDLE
    assert drop_idle_ratelimits(http) == 3
    assert http._buckets == {}


async def test_the_bot_drops_idle_buckets_when_it_hands_memory_back(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    now = [loop.time()]
    monkeypatch.setattr(loop, "time", lambda: now[0])
    bot = KindredBot(Config(database_path=tmp_path / "k.sqlite3"), start_scheduler=False)
    try:
        bot.http.get_ratelimit("POST /channels/{channel_id}/messages:1")
        now[0] += RATELIMIT_IDLE
        await bot.release_memory()  # what the bot does once a minute
        assert bot.http._buckets == {}
    finally:
        await bot.close()


async def test_the_bots_release_reaches_the_database_caches(tmp_path: Path) -> None:
    bot = KindredBot(Config(database_path=tmp_path / "k.sqlite3"), start_scheduler=False)
    try:
        await bot.db.open()
        await bot.db.migrate()
        await fill_page_caches(bot.db)
        filled = sqlite_memory_used()
        await bot.release_memory()  # what the bot does once a minute
        assert filled - sqlite_memory_used() >= PAGE_CACHES_RELEASED
    finally:
        await bot.close()


async def test_a_failed_release_does_not_end_the_once_a_minute_release(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    # The release reaches into discord.py's rate-limit internals and the database's threads once a
    # minute for the bot's whole life: one failure must be logged, not end the loop (memory would
    # then never be handed back again, and nothing would say so).
    monkeypatch.setattr(bot_app, "TRIM_EVERY", 0)
    bot = KindredBot(Config(database_path=tmp_path / "k.sqlite3"), start_scheduler=False)
    calls = 0
    again = asyncio.Event()

    async def release() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        again.set()

    monkeypatch.setattr(bot.db, "release_memory", release)
    trimmer = asyncio.create_task(bot._trim_memory())
    waiting = asyncio.create_task(again.wait())
    try:
        done, _ = await asyncio.wait({trimmer, waiting}, return_when=asyncio.FIRST_COMPLETED)
        assert waiting in done, f"the loop ended: {trimmer.exception()!r}"
        assert any(r.levelno >= logging.WARNING and r.exc_info and r.exc_info[0] is RuntimeError
                   for r in caplog.records)
    finally:
        trimmer.cancel()
        waiting.cancel()
        await bot.close()


def test_crisis_detection_code_loads_only_where_detection_can_run() -> None:
    # The phrase rules' code (detection, its model and normaliser: ~0.5 MiB) serves only bots
    # with the message-content intent; without it no message ever reaches them.
    assert _loaded_after_import(("bot.app", *EXTENSIONS), "bot.domain.crisis.detection") == []
