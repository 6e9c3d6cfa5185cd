"""Foundation end to end: settings, moderator checks, kind errors, closed DMs, restarts, privacy."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.app import KindredBot
from bot.config import Config
from bot.db.database import database_for
from bot.db.outbox import NewOutboxItem
from bot.domain.clock import FakeClock
from bot.domain.messages import OutgoingMessage, SendStatus
from bot.fakediscord import FakeDiscord, FakeDiscordError
from bot.tree import GENERIC_APOLOGY, NEED_MANAGE_GUILD
from tests.e2e.helpers import BotProcess, Community, bot_env, eventually, run_cli, running_kindred


async def test_settings_round_trip_and_show(fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    alice, guild = community.alice, community.guild
    countries = await fake_discord.autocomplete("/settings region", "country", "united k", user=alice, guild=guild)
    assert "GB" in [c["value"] for c in countries]
    for command, options in [
        ("/settings timezone", {"tz": "Asia/Kolkata"}),
        ("/settings region", {"country": "GB"}),
        ("/settings quiet-hours", {"start": "22:00", "end": "07:00"}),
        ("/settings crisis-replies", {"state": "off"}),
        ("/settings share-checkins", {"with": "buddies"}),
    ]:
        reply = await (await fake_discord.slash(command, user=alice, guild=guild, options=options)).reply()
        assert reply.ephemeral, command
    shown = await (await fake_discord.slash("/settings show", user=alice, guild=guild)).reply()
    assert shown.ephemeral
    for expected in ("Asia/Kolkata", "United Kingdom", "22:00–07:00", "Crisis-support DMs: **off**",
                     "shared with: **buddies**"):
        assert expected in shown.text, expected
    # Bob's settings are his own.
    bobs = await (await fake_discord.slash("/settings show", user=community.bob, guild=guild)).reply()
    assert "Asia/Kolkata" not in bobs.text and "UTC" in bobs.text


@pytest.mark.parametrize(
    ("command", "options", "words"),
    [
        ("/settings timezone", {"tz": "GMT+2"}, "time zone"),
        ("/settings quiet-hours", {"start": "10pm", "end": "07:00"}, "24-hour"),
        ("/settings region", {"country": "Atlantis"}, "couldn't find a country"),
    ],
)
async def test_bad_input_gets_a_kind_ephemeral_error_and_changes_nothing(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, command: str,
        options: dict[str, str], words: str) -> None:
    before = await kindred.services.members.get(community.guild.id, community.alice.id)
    reply = await (await fake_discord.slash(command, user=community.alice, guild=community.guild, options=options)).reply()
    assert reply.ephemeral and words in reply.text
    assert "Traceback" not in reply.text
    after = await kindred.services.members.get(community.guild.id, community.alice.id)
    if before is not None and after is not None:
        assert (after.timezone, after.region, after.quiet_start) == (before.timezone, before.region, before.quiet_start)


async def test_config_refused_without_manage_server_accepted_with_it(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    guild = community.guild
    with pytest.raises(FakeDiscordError):
        await fake_discord.slash("/config show", user=community.alice, guild=guild)  # hidden by default permissions
    # A server can override command permissions: the run-time check still refuses.
    refused = await (await fake_discord.slash("/config checkins", user=community.alice, guild=guild, bypass_permissions=True,
                                               channel=community.checkins, time="08:00", timezone="Europe/London")).reply()
    assert refused.ephemeral and refused.text == NEED_MANAGE_GUILD
    assert (await kindred.services.guilds.get(guild.id)) is None or not (await kindred.services.guilds.get(guild.id)).checkin_enabled  # type: ignore[union-attr]
    accepted = await (await fake_discord.slash("/config checkins", user=community.mod, guild=guild,
                                                channel=community.checkins, time="08:00", timezone="Europe/London")).reply()
    assert accepted.ephemeral and "08:00" in accepted.text and "Europe/London" in accepted.text
    shown = await (await fake_discord.slash("/config show", user=community.mod, guild=guild)).reply()
    assert f"<#{community.checkins.id}>" in shown.text and "Europe/London" in shown.text


async def test_unexpected_fault_is_a_generic_apology_with_ids_only_in_logs(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret note text must not be shown")

    monkeypatch.setattr(kindred.services.settings, "set_timezone", broken)
    with caplog.at_level(logging.DEBUG):
        reply = await (await fake_discord.slash("/settings timezone", user=community.alice, guild=community.guild,
                                                 tz="Europe/Paris")).reply()
    assert reply.ephemeral and reply.text == GENERIC_APOLOGY
    failure = [r for r in caplog.records if r.name == "bot.tree"]
    assert failure
    logged = failure[0].getMessage()
    # The operator can find it by server and interaction; the member's id beside the command
    # would be a record of what they did (README, "Logs").
    assert str(community.guild.id) in logged and "interaction=" in logged
    assert str(community.alice.id) not in logged and "secret note text" not in logged


async def test_closed_dms_are_recorded_not_retried_and_explained(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    alice, guild = community.alice, community.guild
    await (await fake_discord.slash("/settings show", user=alice, guild=guild)).reply()
    fake_discord.faults.close_dms(alice)
    outbox = kindred.services.outbox
    first = await outbox.deliver_now(NewOutboxItem("t:1", "test", "dm", alice.id, OutgoingMessage("hello"), guild.id))
    assert first.status is SendStatus.DM_CLOSED
    dm_attempts = len(fake_discord.requests("POST /channels/{channel_id}/messages"))
    second = await outbox.deliver_now(NewOutboxItem("t:2", "test", "dm", alice.id, OutgoingMessage("again"), guild.id))
    assert second.status is SendStatus.DM_CLOSED
    assert len(fake_discord.requests("POST /channels/{channel_id}/messages")) == dm_attempts, "retried a closed DM"
    shown = await (await fake_discord.slash("/settings show", user=alice, guild=guild)).reply()
    assert "DMs are closed" in shown.text
    # Using the bot lifted the mark: the next DM is tried again (and now arrives).
    fake_discord.faults.open_dms(alice)
    third = await outbox.deliver_now(NewOutboxItem("t:3", "test", "dm", alice.id, OutgoingMessage("welcome back"), guild.id))
    assert third.ok and [m.content for m in fake_discord.dms_to(alice)] == ["welcome back"]


async def test_privacy_info_export_and_confirmed_delete(fake_discord: FakeDiscord, community: Community,
                                                         kindred: KindredBot, clock: FakeClock) -> None:
    alice, bob, guild = community.alice, community.bob, community.guild
    info = await (await fake_discord.slash("/privacy info", user=alice, guild=guild)).reply()
    assert info.ephemeral and "/privacy delete" in info.text
    nothing = await (await fake_discord.slash("/privacy delete", user=alice, guild=guild)).reply()
    assert "nothing stored" in nothing.text

    await (await fake_discord.slash("/settings timezone", user=alice, guild=guild, tz="Europe/Berlin")).reply()
    export = await (await fake_discord.slash("/privacy export", user=alice, guild=guild)).reply()
    assert export.ephemeral and len(export.attachments) == 1
    document = json.loads(export.attachments[0].data)
    assert document["format"] == "kindred-export/1"
    assert document["tables"]["members"][0]["timezone"] == "Europe/Berlin"

    stale = await (await fake_discord.slash("/privacy delete", user=alice, guild=guild)).reply()
    clock.advance(timedelta(minutes=6))
    expired = await (await fake_discord.click(stale, user=alice)).reply()
    assert expired.ephemeral and "expired" in expired.text
    assert await kindred.services.members.get(guild.id, alice.id) is not None

    ask = await (await fake_discord.slash("/privacy delete", user=alice, guild=guild)).reply()
    assert ask.ephemeral and ask.custom_ids == ["kindred:privacy:confirm-delete"]
    # The button acts only for the member who asked (a click by anyone else is refused at service
    # level: tests/services/test_privacy.py); Bob, who asked nothing, keeps his data.
    await (await fake_discord.slash("/settings show", user=bob, guild=guild)).reply()
    done = await (await fake_discord.click(ask, user=alice)).reply()
    assert done.ephemeral and "deleted" in done.text
    assert await kindred.services.members.get(guild.id, alice.id) is None
    assert await kindred.services.members.get(guild.id, bob.id) is not None


@pytest.mark.slow
async def test_sigterm_then_restart_keeps_settings(fake_discord: FakeDiscord, community: Community,
                                                   bot_process: object, tmp_path: Path) -> None:
    code, output = await run_cli("sync", env=bot_env(fake_discord, tmp_path / "kindred.sqlite3"))
    assert code == 0, output
    first: BotProcess = await bot_process()  # type: ignore[operator]
    set_tz = await fake_discord.slash("/settings timezone", user=community.alice, guild=community.guild,
                                      tz="Pacific/Chatham")
    assert "Pacific/Chatham" in (await set_tz.reply()).text
    assert await first.stop() == 0
    assert "shut down cleanly" in first.output and "Traceback" not in first.output

    second: BotProcess = await bot_process()  # type: ignore[operator]
    shown = await (await fake_discord.slash("/settings show", user=community.alice, guild=community.guild)).reply()
    assert "Pacific/Chatham" in shown.text
    assert await second.stop() == 0


async def test_a_server_that_removed_the_bot_while_it_was_offline_is_marked_left_at_ready(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock) -> None:
    other = fake_discord.add_guild("Second Circle")

    async def left_at(bot: KindredBot) -> list[datetime | None | str]:
        """Each server's `left_at`, or "unknown" until on_ready (a listener task) has recorded it."""
        rows = [await bot.services.guilds.get(g.id) for g in (community.guild, other)]
        return ["unknown" if row is None else row.left_at for row in rows]

    async with running_kindred(fake_discord, kindred_config, clock=clock, sync=False) as bot:
        assert await eventually(lambda: left_at(bot), lambda v: "unknown" not in v) == [None, None]
    fake_discord.world.guilds.pop(other.id)  # removed from the server while Kindred was offline: no GUILD_DELETE
    clock.advance(timedelta(hours=1))
    async with running_kindred(fake_discord, kindred_config, clock=clock, sync=False) as bot:
        # The retention clock starts when Kindred noticed (its data is purged after left_guild_days).
        assert await eventually(lambda: left_at(bot), lambda v: v[1] is not None) == [None, clock.now()]


