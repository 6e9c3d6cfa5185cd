"""The e2e fixtures themselves: Kindred in-process and as a subprocess, against the fake server."""

from __future__ import annotations

import pytest

from bot.fakediscord import FakeDiscord, FakeDiscordError
from tests.e2e.helpers import BotProcess, Community, bot_env, run_cli


async def test_kindred_is_ready_with_commands_synced(fake_discord: FakeDiscord, community: Community, kindred: object) -> None:
    names = {c["name"] for c in fake_discord.commands()}
    assert {"settings", "config"} <= names
    assert len(fake_discord.gateway.received(2)) == 1


async def test_slash_and_autocomplete_through_kindred(fake_discord: FakeDiscord, community: Community, kindred: object) -> None:
    choices = await fake_discord.autocomplete("/settings timezone", "tz", "Europe/Lon", user=community.alice, guild=community.guild)
    assert "Europe/London" in [c["value"] for c in choices]
    h = await fake_discord.slash("/settings timezone", user=community.alice, guild=community.guild, tz="Europe/London")
    reply = await h.reply()
    assert reply.ephemeral and "Europe/London" in reply.text


async def test_config_is_hidden_from_members_and_checked_at_run_time(fake_discord: FakeDiscord, community: Community, kindred: object) -> None:
    with pytest.raises(FakeDiscordError, match="hides /config"):
        await fake_discord.slash("/config show", user=community.alice, guild=community.guild)
    h = await fake_discord.slash("/config show", user=community.alice, guild=community.guild, bypass_permissions=True)
    refused = await h.reply()
    assert refused.ephemeral
    shown = await (await fake_discord.slash("/config show", user=community.mod, guild=community.guild)).reply()
    assert shown.ephemeral and shown.text != refused.text


async def test_kindred_resumes_after_a_dropped_connection(fake_discord: FakeDiscord, community: Community, kindred: object) -> None:
    async with fake_discord.outage("close"):
        missed = await fake_discord.slash("/settings show", user=community.alice, guild=community.guild)
    assert (await missed.reply()).ephemeral
    assert len(fake_discord.gateway.received(2)) == 1


@pytest.mark.slow
async def test_subprocess_sync_run_and_sigterm(fake_discord: FakeDiscord, community: Community, bot_process: object, tmp_path: object) -> None:
    code, output = await run_cli("sync", "--guild", str(community.guild.id), env=bot_env(fake_discord, tmp_path / "kindred.sqlite3"))  # type: ignore[operator]
    assert code == 0, output
    assert {"settings", "config"} <= {c["name"] for c in fake_discord.commands(community.guild)}
    assert fake_discord.commands() == []  # a guild sync leaves global commands alone

    proc: BotProcess = await bot_process()  # type: ignore[operator]
    h = await fake_discord.slash("/settings show", user=community.alice, guild=community.guild)
    assert (await h.reply()).ephemeral
    assert await proc.stop() == 0
    assert "Traceback" not in proc.output
