"""Logs carry ids only: canary strings sent through every text-bearing command never reach a log.

Runs the real `python -m bot run` at DEBUG (its own logging set-up, not the test's), sends
canary notes, counter names, descriptions and chat through the loopback server, then scans
everything the process wrote. Libraries that log payloads at DEBUG (discord.py's gateway,
aiosqlite) are capped by `bot.logging_setup`; this test is what proves it. It runs in both
log formats; with KINDRED_LOG_FORMAT=json every line the process wrote must be one JSON
object, and lines logged while handling an interaction carry its ids as fields.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.fakediscord import FakeDiscord
from tests.e2e.helpers import BotProcess, Community, bot_env, run_cli

CANARY_NOTE = "zqxnote7 my private note"
CANARY_COUNTER = "zqxcounter7"
CANARY_DESCRIPTION = "zqxdescr7 cake day"
CANARY_CHAT = "zqxchat7 I want to die tonight"
CANARY_ALERT = "zqxalert7 please check on me"
CANARY_RESOURCE = "zqxresource7 helpline"
CANARY_PLAN = "zqxplan7 call my sponsor"
CANARIES = ("zqxnote7", "zqxcounter7", "zqxdescr7", "zqxchat7", "zqxalert7", "zqxresource7", "zqxplan7")


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_debug_logs_never_contain_member_text(fake_discord: FakeDiscord, community: Community,
                                                    bot_process: object, tmp_path: Path, log_format: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[crisis]\ndetection_intent = true\n")
    env = {"KINDRED_LOG_LEVEL": "DEBUG", "KINDRED_CONFIG": str(config), "KINDRED_LOG_FORMAT": log_format}
    code, output = await run_cli("sync", env=bot_env(fake_discord, tmp_path / "kindred.sqlite3", **env))
    assert code == 0, output
    proc: BotProcess = await bot_process(**env)  # type: ignore[operator]
    alice, mod, guild = community.alice, community.mod, community.guild

    async def run(command: str, user: object = alice, **options: object) -> None:
        handle = await fake_discord.slash(command, user=user, guild=guild, options=options)  # type: ignore[arg-type]
        await handle.reply()

    await run("/config checkins", mod, channel=community.checkins, time="09:00", timezone="Europe/London")
    await run("/config milestones add", mod, days=5, description=CANARY_DESCRIPTION)
    await run("/config alerts", mod, channel=community.alerts)
    await run("/config crisis", mod, detection="on", region="GB")
    await run("/config resources add", mod, country="GB", name=CANARY_RESOURCE, contact="0800 123 4567")
    await run("/checkin", mood=2, craving=7, note=CANARY_NOTE)
    # The plan: written in the form, shown, offered after a hard check-in and by /urge, shown by /crisis.
    await (await fake_discord.slash("/plan edit", user=alice, guild=guild)).modal()
    await (await fake_discord.submit_modal("kindred:plan:modal", {
        part: f"{CANARY_PLAN} ({part})" for part in ("warning_signs", "triggers", "coping", "people", "reasons")},
        user=alice)).reply()
    await run("/plan show")
    await run("/checkin", mood=1, craving=9)
    await run("/urge", strength=9, minutes=5)
    await fake_discord.wait_for(lambda: fake_discord.dms_to(alice), what="the urge's first DM")
    await run("/recovery start", date="2026-01-01", name=CANARY_COUNTER, visibility="private")
    await run("/recovery show", name=CANARY_COUNTER)
    await run("/recovery slip", name=CANARY_COUNTER)
    await run("/recovery history", name=CANARY_COUNTER)
    await run("/recovery settings", name=CANARY_COUNTER, celebrate="dm")
    await run("/mystats")
    await run("/privacy export")
    await run("/alertmods", message=CANARY_ALERT)
    await run("/crisis")
    await fake_discord.say(community.general, CANARY_CHAT, user=alice)
    # Detection ran: the moderators were alerted (without the text) before we stop.
    await fake_discord.wait_for(lambda: len(fake_discord.messages_in(community.alerts)) >= 2, what="detection alert")
    assert all("zqxchat7" not in m.text for m in fake_discord.messages_in(community.alerts))
    await run("/recovery remove", name=CANARY_COUNTER)
    await run("/settings show")
    assert await proc.stop() == 0
    logged = proc.output
    assert "DEBUG" in logged, "the bot did not log at DEBUG: the test would prove nothing"
    leaked = [c for c in CANARIES if c in logged]
    assert leaked == [], f"member text reached the logs: {leaked}"
    if log_format == "json":
        records = []
        for line in proc.lines:
            try:
                record = json.loads(line)
            except ValueError:
                raise AssertionError(f"not a JSON line: {line!r}") from None
            assert isinstance(record, dict) and {"time", "level", "logger", "message"} <= record.keys(), line
            records.append(record)
        assert {r["level"] for r in records} >= {"DEBUG", "INFO"}
        assert any(r["level"] == "DEBUG" and r.get("interaction") for r in records)
        assert any(r["logger"].startswith("discord.") for r in records), "library loggers go through it too"
        handled = [r for r in records if r.get("interaction") and r.get("guild_id") == guild.id]
        assert any("check-in recorded" in r["message"] for r in handled), "a command's lines carry its ids"
    else:
        assert not any(line.lstrip().startswith("{") for line in proc.lines)