async def test_shutdown_lets_a_running_sweep_finish_its_transaction_before_closing_the_database(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from bot.services.checkins import CheckInService

    inside, release = asyncio.Event(), asyncio.Event()

    async def slow_sweep(self: CheckInService, now: datetime) -> int:
        async with self.db.transaction() as conn:  # a sweep in the middle of its transaction
            inside.set()
            await release.wait()
            await conn.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (4242, '2026-11-21', '2026-11-21')")
        return 0

    monkeypatch.setattr(CheckInService, "sweep_prompts", slow_sweep)
    async with running_kindred(fake_discord, kindred_config, clock=clock, sync=False, start_scheduler=True) as bot:
        await asyncio.wait_for(inside.wait(), 10)
        closing = asyncio.create_task(bot.close())  # SIGTERM arrives now
        await asyncio.sleep(0.2)
        assert not closing.done(), "close() must wait for the sweep in flight"
        release.set()
        await asyncio.wait_for(closing, 15)
    async with database_for(kindred_config) as db:  # what the sweep committed is there, on either engine
        assert await db.fetch_value("SELECT 1 FROM guilds WHERE guild_id = 4242") == 1
    trouble = [r.getMessage() for r in caplog.records
               if r.levelno >= logging.ERROR or "checkpoint" in r.getMessage() or "still running" in r.getMessage()]
    assert not trouble, trouble
