"""Slash commands, autocomplete, buttons and modals through real discord.py against the fake."""

from __future__ import annotations

import asyncio

import pytest

from bot.fakediscord import FakeDiscord, FakeDiscordError, Guild, User
from tests.harness.minibot import MiniBot, running


async def test_sync_stores_schemas_with_ids(fake: FakeDiscord, mini: MiniBot) -> None:
    names = {c["name"] for c in fake.commands()}
    assert {"ping", "echo", "settings", "admin", "slow", "peek", "panel", "export", "dm", "twice"} <= names
    assert all(c["id"].isdigit() and c["application_id"] == str(fake.application_id) for c in fake.commands())
    fetched = await mini.tree.fetch_commands()
    assert {c.name for c in fetched} == names


async def test_guild_sync_is_separate_from_global(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    mini.tree.copy_global_to(guild=guild)
    await mini.tree.sync(guild=guild)
    assert {c["name"] for c in fake.commands(guild)} == {c["name"] for c in fake.commands()}
    assert all(c["guild_id"] == str(guild.id) for c in fake.commands(guild))


async def test_slash_with_every_option_type_and_ephemeral_reply(fake: FakeDiscord, guild: Guild, alice: User, mod: User, mini: MiniBot) -> None:
    helpers = fake.add_role(guild, "Helpers")
    h = await fake.slash("/echo", user=alice, guild=guild, text="hi", count=3, flag=True, who=mod,
                         where=guild.channel("check-ins"), role=helpers, ratio=0.5)
    reply = await h.reply()
    assert reply.content == ("text=hi count=3 flag=True who=mod manage=True where=check-ins role=Helpers ratio=0.5 "
                             "caller_manage=False app_send=True")
    assert reply.ephemeral
    assert fake.messages_in(guild.channel("general")) == []  # ephemeral replies are not in the channel
    assert fake.ephemeral_replies(alice) == [reply]


async def test_public_reply_is_in_the_channel(fake: FakeDiscord, guild: Guild, alice: User, mod: User, mini: MiniBot) -> None:
    h = await fake.slash("/echo", user=alice, guild=guild, text="x", count=1, flag=False, who=alice,
                         where=guild.channel("general"), role=guild.everyone, ratio=1, public=True)
    reply = await h.reply()
    assert not reply.ephemeral
    assert fake.messages_in(guild.channel("general")) == [reply]


async def test_subcommand_group_and_choices(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    h = await fake.slash("/settings quiet set", user=alice, guild=guild, start="22:00", level="strict")
    assert (await h.reply()).content == "quiet from 22:00 (strict)"
    with pytest.raises(FakeDiscordError, match="only accepts the choices"):
        await fake.slash("/settings quiet set", user=alice, guild=guild, start="22:00", level="loud")


@pytest.mark.parametrize(
    ("command", "options", "message"),
    [
        ("/pingg", {}, "no slash command /pingg"),
        ("/settings tz", {"tz": "UTC"}, "has no subcommand 'tz'"),
        ("/settings", {}, "needs a subcommand"),
        ("/settings timezone", {"zone": "UTC"}, "unknown option"),
        ("/settings timezone", {}, "'tz' is required"),
        ("/echo", {"text": 1}, "is a string"),
    ],
)
async def test_mistakes_in_tests_fail_loudly(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot, command: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(FakeDiscordError, match=message):
        await fake.slash(command, user=alice, guild=guild, options=options)


async def test_default_member_permissions_hide_the_command(fake: FakeDiscord, guild: Guild, alice: User, mod: User, mini: MiniBot) -> None:
    with pytest.raises(FakeDiscordError, match="hides /admin"):
        await fake.slash("/admin", user=alice, guild=guild)
    assert (await (await fake.slash("/admin", user=mod, guild=guild)).reply()).content == "admin ok"
    # A server may override command permissions; the bot's run-time check still applies.
    bypass = await fake.slash("/admin", user=alice, guild=guild, bypass_permissions=True)
    assert (await bypass.reply()).content == "you need Manage Server"


async def test_guild_only_command_is_not_offered_in_dms(fake: FakeDiscord, alice: User, mini: MiniBot) -> None:
    with pytest.raises(FakeDiscordError, match="not available in DMs"):
        await fake.slash("/admin", user=alice)
    h = await fake.slash("/ping", user=alice)  # in the DM with the bot: `user`, not `member`
    reply = await h.reply()
    assert reply.content == "pong" and reply.channel.is_dm
    assert "user" in h.payload() and "member" not in h.payload()


async def test_defer_then_followups(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    h = await fake.slash("/slow", user=alice, guild=guild)
    first, second = await h.reply(0), await h.reply(1)
    assert h.deferred
    assert (first.content, first.ephemeral) == ("done (followup)", True)
    assert first is h.original  # the first follow-up fills the "thinking" message
    assert (second.content, second.ephemeral) == ("and one more", True)


async def test_defer_then_edit_original(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    h = await fake.slash("/slow", user=alice, guild=guild, edit=True)
    assert (await h.reply()).content == "done (edited)"
    assert (await h.reply(1)).content == "and one more"


async def test_autocomplete_returns_the_bots_choices(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    choices = await fake.autocomplete("/settings timezone", "tz", "Europe/L", user=alice, guild=guild)
    assert [c["value"] for c in choices] == ["Europe/London", "Europe/Lisbon"]
    with pytest.raises(FakeDiscordError, match="no autocomplete"):
        await fake.autocomplete("/settings quiet set", "start", "2", user=alice, guild=guild)


async def test_button_click_then_modal_submit(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    await (await fake.slash("/panel", user=alice, guild=guild)).reply()
    panel = (await fake.wait_for(lambda: fake.find_messages("mini:hello")))[0]
    assert panel.custom_ids == ["mini:hello", "mini:feedback", "mini:later", "mini:done"]
    assert panel in fake.messages_in(guild.channel("general"))

    hello = await fake.click("mini:hello", user=alice)
    assert (await hello.reply()).content == "hello alice"

    opened = await fake.click(panel, custom_id="mini:feedback", user=alice)
    modal = await opened.modal()
    assert modal["custom_id"] == "mini:feedback:modal" and modal["title"] == "How are you?"
    with pytest.raises(FakeDiscordError, match="has no input"):
        await fake.submit_modal("mini:feedback:modal", {"mod": "4"}, user=alice)
    submitted = await fake.submit_modal("mini:feedback:modal", {"mood": "4"}, user=alice)
    assert (await submitted.reply()).content == "mood=4 note=''"
    with pytest.raises(FakeDiscordError, match="no modal"):
        await fake.submit_modal("mini:feedback:modal", {"mood": "4"}, user=alice)


async def test_button_updates_its_message(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    await (await fake.slash("/panel", user=alice, guild=guild)).reply()
    panel = (await fake.wait_for(lambda: fake.find_messages("mini:done")))[0]
    h = await fake.click(panel, custom_id="mini:done", user=alice)
    assert await h.acknowledged() == 7
    assert (await h.reply()) is panel
    assert panel.content == "closed" and panel.custom_ids == [] and panel.history[0]["content"] == "Panel"


async def test_deferred_update_then_edit_original_edits_the_clicked_message(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    await (await fake.slash("/panel", user=alice, guild=guild)).reply()
    panel = (await fake.wait_for(lambda: fake.find_messages("mini:later")))[0]
    h = await fake.click(panel, custom_id="mini:later", user=alice)
    assert await h.acknowledged() == 6
    assert (await h.reply()) is panel and panel.content == "updated later"


async def test_original_response_can_be_read_back(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    h = await fake.slash("/peek", user=alice, guild=guild)
    assert (await h.reply(1)).content == "original=first ephemeral=True"
    assert fake.requests("GET /webhooks/{application_id}/{token}/messages/{message_id}")[0].status == 200


async def test_late_callbacks_are_refused_when_the_deadline_is_on(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    fake.interaction_deadline = 0.0  # Discord's is 3 s; off (None) by default so slow CI machines do not flake
    h = await fake.slash("/ping", user=alice, guild=guild)
    refused = await fake.wait_for_request("POST /interactions/{interaction_id}/{token}/callback")
    assert (refused.status, refused.response["code"]) == (404, 10062)
    assert h.callback_type is None and h.replies == []


async def test_ephemeral_message_buttons_are_only_clickable_by_their_owner(fake: FakeDiscord, guild: Guild, alice: User, mod: User, mini: MiniBot) -> None:
    await (await fake.slash("/panel", user=alice, guild=guild)).reply()
    await fake.wait_for(lambda: fake.find_messages("mini:hello"))
    h = await fake.click("mini:hello", user=mod)  # the panel itself is public
    assert (await h.reply()).content == "hello mod"


async def test_persistent_view_survives_a_client_restart(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    await (await fake.slash("/panel", user=alice, guild=guild)).reply()
    await fake.wait_for(lambda: fake.find_messages("mini:hello"))
    await mini.close()
    # discord.py's close() sends close code 4000, so (as on Discord) the old session stays resumable.
    await fake.wait_for(lambda: not fake.gateway.connected_sessions, what="the old connection to close")
    async with running(fake) as second:
        assert second is not mini
        h = await fake.click("mini:hello", user=alice)
        assert (await h.reply()).content == "hello alice"


async def test_unanswered_interaction_times_out_with_a_useful_message(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    h = await fake.slash("/ping", user=alice, guild=guild)
    await h.reply()
    with pytest.raises(TimeoutError, match="no visible reply #1"):
        await h.reply(1, timeout=0.05)


async def test_slash_without_a_connected_bot_fails(fake: FakeDiscord, guild: Guild, alice: User) -> None:
    fake.world.global_commands.append({"id": "1", "name": "ping", "type": 1, "options": []})
    with pytest.raises(FakeDiscordError, match="no bot session"):
        await fake.slash("/ping", user=alice, guild=guild)


async def test_concurrent_interactions(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    handles = await asyncio.gather(*(fake.slash("/ping", user=alice, guild=guild) for _ in range(20)))
    replies = await asyncio.gather(*(h.reply() for h in handles))
    assert [r.content for r in replies] == ["pong"] * 20
