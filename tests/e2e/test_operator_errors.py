"""Operator mistakes and a missing network at start: one line each, never a traceback."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from bot.config import Config
from bot.fakediscord import FakeDiscord
from tests.e2e.helpers import (
    BotProcess,
    Community,
    bot_env,
    build_community,
    run_cli,
    running_kindred,
)


@pytest.mark.parametrize("command", ["sync", "run"])
async def test_a_wrong_token_is_one_line_and_exit_2(fake_discord: FakeDiscord, community: Community,
                                                    tmp_path: Path, command: str) -> None:
    env = bot_env(fake_discord, tmp_path / "kindred.sqlite3", DISCORD_TOKEN="not-the-token")
    code, output = await run_cli(command, env=env)
    assert code == 2, output
    assert "Traceback" not in output
    [line] = [line for line in output.splitlines() if "rejected the token" in line]
    assert "DISCORD_TOKEN" in line


@pytest.mark.slow
async def test_run_waits_for_the_network_at_start_and_says_so(tmp_path: Path) -> None:
    fake = await FakeDiscord().start()
    build_community(fake)
    port = fake.port
    await fake.stop()  # the network is down when the bot starts
    proc = BotProcess(fake, bot_env(fake, tmp_path / "kindred.sqlite3"))
    await proc.start()
    try:
        await fake.wait_for(lambda: proc.output.count("retrying in") >= 2 or proc.returncode is not None, 30,
                            "two retries")
        assert proc.returncode is None, proc.output
        await fake.start(port=port)  # the network is back
        await proc.wait_ready()
    finally:
        await proc.stop()
        await fake.stop()
    waits = [line for line in proc.output.splitlines() if "can't reach Discord" in line]
    assert len(waits) >= 2 and all("retrying in" in line and f"127.0.0.1:{port}" in line for line in waits)
    # (What a stop right after start prints belongs to shutdown, not to waiting for the network.)
    start = proc.output.split("connected as", 1)[0]
    assert "Traceback" not in start, start


NO_COMMANDS = "no slash commands are registered"


async def test_run_says_once_when_no_commands_are_registered(fake_discord: FakeDiscord, community: Community,
                                                             kindred_config: Config,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.app")
    async with running_kindred(fake_discord, kindred_config, sync=False):
        await fake_discord.wait_for_request("GET /applications/{application_id}/commands")
        await fake_discord.wait_for(lambda: any(NO_COMMANDS in r.getMessage() for r in caplog.records), 5,
                                    "the warning")
    [warning] = [r.getMessage() for r in caplog.records if NO_COMMANDS in r.getMessage()]
    assert "python -m bot sync" in warning


async def test_no_warning_once_commands_are_synced(fake_discord: FakeDiscord, community: Community,
                                                   kindred_config: Config, caplog: pytest.LogCaptureFixture) -> None:
    async with running_kindred(fake_discord, kindred_config, sync=True):
        pass  # registers the commands, as `python -m bot sync` does
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="bot.app")
    # The start-up notice goes out after the check, so once it is there the check is done.
    ops = community.guild.channel("general")
    config = dataclasses.replace(kindred_config, bot=dataclasses.replace(kindred_config.bot, ops_channel_id=ops.id))
    async with running_kindred(fake_discord, config, sync=False):
        await fake_discord.wait_for(lambda: fake_discord.messages_in(ops), 10, "the start-up notice")
    assert fake_discord.requests("GET /applications/{application_id}/commands")
    assert not [r for r in caplog.records if NO_COMMANDS in r.getMessage()]
